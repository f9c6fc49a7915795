/* Base64 decoding.  Input from the network: pure and bounded. */
#include "config.h"

#include <string.h>

#include "base64.h"

static int
b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long
base64_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	size_t		 i, o = 0, pad = 0;
	unsigned long	 acc = 0;
	int		 v, bits = 0;

	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (in[i] == '=') {
			if (i < len - 2)
				return -1;
			pad++;
			continue;
		}
		if (pad > 0 || (v = b64val(in[i])) == -1)
			return -1;
		acc = (acc << 6) | (unsigned long)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outlen)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1UL << bits) - 1;
		}
	}
	if (pad > 2 || (acc != 0))
		return -1;		/* leftover bits must be zero */
	return (long)o;
}
