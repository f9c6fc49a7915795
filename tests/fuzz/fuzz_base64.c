/*
 * Fuzz target for base64_decode() (src/lib/base64.c), SASL responses from
 * the network.  ctl[0] is the output size; the rest is decoded into a
 * buffer of exactly that size and compared with a strict RFC 4648 model
 * (padding only at the end, unused bits zero).  The rest is also encoded,
 * by base64_encode() into exactly enough room (and -1 with a byte less)
 * and by the model encoder: the two must agree, and decode back to it.
 */
#include "config.h"

#include "base64.h"
#include "fuzz.h"

static const char	b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
val(char c)
{
	const char	*p;

	return c != '\0' && (p = strchr(b64, c)) != NULL ? (int)(p - b64) : -1;
}

/* The model: the decoded length, or -1. */
static long
model(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	size_t	i, o = 0, pad;
	int	v[4], k;

	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		pad = 0;
		for (k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
			} else if (pad > 0 || (v[k] = val(in[i + k])) == -1)
				return -1;
		}
		if ((pad == 2 && (v[1] & 15) != 0) ||
		    (pad == 1 && (v[2] & 3) != 0))
			return -1;		/* bits past the data */
		if (o + 3 - pad > outlen)
			return -1;
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[o++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		if (pad < 1)
			out[o++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
	}
	return (long)o;
}

static size_t
encode(const uint8_t *in, size_t len, char *out)
{
	size_t		i, o = 0;
	unsigned	v;

	for (i = 0; i < len; i += 3) {
		v = (unsigned)in[i] << 16 | (i + 1 < len ? in[i + 1] << 8 : 0) |
		    (i + 2 < len ? in[i + 2] : 0);
		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64[v & 63] : '=';
	}
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*in;
	unsigned char	*got, *want;
	char		*enc, *copy, *benc;
	size_t		 len, outlen, el;
	long		 r, m;

	if (size < 1)
		return 0;
	outlen = data[0];
	in = (const char *)data + 1;
	len = size - 1;
	got = (unsigned char *)fuzz_exact(outlen);
	want = (unsigned char *)fuzz_exact(outlen);
	r = base64_decode(in, len, got, outlen);
	m = model(in, len, want, outlen);
	FUZZ_CHECK(r == m);
	if (r > 0)
		FUZZ_CHECK(memcmp(got, want, (size_t)r) == 0);
	free(got);
	free(want);

	/* encode, decode: the same bytes, into exactly enough room */
	enc = fuzz_exact((len + 2) / 3 * 4);
	el = encode(data + 1, len, enc);
	benc = fuzz_exact(el + 1);		/* and the NUL */
	FUZZ_CHECK(base64_encode(data + 1, len, benc, el + 1) == (long)el);
	FUZZ_CHECK(benc[el] == '\0' && memcmp(benc, enc, el) == 0);
	FUZZ_CHECK(base64_encode(data + 1, len, benc, el) == -1);
	free(benc);
	copy = fuzz_exact(len);
	FUZZ_CHECK(base64_decode(enc, el, (unsigned char *)copy, len) ==
	    (long)len);
	FUZZ_CHECK(len == 0 || memcmp(copy, in, len) == 0);
	if (len > 0)
		FUZZ_CHECK(base64_decode(enc, el, (unsigned char *)copy,
		    len - 1) == -1);
	free(copy);
	free(enc);
	return 0;
}
