/*
 * Fuzz target for addr_parse() (src/lib/addr.c) under every flags
 * combination, then addr_format() and addr_unquote() on what it accepted.
 * Beyond "no crash": what is accepted stays in bounds and NUL-terminated,
 * and formatting it as a path gives something that parses back the same.
 */
#include "config.h"

#include <strings.h>

#include "addr.h"
#include "fuzz.h"

static const int	addr_flags[] = {
	0, ADDR_F_UTF8, ADDR_F_RELAXED, ADDR_F_UTF8 | ADDR_F_RELAXED
};

static int
has_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/* addr_format() into exactly outlen bytes: -1 exactly when it won't fit. */
static void
check_format(const struct addr *a, size_t outlen)
{
	char	*out = fuzz_exact(outlen);
	size_t	 want;
	int	 r;

	want = a->null ? 0 : a->domain[0] == '\0' ? strlen(a->local) :
	    strlen(a->local) + 1 + strlen(a->domain);
	r = addr_format(a, out, outlen);
	if (want < outlen) {
		FUZZ_CHECK(r >= 0 && (size_t)r == want);
		FUZZ_CHECK(strlen(out) == want);
	} else
		FUZZ_CHECK(r == -1);
	free(out);
}

/* addr_unquote(): bounded, and never longer than what it undoes. */
static void
check_unquote(const char *local, size_t outlen)
{
	char	*out;
	size_t	 ll = strlen(local);

	if (outlen == 0 && fuzz_ignored("addr-unquote-outlen0"))
		return;			/* a known bug: look past it */
	out = fuzz_exact(outlen);
	if (addr_unquote(local, out, outlen) == 0) {
		FUZZ_CHECK_BUG("addr-unquote-outlen0", outlen > 0);
		FUZZ_CHECK(fuzz_terminated(out, outlen));
		FUZZ_CHECK(strlen(out) <= ll);
		if (local[0] != '"')
			FUZZ_CHECK(strcmp(out, local) == 0);
		else
			FUZZ_CHECK(strlen(out) + 2 <= ll);
	} else
		FUZZ_CHECK(ll + 1 > outlen || local[0] == '"');
	free(out);
}

/* "<" addr_format() ">" must parse back to the same local part and domain. */
static void
check_roundtrip(const struct addr *a, int flags)
{
	char		 path[ADDR_MAX + 3];
	struct addr	 b;
	const char	*errstr = NULL;
	size_t		 used = 0;
	int		 n;

	path[0] = '<';
	n = addr_format(a, path + 1, sizeof(path) - 2);
	FUZZ_CHECK(n >= 0);
	path[n + 1] = '>';
	FUZZ_CHECK(addr_parse(path, (size_t)n + 2, flags, &b, &used,
	    &errstr) == 0);
	FUZZ_CHECK(used == (size_t)n + 2);
	FUZZ_CHECK(b.null == a->null);
	FUZZ_CHECK(strcmp(b.local, a->local) == 0);
	FUZZ_CHECK(strcmp(b.domain, a->domain) == 0);
	FUZZ_CHECK(b.utf8 == a->utf8);
}

/* Where a source route "<@a,@b:" ends in p (0 if there is none). */
static size_t
route_end(const char *p, size_t len)
{
	size_t	i = 0;

	while (i < len && p[i] == ' ')
		i++;
	if (i + 1 >= len || p[i] != '<' || p[i + 1] != '@')
		return 0;
	for (i += 2; i < len && p[i] != ':' && p[i] != '>'; i++)
		;
	return i < len && p[i] == ':' ? i + 1 : 0;
}

/* RFC 5321 4.1.2: A-d-l = At-domain *( "," At-domain ), then ":". */
static int
route_ok(const char *p, size_t end, int flags)
{
	const char	*d, *e;
	size_t		 i = 0;

	if (end == 0)
		return 1;
	while (p[i] == ' ')
		i++;
	for (d = p + i + 1; d < p + end; d = e + 1) {	/* past '<' */
		if (*d != '@')
			return 0;
		d++;
		for (e = d; e < p + end - 1 && *e != ','; e++)
			;
		if (e == d || (*d == '[' ? e[-1] != ']' ||
		    memchr(d, '\0', (size_t)(e - d)) != NULL :
		    !addr_domain_ok(d, (size_t)(e - d), flags & ADDR_F_UTF8)))
			return 0;
	}
	return 1;
}

static void
check_one(const char *p, size_t len, int flags, size_t outlen)
{
	struct addr	 a;
	const char	*errstr = NULL;
	size_t		 used = (size_t)-1, r;

	memset(&a, 0xa5, sizeof(a));
	if (addr_parse(p, len, flags, &a, &used, &errstr) == -1) {
		FUZZ_CHECK(errstr != NULL && errstr[0] != '\0');
		return;
	}
	FUZZ_CHECK(used <= len);
	/*
	 * No NUL is valid anywhere in a path: in the source route (which is
	 * skipped, not kept) or in what is kept, which it would cut short.
	 */
	r = route_end(p, used);
	FUZZ_CHECK_BUG("addr-route-junk", route_ok(p, r, flags));
	FUZZ_CHECK_BUG("addr-literal-nul", memchr(p + r, '\0', used - r) ==
	    NULL);
	if (memchr(p, '\0', used) != NULL)
		return;				/* ignored: look past it */
	FUZZ_CHECK(fuzz_terminated(a.local, sizeof(a.local)));
	FUZZ_CHECK(fuzz_terminated(a.domain, sizeof(a.domain)));
	FUZZ_CHECK(a.null == 0 || a.null == 1);
	FUZZ_CHECK(a.utf8 == 0 || a.utf8 == 1);
	/* the path ends at a space or at the end of the buffer */
	FUZZ_CHECK_BUG("addr-null-junk", used == len || p[used] == ' ');
	if (a.null) {
		FUZZ_CHECK(a.local[0] == '\0' && a.domain[0] == '\0');
		FUZZ_CHECK(!a.utf8);
	} else {
		FUZZ_CHECK(a.local[0] != '\0');
		FUZZ_CHECK(used > 0);
		FUZZ_CHECK(a.utf8 == (has_8bit(a.local) ||
		    has_8bit(a.domain)));
		if (a.domain[0] != '\0' && a.domain[0] != '[')
			FUZZ_CHECK(addr_domain_ok(a.domain, strlen(a.domain),
			    flags & ADDR_F_UTF8));
	}
	if (!(flags & ADDR_F_UTF8))
		FUZZ_CHECK(!a.utf8);
	if (!(flags & ADDR_F_RELAXED) && !a.null && a.domain[0] == '\0')
		FUZZ_CHECK(strcasecmp(a.local, "postmaster") == 0);
	check_format(&a, ADDR_MAX + 1);
	check_format(&a, outlen);
	check_unquote(a.local, ADDR_LOCALMAX + 1);
	check_unquote(a.local, outlen);
	check_roundtrip(&a, flags);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*p = (const char *)data;
	size_t		 i, outlen;

	/* a small output size, from the input, for the bounded writers */
	outlen = size > 0 ? data[size - 1] % 80 : 1;
	for (i = 0; i < sizeof(addr_flags) / sizeof(addr_flags[0]); i++)
		check_one(p, size, addr_flags[i], outlen);
	return 0;
}
