/*
 * Password checking.  Runs in the root parent of qpop3d/qimapd (or as the
 * caller of a private instance); user and password come from the network.
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#ifdef HAVE_CRYPT_H
#include <crypt.h>
#endif
#ifdef HAVE_SHADOW_H
#include <shadow.h>
#endif
#include <unistd.h>

#include "auth.h"
#include "compat.h"
#include "digest.h"
#include "users.h"

/* A hash of the same cost to compare against when the user does not exist. */
static const char auth_dummy[] =
    "$6$inetmailinetmail$6kHFHQq5zoi5yxUdtXa0pSAHn/1Ywv8s4uvXbD3CvM8i6nTf"
    "HIpb1k1vcgE/aDKtb.5OnPWOwZDXrIz6BdAnD1";

/* Compares without an early exit, so timing does not show where they differ. */
static int
auth_equal(const char *a, const char *b)
{
	size_t		la = strlen(a), lb = strlen(b), i;
	unsigned char	d = la != lb;

	for (i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static int
auth_hash(const char *pass, const char *hash)
{
	struct crypt_data	cd;
	const char		*h;

	int			ok;

	memset(&cd, 0, sizeof(cd));
	if (hash[0] == '\0' || hash[0] == '!' || hash[0] == '*') {
		(void)crypt_r(pass, auth_dummy, &cd);	/* a locked account */
		ok = 0;
	} else {
		h = crypt_r(pass, hash, &cd);
		ok = h != NULL && h[0] != '*' && auth_equal(h, hash);
	}
	explicit_bzero(&cd, sizeof(cd));
	return ok;
}

/* The hash of a system user: shadow first, then the passwd field. */
static int
auth_system_hash(const char *user, char *hash, size_t len)
{
	struct passwd	*pw;
#ifdef HAVE_SHADOW_H
	struct spwd	*sp;

	if ((sp = getspnam(user)) != NULL) {
		strlcpy(hash, sp->sp_pwdp, len);
		return 1;
	}
#endif
	errno = 0;
	if ((pw = getpwnam(user)) == NULL)
		return errno == 0 || errno == ENOENT ? 0 : -1;
	strlcpy(hash, pw->pw_passwd, len);
	return 1;
}

static int
auth_file_hash(const char *path, const char *user, char *hash, size_t len)
{
	struct user	 u;
	FILE		*fp;
	char		 line[4096];
	int		 r = 0;

	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	while (r == 0 && fgets(line, sizeof(line), fp) != NULL)
		if (users_parse_line(line, strcspn(line, "\n"), user, &u,
		    hash, len) == 1)
			r = 1;
	explicit_bzero(line, sizeof(line));
	fclose(fp);
	return r;
}

int
auth_check(const char *spec, const char *user, const char *pass)
{
	char	hash[512];
	int	r;

	if (user[0] == '\0' || strchr(user, ':') != NULL ||
	    strchr(user, '/') != NULL)
		r = 0;
	else if (strcmp(spec, "system") == 0)
		r = auth_system_hash(user, hash, sizeof(hash));
	else if (strncmp(spec, "passwd-file:", 12) == 0)
		r = auth_file_hash(spec + 12, user, hash, sizeof(hash));
	else
		r = -1;
	if (r != 1) {
		(void)auth_hash(pass, auth_dummy);	/* same time either way */
		return r;
	}
	r = auth_hash(pass, hash);
	explicit_bzero(hash, sizeof(hash));
	return r;
}

int
auth_apop(const char *path, const char *user, const char *banner,
    const char *digest)
{
	struct digest	 d = { NULL, DIGEST_MD5, 0 };
	unsigned char	 md[DIGEST_MAX];
	char		 line[1024], hex[2 * DIGEST_MAX + 1], *colon;
	size_t		 ul = strlen(user);
	FILE		*fp;
	int		 found = 0, ok = 0, mdlen;

	if (path[0] == '\0' || (fp = fopen(path, "re")) == NULL)
		return -1;
	while (!found && fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if ((colon = strchr(line, ':')) == NULL ||
		    (size_t)(colon - line) != ul || strncmp(line, user, ul) != 0)
			continue;
		found = 1;
		if (digest_init(&d, DIGEST_MD5) == 0 &&
		    digest_update(&d, banner, strlen(banner)) == 0 &&
		    digest_update(&d, colon + 1, strlen(colon + 1)) == 0 &&
		    (mdlen = digest_final(&d, md)) > 0) {
			digest_hex(md, (size_t)mdlen, hex);
			ok = auth_equal(hex, digest);
		}
		digest_free(&d);
	}
	explicit_bzero(line, sizeof(line));
	fclose(fp);
	return ok;
}
