/* Base64 (RFC 4648), for SASL. */
#ifndef BASE64_H
#define BASE64_H

#include <stddef.h>

/*
 * Decodes len bytes of base64 into out (at most outlen bytes).  Returns
 * the decoded length, or -1 on a bad character, bad padding or no room.
 */
long	base64_decode(const char *in, size_t len, unsigned char *out,
	    size_t outlen);

/*
 * Encodes len bytes into out (NUL-terminated).  Returns the length, or -1
 * if outlen is too small.
 */
long	base64_encode(const unsigned char *in, size_t len, char *out,
	    size_t outlen);

#endif
