/*
 * Fuzz target for the header parsers (src/lib/header.c): hdr_next() over
 * a whole header section, and hdr_addrlist() on each field's value and on
 * the whole input.  Fields must tile the buffer from the start, name and
 * value in bounds; every address handed out is a non-empty, terminated,
 * one-line string of bounded length, and the count returned is the number
 * of calls.
 */
#include "config.h"

#include "header.h"
#include "fuzz.h"

struct count {
	int	n;
};

static void
take(const char *addr, void *arg)
{
	struct count	*c = arg;
	size_t		 l;

	FUZZ_CHECK(fuzz_terminated(addr, ADDR_MAX + 3));
	l = strlen(addr);
	FUZZ_CHECK(l > 0 && l <= ADDR_MAX + 2);
	FUZZ_CHECK(memchr(addr, '\n', l) == NULL &&
	    memchr(addr, '\r', l) == NULL);
	c->n++;
}

static void
check_addrlist(const char *v, size_t len)
{
	struct count	c = { 0 };
	char		*copy = fuzz_exact(len);
	int		r;

	memcpy(copy, v, len);			/* exactly len bytes */
	r = hdr_addrlist(copy, len, take, &c);
	FUZZ_CHECK(r >= -1 && r <= HDR_ADDRMAX);
	FUZZ_CHECK(c.n <= HDR_ADDRMAX);
	if (r >= 0)
		FUZZ_CHECK(r == c.n);
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*buf = (const char *)data;
	struct hdr_field	 f;
	size_t			 off = 0, prev, i, n = 0;
	int			 r;

	for (;;) {
		prev = off;
		memset(&f, 0, sizeof(f));
		r = hdr_next(buf, size, &off, &f);
		FUZZ_CHECK(r >= -1 && r <= 1);
		if (r == -1) {
			FUZZ_CHECK(off == prev);
			break;
		}
		if (r == 0) {
			FUZZ_CHECK(off == prev || (off == prev + 1 &&
			    buf[prev] == '\n'));
			FUZZ_CHECK(off <= size);
			break;
		}
		FUZZ_CHECK(++n <= size);
		FUZZ_CHECK(f.start == prev && f.end == off && off > prev);
		FUZZ_CHECK(f.end <= size);
		FUZZ_CHECK(f.name == buf + f.start && f.namelen > 0);
		FUZZ_CHECK(f.name[f.namelen] == ':');
		for (i = 0; i < f.namelen; i++)
			FUZZ_CHECK(f.name[i] > ' ' && f.name[i] <= '~');
		FUZZ_CHECK(f.value == f.name + f.namelen + 1);
		FUZZ_CHECK(f.value + f.valuelen == buf + f.end);
		/* the field ends after an LF or at the end of the buffer */
		FUZZ_CHECK(f.end == size || buf[f.end - 1] == '\n');
		/* and the next line does not continue it */
		FUZZ_CHECK(f.end == size || (buf[f.end] != ' ' &&
		    buf[f.end] != '\t'));
		FUZZ_CHECK(hdr_is(&f, "") == 0);
		check_addrlist(f.value, f.valuelen);
	}
	check_addrlist(buf, size);
	return 0;
}
