/*
 * Fuzz target for line_read() (src/lib/line.c), the SMTP command reader,
 * with the input arriving in pieces through the transport hook (as TLS or
 * a slow client would deliver it).  Each line and its flags are checked
 * against the input: the text without LF or CR-before-LF, LINE_F_NUL for a
 * NUL, LINE_F_BARECR for any other CR, LINE_F_NOCR without the CR; lines
 * longer than max are LINE_TOOLONG, consumed to their LF and cut to max.
 *
 * Input: ctl[0] the line length limit, ctl[1] the seed of the piece sizes,
 * then the stream.
 */
#include "config.h"

#include <errno.h>

#include "buf.h"
#include "line.h"
#include "fuzz.h"

struct feed {
	const uint8_t	*p;
	size_t		 len, off;
	unsigned	 seed;
};

static ssize_t
feed_read(void *ctx, void *out, size_t n)
{
	struct feed	*f = ctx;
	size_t		 k;

	if (f->off == f->len)
		return 0;
	f->seed = f->seed * 1103515245u + 12345u;
	k = (f->seed >> 16) % 4 == 0 ? 1 + (f->seed >> 18) % 2048 :
	    1 + (f->seed >> 18) % 16;
	if (k > f->len - f->off)
		k = f->len - f->off;
	if (k > n)
		k = n;
	memcpy(out, f->p + f->off, k);
	f->off += k;
	return (ssize_t)k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct line_in	*in;
	struct feed	 f;
	struct buf	 out;
	const uint8_t	*s, *lf;
	size_t		 len, pos = 0, ll, want, i, max;
	enum line_status st;
	int		 flags, wflags;

	if (size < 2)
		return 0;
	max = 1 + data[0] * 2;
	s = data + 2;
	len = size - 2;
	f.p = s;
	f.len = len;
	f.off = 0;
	f.seed = data[1];
	if ((in = malloc(sizeof(*in))) == NULL)
		abort();
	line_in_init(in, -1, max, 0);
	in->rd = feed_read;
	in->ctx = &f;
	buf_init(&out, max + 2);
	for (;;) {
		flags = -1;
		st = line_read(in, &out, &flags);
		if ((lf = memchr(s + pos, '\n', len - pos)) == NULL) {
			/* no LF left: EOF, with any partial line */
			FUZZ_CHECK(st == LINE_EOF);
			break;
		}
		FUZZ_CHECK(st == LINE_OK || st == LINE_TOOLONG);
		ll = (size_t)(lf - (s + pos));		/* the line, no LF */
		wflags = 0;
		for (i = 0; i < ll; i++) {
			if (s[pos + i] == '\0')
				wflags |= LINE_F_NUL;
			else if (s[pos + i] == '\r' && i + 1 < ll)
				wflags |= LINE_F_BARECR;
		}
		want = ll;
		if (ll > 0 && s[pos + ll - 1] == '\r')
			want--;
		else
			wflags |= LINE_F_NOCR;
		FUZZ_CHECK(out.len <= max);
		/* callers take out.data as the line's text, also when empty */
		FUZZ_CHECK_BUG("line-null-data", out.data != NULL);
		if (want <= max) {
			FUZZ_CHECK(st == LINE_OK);
			FUZZ_CHECK(flags == wflags);
			FUZZ_CHECK(out.len == want);
			FUZZ_CHECK(want == 0 || memcmp(out.data, s + pos, want)
			    == 0);
		} else {
			FUZZ_CHECK(st == LINE_TOOLONG);
			FUZZ_CHECK(out.len == max);
			FUZZ_CHECK(memcmp(out.data, s + pos, max) == 0);
		}
		if (out.data != NULL)
			FUZZ_CHECK(out.data[out.len] == '\0');
		pos += ll + 1;
		/* what is left over sits in the buffer or in the feed */
		FUZZ_CHECK(f.off - line_pending(in) == pos);
	}
	buf_free(&out);
	free(in);
	return 0;
}
