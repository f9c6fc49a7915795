/*
 * User lookup.  The passwd-file belongs to the administrator; lines are
 * still bounded and checked field by field.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "users.h"

#define USERS_LINEMAX	4096

/* Copies field n (0-based) of a ':'-separated line; -1 if absent or long. */
static int
users_field(const char *line, size_t len, int n, char *out, size_t outlen)
{
	const char	*p = line, *end = line + len, *c;
	size_t		 fl;

	while (n-- > 0) {
		if ((c = memchr(p, ':', (size_t)(end - p))) == NULL)
			return -1;
		p = c + 1;
	}
	c = memchr(p, ':', (size_t)(end - p));
	fl = c ? (size_t)(c - p) : (size_t)(end - p);
	if (fl >= outlen)
		return -1;
	memcpy(out, p, fl);
	out[fl] = '\0';
	return 0;
}

static int
users_id(const char *s, unsigned long *out)
{
	char	*e;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &e, 10);
	return errno != 0 || *e != '\0' || *out > 0x7fffffffUL ? -1 : 0;
}

int
users_parse_line(const char *line, size_t len, const char *name,
    struct user *u, char *hash, size_t hashlen)
{
	char		f[1024];
	unsigned long	id;

	if (len == 0 || line[0] == '#')
		return 0;
	if (users_field(line, len, 0, f, sizeof(f)) == -1)
		return -1;
	if (strcmp(f, name) != 0)
		return 0;
	memset(u, 0, sizeof(*u));
	if (strlcpy(u->name, f, sizeof(u->name)) >= sizeof(u->name))
		return -1;
	if (hash != NULL && users_field(line, len, 1, hash, hashlen) == -1)
		return -1;
	if (users_field(line, len, 2, f, sizeof(f)) == -1 ||
	    users_id(f, &id) == -1)
		return -1;
	u->uid = (uid_t)id;
	if (users_field(line, len, 3, f, sizeof(f)) == -1 ||
	    users_id(f, &id) == -1)
		return -1;
	u->gid = (gid_t)id;
	if (users_field(line, len, 5, u->home, sizeof(u->home)) == -1)
		return -1;
	return 1;
}

int
users_lookup(const char *spec, const char *name, struct user *u)
{
	struct passwd	*pw;
	FILE		*fp;
	char		 line[USERS_LINEMAX];
	size_t		 len;
	int		 r = 0;

	if (name[0] == '\0' || strchr(name, ':') != NULL ||
	    strchr(name, '/') != NULL)
		return 0;
	if (strcmp(spec, "system") == 0) {
		errno = 0;
		if ((pw = getpwnam(name)) == NULL)
			return errno == 0 || errno == ENOENT ||
			    errno == ESRCH ? 0 : -1;
		memset(u, 0, sizeof(*u));
		strlcpy(u->name, pw->pw_name, sizeof(u->name));
		strlcpy(u->home, pw->pw_dir, sizeof(u->home));
		u->uid = pw->pw_uid;
		u->gid = pw->pw_gid;
		return 1;
	}
	if (strncmp(spec, "passwd-file:", 12) != 0)
		return -1;
	if ((fp = fopen(spec + 12, "re")) == NULL)
		return -1;
	while (r == 0 && fgets(line, sizeof(line), fp) != NULL) {
		len = strcspn(line, "\n");
		if (users_parse_line(line, len, name, u, NULL, 0) == 1)
			r = 1;
	}
	fclose(fp);
	return r;
}

int
users_lookup_fold(const char *spec, const char *name, struct user *u)
{
	char	lower[256];
	size_t	i;
	int	r;

	if ((r = users_lookup(spec, name, u)) != 0)
		return r;
	for (i = 0; name[i] != '\0' && i < sizeof(lower) - 1; i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	lower[i] = '\0';
	return strcmp(lower, name) == 0 ? 0 : users_lookup(spec, lower, u);
}
