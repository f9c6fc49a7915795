/*
 * Fuzz target for the mboxrd quoting machine (src/lib/mbox.c):
 * mboxrd_init(), mboxrd_feed(), mboxrd_flush().  ctl[0] and ctl[1] seed
 * the piece sizes; the rest is a message.  Each feed gets an output buffer
 * of exactly the documented 2 * n + 8 bytes, and whatever the pieces, the
 * result must be the message with one '>' put before every line that is
 * ">*From " (any number of '>').
 */
#include "config.h"

#include <sys/types.h>

#include "mbox.h"
#include "fuzz.h"

/* The message, quoted line by line. */
static size_t
model(const uint8_t *s, size_t len, uint8_t *out)
{
	size_t	i = 0, o = 0, k, eol;

	while (i < len) {
		for (eol = i; eol < len && s[eol] != '\n'; eol++)
			;
		eol = eol < len ? eol + 1 : len;	/* with its LF */
		for (k = i; k < eol && s[k] == '>'; k++)
			;
		if (eol - k >= 5 &&
		    memcmp(s + k, "From ", 5) == 0)
			out[o++] = '>';
		memcpy(out + o, s + i, eol - i);
		o += eol - i;
		i = eol;
	}
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mboxrd	 q;
	const uint8_t	*s;
	uint8_t		*got, *want;
	char		*out;
	size_t		 len, pos = 0, k, n, glen = 0, wlen, outlen;
	unsigned	 seed;

	if (size < 2)
		return 0;
	seed = (unsigned)data[0] << 8 | data[1];
	s = data + 2;
	len = size - 2;
	/* one '>' per line at most, so output < 2 * len + 1 */
	if ((got = malloc(2 * len + 8)) == NULL ||
	    (want = malloc(2 * len + 1)) == NULL)
		abort();
	mboxrd_init(&q);
	while (pos < len) {
		seed = seed * 1103515245u + 12345u;
		k = (seed >> 16) % 4 == 0 ? 1 + (seed >> 18) % 2048 :
		    1 + (seed >> 18) % 8;
		if (k > len - pos)
			k = len - pos;
		outlen = 2 * k + 8;
		out = fuzz_exact(outlen);
		n = mboxrd_feed(&q, (const char *)s + pos, k, out);
		FUZZ_CHECK(n <= outlen);
		FUZZ_CHECK(glen + n <= 2 * len + 8);
		memcpy(got + glen, out, n);
		glen += n;
		free(out);
		pos += k;
	}
	outlen = 8;
	out = fuzz_exact(outlen);
	n = mboxrd_flush(&q, out, outlen);
	FUZZ_CHECK(n <= outlen);
	memcpy(got + glen, out, n);
	glen += n;
	free(out);
	wlen = model(s, len, want);
	FUZZ_CHECK(glen == wlen && memcmp(got, want, glen) == 0);
	free(got);
	free(want);
	return 0;
}
