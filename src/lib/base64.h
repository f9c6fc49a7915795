/* Base64 (RFC 4648) decoding, for SASL responses. */
#ifndef BASE64_H
#define BASE64_H

#include <stddef.h>

/*
 * Decodes len bytes of base64 into out (at most outlen bytes).  Returns
 * the decoded length, or -1 on a bad character, bad padding or no room.
 */
long	base64_decode(const char *in, size_t len, unsigned char *out,
	    size_t outlen);

#endif
