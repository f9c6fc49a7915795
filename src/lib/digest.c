/*
 * Digests from libcrypto, loaded on first use.  Where the library still
 * exports them (OpenSSL 1.1 and 3), the one-algorithm functions
 * SHA256_Init/Update/Final and MD5_* are used: they need no provider, and
 * OpenSSL 3's provider set-up is what made a POP3 session that hashes new
 * mail peak about 2 MB higher (measured: 5.0 MB against 3.2 MB for
 * dlopen plus one SHA-256).  Otherwise the EVP interface, each algorithm
 * fetched once (EVP_MD_fetch) and kept: the implicit fetch of
 * EVP_DigestInit_ex(..., EVP_sha256(), ...) takes locks and a lookup per
 * call, which was 6% of a POP3 login with 10,000 messages.
 */
#include "config.h"

#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/opensslv.h>

#include "digest.h"

#define DIGEST_STR1(x)	#x
#define DIGEST_STR(x)	DIGEST_STR1(x)
#ifdef OPENSSL_SHLIB_VERSION		/* OpenSSL 3: "libcrypto.so.3" */
#define DIGEST_LIBCRYPTO "libcrypto.so." DIGEST_STR(OPENSSL_SHLIB_VERSION)
#else					/* 1.1: "libcrypto.so.1.1" */
#define DIGEST_LIBCRYPTO "libcrypto.so." SHLIB_VERSION_NUMBER
#endif

static struct {
	int	 tried, ok;
	__typeof__(&EVP_MD_CTX_new)	 ctx_new;
	__typeof__(&EVP_MD_CTX_free)	 ctx_free;
	__typeof__(&EVP_get_digestbyname) byname;
	__typeof__(&EVP_DigestInit_ex)	 init;
	__typeof__(&EVP_DigestUpdate)	 update;
	__typeof__(&EVP_DigestFinal_ex)	 final;
#ifdef OPENSSL_SHLIB_VERSION
	__typeof__(&EVP_MD_fetch)	 fetch;
#endif
	const EVP_MD			*md[2];
} lc;

static const char *const digest_names[] = { "SHA256", "MD5" };

/* The one-algorithm functions, by name; the context is opaque to us. */
#define DIGEST_CTXMAX	512	/* > sizeof(SHA256_CTX), sizeof(MD5_CTX) */
static struct {
	int	(*init)(void *);
	int	(*update)(void *, const void *, size_t);
	int	(*final)(unsigned char *, void *);
	int	 len;
} lo[2];
static const char *const lo_names[2][3] = {
	{ "SHA256_Init", "SHA256_Update", "SHA256_Final" },
	{ "MD5_Init", "MD5_Update", "MD5_Final" }
};
static const int lo_len[2] = { 32, 16 };

/* dlsym() into a function pointer of the right type. */
#define DIGEST_SYM(h, field, name) \
	((lc.field = (__typeof__(lc.field))dlsym((h), (name))) != NULL)

static int
digest_load(void)
{
	void	*h;
	int	 i;

	if (lc.tried)
		return lc.ok ? 0 : -1;
	lc.tried = 1;
	if ((h = dlopen(DIGEST_LIBCRYPTO, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return -1;
	if (!DIGEST_SYM(h, ctx_new, "EVP_MD_CTX_new") ||
	    !DIGEST_SYM(h, ctx_free, "EVP_MD_CTX_free") ||
	    !DIGEST_SYM(h, byname, "EVP_get_digestbyname") ||
	    !DIGEST_SYM(h, init, "EVP_DigestInit_ex") ||
	    !DIGEST_SYM(h, update, "EVP_DigestUpdate") ||
	    !DIGEST_SYM(h, final, "EVP_DigestFinal_ex"))
		return -1;		/* the handle stays: nothing to undo */
#ifdef OPENSSL_SHLIB_VERSION
	(void)DIGEST_SYM(h, fetch, "EVP_MD_fetch");
#endif
	for (i = 0; i < 2; i++) {
		*(void **)&lo[i].init = dlsym(h, lo_names[i][0]);
		*(void **)&lo[i].update = dlsym(h, lo_names[i][1]);
		*(void **)&lo[i].final = dlsym(h, lo_names[i][2]);
		lo[i].len = lo[i].init && lo[i].update && lo[i].final ?
		    lo_len[i] : 0;
	}
	lc.ok = 1;
	return 0;
}

static const EVP_MD *
digest_md(enum digest_alg alg)
{
	if ((size_t)alg >= sizeof(lc.md) / sizeof(lc.md[0]))
		return NULL;
	if (lc.md[alg] != NULL)
		return lc.md[alg];
#ifdef OPENSSL_SHLIB_VERSION
	if (lc.fetch != NULL)
		lc.md[alg] = lc.fetch(NULL, digest_names[alg], NULL);
#endif
	if (lc.md[alg] == NULL)
		lc.md[alg] = lc.byname(digest_names[alg]);
	return lc.md[alg];
}

int
digest_init(struct digest *d, enum digest_alg alg)
{
	const EVP_MD	*md;

	if (digest_load() == -1 || (size_t)alg >= 2)
		return -1;
	if (d->ctx != NULL && d->low != (lo[alg].len > 0))
		digest_free(d);
	d->alg = alg;
	if (lo[alg].len > 0) {
		d->low = 1;
		if (d->ctx == NULL && (d->ctx = malloc(DIGEST_CTXMAX)) == NULL)
			return -1;
		return lo[alg].init(d->ctx) == 1 ? 0 : -1;
	}
	d->low = 0;
	if ((md = digest_md(alg)) == NULL)
		return -1;
	if (d->ctx == NULL && (d->ctx = lc.ctx_new()) == NULL)
		return -1;
	return lc.init(d->ctx, md, NULL) == 1 ? 0 : -1;
}

int
digest_update(struct digest *d, const void *p, size_t n)
{
	if (d->low)
		return lo[d->alg].update(d->ctx, p, n) == 1 ? 0 : -1;
	return lc.update(d->ctx, p, n) == 1 ? 0 : -1;
}

int
digest_final(struct digest *d, unsigned char *out)
{
	unsigned int	len = 0;

	if (d->low)
		return lo[d->alg].final(out, d->ctx) == 1 ? lo[d->alg].len : -1;
	return lc.final(d->ctx, out, &len) == 1 ? (int)len : -1;
}

void
digest_free(struct digest *d)
{
	if (d->ctx != NULL && d->low)
		free(d->ctx);
	else if (d->ctx != NULL)
		lc.ctx_free(d->ctx);
	d->ctx = NULL;
}

void
digest_hex(const unsigned char *p, size_t n, char *out)
{
	static const char	hex[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 0x0f];
	}
	out[2 * n] = '\0';
}
