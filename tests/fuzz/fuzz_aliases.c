/*
 * Fuzz target for aliases_next() (src/lib/aliases.c), run over the whole
 * buffer as aliases_exists() does.  It must end, move forward on every
 * call, keep the pointers it returns inside the buffer, count lines right,
 * and report every line that starts an entry: as an entry or as an error.
 */
#include "config.h"

#include "aliases.h"
#include "fuzz.h"

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*buf = (const char *)data, *errstr, *p;
	struct alias_entry	 e;
	size_t			 off = 0, prev, i, nlines, n = 0, vstart;
	unsigned char		*seen;
	int			*line_of, lineno = 1, plineno, r;

	/* line_of[o]: the line number of offset o (1 + LFs before it) */
	if ((line_of = calloc(size + 1, sizeof(*line_of))) == NULL)
		abort();
	line_of[0] = 1;
	for (i = 0; i < size; i++)
		line_of[i + 1] = line_of[i] + (buf[i] == '\n');
	nlines = (size_t)line_of[size];
	/* seen[l]: line l was reported, as an entry or as an error */
	if ((seen = calloc(nlines + 2, 1)) == NULL)
		abort();
	for (;;) {
		prev = off;
		plineno = lineno;
		errstr = NULL;
		memset(&e, 0, sizeof(e));
		e.lineno = -1;
		if ((r = aliases_next(buf, size, &off, &lineno, &e, &errstr))
		    == 0)
			break;
		FUZZ_CHECK(++n <= nlines);	/* at most one per line */
		FUZZ_CHECK(off > prev);
		FUZZ_CHECK(lineno > plineno);
		FUZZ_CHECK(off <= size + 1);
		FUZZ_CHECK(e.lineno >= plineno && e.lineno < lineno);
		FUZZ_CHECK((size_t)e.lineno <= nlines);
		seen[e.lineno] = 1;
		if (off <= size)		/* *lineno is off's line */
			FUZZ_CHECK(lineno == line_of[off]);
		if (r == -1) {
			FUZZ_CHECK(r == -1 && errstr != NULL);
			continue;
		}
		FUZZ_CHECK(r == 1);
		FUZZ_CHECK(e.name >= buf && e.name < buf + size);
		FUZZ_CHECK(e.namelen > 0 &&
		    e.namelen <= size - (size_t)(e.name - buf));
		FUZZ_CHECK(e.name == buf || e.name[-1] == '\n');
		FUZZ_CHECK(e.lineno == line_of[e.name - buf]);
		FUZZ_CHECK(memchr(e.name, '\n', e.namelen) == NULL);
		FUZZ_CHECK(e.value > e.name && e.value <= buf + size);
		vstart = (size_t)(e.value - buf);
		FUZZ_CHECK(e.valuelen <= size - vstart);
		FUZZ_CHECK(e.value[-1] == ':');
		/* the value ends at a line end; its later lines are indented */
		FUZZ_CHECK(vstart + e.valuelen == size ||
		    buf[vstart + e.valuelen] == '\n');
		for (p = e.value; (p = memchr(p, '\n', (size_t)(e.value +
		    e.valuelen - p))) != NULL; p++)
			FUZZ_CHECK(p[1] == ' ' || p[1] == '\t' || p[1] == '#');
	}
	/*
	 * A line that starts with anything but blank, '#' or LF, and does not
	 * follow an entry as a continuation, must have been reported.  Lines
	 * starting with ' ', '\t' or '#' may be continuations, so only lines
	 * whose first byte is none of those and not '\r' are checked.
	 */
	for (i = 0, r = 1; i < size; r++) {
		if (buf[i] != '\n' && buf[i] != '#' && !is_blank(buf[i]))
			FUZZ_CHECK(seen[r]);
		if ((p = memchr(buf + i, '\n', size - i)) == NULL)
			break;
		i = (size_t)(p - buf) + 1;
	}
	free(seen);
	free(line_of);
	return 0;
}
