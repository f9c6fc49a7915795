/*
 * Message digests (SHA-256 for POP3 UIDs, MD5 for APOP) from libcrypto,
 * loaded with dlopen() on first use: a process that needs none (a POP3
 * session whose mailbox index is current, a login without APOP) does not
 * map the library, which is larger than all the rest of qpop3d.
 */
#ifndef DIGEST_H
#define DIGEST_H

#include <stddef.h>

#define DIGEST_MAX	64	/* EVP_MAX_MD_SIZE */

enum digest_alg {
	DIGEST_SHA256 = 0,
	DIGEST_MD5
};

struct digest {
	void		*ctx;		/* NULL before digest_init() */
	enum digest_alg	 alg;
	int		 low;		/* ctx is a SHA256_CTX/MD5_CTX, not EVP */
};

/*
 * Starts (or restarts, reusing d->ctx) a digest, loading libcrypto the
 * first time.  Returns 0, or -1 if the library, the algorithm or memory
 * is missing (then d->ctx may be set: digest_free() it).
 */
int	digest_init(struct digest *d, enum digest_alg alg);
/* Adds n bytes.  Returns 0, or -1 (the digest is then unusable). */
int	digest_update(struct digest *d, const void *p, size_t n);
/* Writes the digest to out (DIGEST_MAX bytes of room); returns its length or -1. */
int	digest_final(struct digest *d, unsigned char *out);
void	digest_free(struct digest *d);
/* Hex of n bytes into out (2n + 1 bytes of room, NUL-terminated). */
void	digest_hex(const unsigned char *p, size_t n, char *out);

#endif
