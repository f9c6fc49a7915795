/*
 * Fuzz target for users_parse_line() (src/lib/users.c), a passwd-file line
 * "name:hash:uid:gid:gecos:home[:shell]".  The name asked for is the line's
 * own first field (so matching lines are common), "root" and "".  For lines
 * without NUL bytes the answer is checked against a model of the format.
 */
#include "config.h"

#include <ctype.h>

#include "users.h"
#include "fuzz.h"

#define NFIELDS	8

/* Splits at ':' into at most NFIELDS fields; returns how many there are. */
static size_t
split(const char *line, size_t len, const char *f[], size_t fl[])
{
	size_t	n = 0, start = 0, i;

	for (i = 0; i <= len; i++)
		if (i == len || line[i] == ':') {
			if (n < NFIELDS) {
				f[n] = line + start;
				fl[n] = i - start;
			}
			n++;
			start = i + 1;
		}
	return n;
}

/* A uid or gid: decimal digits only, at most 0x7fffffff. */
static int
model_id(const char *s, size_t len, unsigned long *v)
{
	size_t	i;

	*v = 0;
	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (unsigned long)(s[i] - '0');
		if (*v > 0x7fffffffUL)
			return -1;
	}
	return 0;
}

/* The expected result for a NUL-free line; -2: a name too long for u. */
static int
model(const char *line, size_t len, const char *name, size_t hashlen,
    int want_hash, unsigned long *uid, unsigned long *gid)
{
	const char	*f[NFIELDS];
	size_t		 fl[NFIELDS], n;

	if (len == 0 || line[0] == '#')
		return 0;
	n = split(line, len, f, fl);
	if (fl[0] >= 1024)
		return -1;
	if (fl[0] != strlen(name) || memcmp(f[0], name, fl[0]) != 0)
		return 0;
	if (fl[0] >= sizeof(((struct user *)0)->name))
		return -2;		/* it would not fit in u->name */
	if (want_hash && (n < 2 || fl[1] >= hashlen))
		return -1;
	if (n < 6 || fl[2] >= 1024 || fl[3] >= 1024 || fl[5] >= 1024 ||
	    model_id(f[2], fl[2], uid) == -1 ||
	    model_id(f[3], fl[3], gid) == -1)
		return -1;
	return 1;
}

static void
check_one(const char *line, size_t len, const char *name, size_t hashlen)
{
	struct user	 u;
	char		*hash = NULL;
	unsigned long	 uid, gid;
	int		 r, m, i;

	for (i = 0; i < 2; i++) {
		if (i == 1)
			hash = fuzz_exact(hashlen);
		memset(&u, 0xa5, sizeof(u));
		r = users_parse_line(line, len, name, &u, hash, hashlen);
		FUZZ_CHECK(r >= -1 && r <= 1);
		if (r == 1) {
			FUZZ_CHECK(fuzz_terminated(u.name, sizeof(u.name)));
			FUZZ_CHECK(fuzz_terminated(u.home, sizeof(u.home)));
			FUZZ_CHECK_BUG("users-name-cut",
			    strcmp(u.name, name) == 0);
			FUZZ_CHECK(u.uid <= 0x7fffffff && u.gid <= 0x7fffffff);
			if (hash != NULL)
				FUZZ_CHECK(fuzz_terminated(hash, hashlen));
		}
		if (memchr(line, '\0', len) == NULL) {
			m = model(line, len, name, hashlen, hash != NULL, &uid,
			    &gid);
			if (m == -2)
				FUZZ_CHECK_BUG("users-name-cut", r == -1);
			else
				FUZZ_CHECK(r == m);
			if (r == 1 && m == 1)
				FUZZ_CHECK(u.uid == uid && u.gid == gid);
		}
		free(hash);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*line = (const char *)data, *colon;
	char		*name;
	size_t		 hashlen, nl;

	hashlen = size > 0 ? data[size - 1] % 130 : 1;
	colon = memchr(line, ':', size);
	nl = colon != NULL ? (size_t)(colon - line) : size;
	name = fuzz_strndup(data, nl);
	check_one(line, size, name, hashlen);
	free(name);
	check_one(line, size, "root", hashlen);
	check_one(line, size, "", hashlen);
	return 0;
}
