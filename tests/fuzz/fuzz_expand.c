/*
 * Fuzz target for expand_next() (src/lib/expand.c), run over a whole
 * aliases or .forward value.  ctl[0] is the item buffer size (1-256), the
 * rest the value.  The loop must end and move forward; items are bounded,
 * NUL-terminated, unquoted, trimmed and of the kind their first byte says.
 * A comment line (a '#' at the start of a line, outside quotes) must not
 * matter: the value without its comment lines gives the same items.
 */
#include "config.h"

#include "expand.h"
#include "fuzz.h"

#define MAXITEMS	4096

struct items {
	size_t		 n;
	int		 r[MAXITEMS];
	char		*item[MAXITEMS];
};

static void
run(const char *v, size_t len, size_t itemlen, struct items *it)
{
	enum expand_kind	 kind;
	char			*item;
	size_t			 off = 0, prev, il;
	int			 r;

	it->n = 0;
	for (;;) {
		item = fuzz_exact(itemlen);
		prev = off;
		kind = (enum expand_kind)-1;
		r = expand_next(v, len, &off, item, itemlen, &kind);
		FUZZ_CHECK(r >= -1 && r <= 1);
		FUZZ_CHECK(off >= prev && off <= len);
		if (r == 0) {
			FUZZ_CHECK(off == len);
			free(item);
			break;
		}
		FUZZ_CHECK(off > prev);			/* progress */
		FUZZ_CHECK(it->n < MAXITEMS && it->n <= len);
		FUZZ_CHECK(fuzz_terminated(item, itemlen));
		il = strlen(item);
		if (r == 1) {
			FUZZ_CHECK(il > 0);
			FUZZ_CHECK(memchr(item, '"', il) == NULL);
			FUZZ_CHECK(item[il - 1] != ' ' && item[il - 1] != '\t' &&
			    item[il - 1] != '\n' && item[il - 1] != '\r');
			FUZZ_CHECK(kind == (item[0] == '|' ? E_PROG :
			    item[0] == '/' ? E_FILE :
			    strncmp(item, ":include:", 9) == 0 ? E_INCLUDE :
			    item[0] == '\\' ? E_NOFORWARD : E_ADDR));
		}
		it->r[it->n] = r;
		it->item[it->n++] = item;
	}
}

static void
clear(struct items *it)
{
	size_t	i;

	for (i = 0; i < it->n; i++)
		free(it->item[i]);
	it->n = 0;
}

/* v without its comment lines (and their LFs); returns the new length. */
static size_t
uncomment(const char *v, size_t len, char *out)
{
	size_t	i = 0, o = 0;
	int	quoted = 0;

	while (i < len) {
		if (!quoted && v[i] == '#' && (i == 0 || v[i - 1] == '\n')) {
			while (i < len && v[i] != '\n')
				i++;
			i++;				/* and its LF */
			continue;
		}
		if (v[i] == '"')
			quoted = !quoted;
		out[o++] = v[i++];
	}
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct items	 a, b;
	const char		*v;
	char			*clean;
	size_t			 len, itemlen, clen, i;
	int			 same;

	if (size < 1)
		return 0;
	itemlen = 1 + data[0];
	v = (const char *)data + 1;
	len = size - 1;
	run(v, len, itemlen, &a);
	clean = fuzz_exact(len);
	clen = uncomment(v, len, clean);
	if (clen < len) {
		run(clean, clen, itemlen, &b);
		same = a.n == b.n;
		for (i = 0; same && i < a.n; i++)
			same = a.r[i] == b.r[i] && (a.r[i] == -1 ||
			    strcmp(a.item[i], b.item[i]) == 0);
		FUZZ_CHECK_BUG("expand-comment", same);
		clear(&b);
	}
	clear(&a);
	free(clean);
	return 0;
}
