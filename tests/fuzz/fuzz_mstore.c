/*
 * Fuzz target for the maildrop scanner (src/lib/mstore.c):
 * mstore_scan_init(), mstore_scan_feed(), mstore_scan_end().  ctl[0] and
 * ctl[1] seed the piece sizes; the rest is an mbox.  Fed in pieces, the
 * scan must find exactly what one feed of the whole finds (offsets, sizes,
 * UIDs); messages must start at "From " lines after a blank line (or the
 * start), follow each other and stay in the file, and have unique UIDs.
 * Their index image must pass mstore_index_parse() and give them back.
 */
#include "config.h"

#include <sys/types.h>

#include "mstore.h"
#include "fuzz.h"

static void
scan(const uint8_t *s, size_t len, unsigned seed, struct mstore_scan *sc,
    int *r)
{
	size_t	pos = 0, k;

	mstore_scan_init(sc);
	while (pos < len) {
		if (seed == 0)
			k = len;		/* all at once */
		else {
			seed = seed * 1103515245u + 12345u;
			k = (seed >> 16) % 4 == 0 ? 1 + (seed >> 18) % 2048 :
			    1 + (seed >> 18) % 8;
		}
		if (k > len - pos)
			k = len - pos;
		mstore_scan_feed(sc, (const char *)s + pos, k);
		pos += k;
	}
	*r = mstore_scan_end(sc);
}

static void
check_msgs(const uint8_t *s, size_t len, const struct mstore_scan *sc)
{
	const struct mstore_msg	*m;
	char			 u[MSTORE_UIDSIZE], v[MSTORE_UIDSIZE];
	size_t			 i, j;

	FUZZ_CHECK(sc->n <= MSTORE_MAX && (sc->n == 0 || sc->m != NULL));
	for (i = 0; i < sc->n; i++) {
		m = &sc->m[i];
		FUZZ_CHECK(m->start >= 0 && m->start < m->body);
		FUZZ_CHECK_BUG("mstore-body-past-end", m->body <= m->end);
		FUZZ_CHECK(m->start <= m->end && m->end <= m->next &&
		    m->next <= (off_t)len);
		FUZZ_CHECK(m->start + 5 <= (off_t)len &&
		    memcmp(s + m->start, "From ", 5) == 0);
		FUZZ_CHECK(m->start == 0 || s[m->start - 1] == '\n');
		if (m->start >= 2)		/* after a blank line */
			FUZZ_CHECK(s[m->start - 2] == '\n' ||
			    (s[m->start - 2] == '\r' && (m->start == 2 ||
			    s[m->start - 3] == '\n')));
		FUZZ_CHECK(i + 1 == sc->n ? m->next == (off_t)len :
		    m->next == sc->m[i + 1].start);
		mstore_uid(m, u);
		FUZZ_CHECK(fuzz_terminated(u, sizeof(u)));
		for (j = 0; j < i; j++) {
			mstore_uid(&sc->m[j], v);
			FUZZ_CHECK(strcmp(u, v) != 0);
		}
	}
}

/* What the scan found, as an index and back. */
static void
check_index(const uint8_t *s, size_t len, const struct mstore_scan *sc)
{
	struct mstore_index	 ix, back;
	struct mstore_msg	*m;
	unsigned char		*img;
	const char		*why;
	size_t			 i, ilen;

	if (sc->n == 0)
		return;
	memset(&ix, 0, sizeof(ix));
	ix.size = len;
	ix.n = sc->n;
	ix.headlen = len - (size_t)sc->m[sc->n - 1].start;
	if (ix.headlen > MSTORE_SAMPLE)
		ix.headlen = MSTORE_SAMPLE;
	ix.taillen = len < MSTORE_SAMPLE ? len : MSTORE_SAMPLE;
	memcpy(ix.head, s + sc->m[sc->n - 1].start, ix.headlen);
	memcpy(ix.tail, s + len - ix.taillen, ix.taillen);
	ilen = mstore_index_len(sc->n);
	if ((img = malloc(ilen)) == NULL || (m = calloc(sc->n,
	    sizeof(*m))) == NULL)
		abort();
	mstore_index_encode(&ix, sc->m, img);
	FUZZ_CHECK(mstore_index_parse(img, ilen, &back, m, sc->n, &why) == 0);
	FUZZ_CHECK(back.n == sc->n && back.size == len);
	for (i = 0; i < sc->n; i++)
		FUZZ_CHECK(m[i].start == sc->m[i].start &&
		    m[i].body == sc->m[i].body && m[i].end == sc->m[i].end &&
		    m[i].next == sc->m[i].next && m[i].size == sc->m[i].size &&
		    memcmp(m[i].digest, sc->m[i].digest, MSTORE_DIGEST) == 0);
	free(m);
	free(img);
}

/*
 * Mail that arrives later must not change the UIDs (RFC 1939 7: they
 * persist across sessions) of the messages before it; the last one's
 * header may still have been open, so it is not compared.
 */
static void
check_append(const uint8_t *s, size_t len, const struct mstore_scan *a)
{
	static const char	 more[] = "\n\nFrom fuzz@example.com Thu Jan  1"
	    " 00:00:00 2026\nSubject: new\n\nnew\n";
	struct mstore_scan	 c;
	uint8_t			*t;
	char			 u[MSTORE_UIDSIZE], v[MSTORE_UIDSIZE];
	size_t			 i;
	int			 r;

	if ((t = malloc(len + sizeof(more))) == NULL)
		abort();
	memcpy(t, s, len);
	memcpy(t + len, more, sizeof(more) - 1);
	scan(t, len + sizeof(more) - 1, 0, &c, &r);
	if (r == 0) {
		FUZZ_CHECK(c.n >= a->n);
		for (i = 0; i + 1 < a->n; i++) {
			FUZZ_CHECK(c.m[i].start == a->m[i].start &&
			    c.m[i].size == a->m[i].size);
			mstore_uid(&c.m[i], u);
			mstore_uid(&a->m[i], v);
			FUZZ_CHECK_BUG("mstore-uid-unstable", strcmp(u, v) == 0);
		}
	}
	mstore_scan_free(&c);
	free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mstore_scan	 a, b;
	const uint8_t		*s;
	size_t			 len, i;
	unsigned		 seed;
	int			 ra, rb;

	if (size < 2)
		return 0;
	seed = ((unsigned)data[0] << 8 | data[1]) | 1;
	s = data + 2;
	len = size - 2;
	scan(s, len, 0, &a, &ra);
	scan(s, len, seed, &b, &rb);
	FUZZ_CHECK(ra == rb && a.n == b.n);
	for (i = 0; i < a.n; i++) {
		FUZZ_CHECK(a.m[i].start == b.m[i].start &&
		    a.m[i].body == b.m[i].body && a.m[i].end == b.m[i].end &&
		    a.m[i].next == b.m[i].next && a.m[i].size == b.m[i].size);
		FUZZ_CHECK(memcmp(a.m[i].digest, b.m[i].digest, MSTORE_DIGEST)
		    == 0 && a.m[i].dup == b.m[i].dup);
	}
	if (ra == 0) {
		check_msgs(s, len, &a);
		check_index(s, len, &a);
		check_append(s, len, &a);
	}
	mstore_scan_free(&a);
	mstore_scan_free(&b);
	return 0;
}
