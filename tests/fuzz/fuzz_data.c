/*
 * Fuzz target for the DATA/BDAT byte machine (src/qsmtpd/smtp_data.c):
 * data_init(), data_feed(), data_verdict(), data_free().
 *
 * Input: four control bytes, then the client's stream.
 *   ctl[0] bit 0: DATA (dot-stuffing, CRLF.CRLF ends) or BDAT
 *          bits 1-3: the size limit (max_message_size), from limits[]
 *          bit 4: start with out nearly full (the server drains after
 *                 every feed; this reaches the "out is full" return)
 *   ctl[1]: max_received for data_verdict() (0: no limit)
 *   ctl[2], ctl[3]: seed of the piece sizes the stream is fed in
 *
 * Checked, as the server uses it (feed, take what was consumed, drain):
 * data_feed() consumes at most what it is given and always makes progress;
 * DATA ends exactly at the first CRLF "." CRLF (or at "." CRLF at the very
 * start), never earlier or later, whatever the pieces (SMTP smuggling); BDAT
 * never ends; the bare CR / bare LF / oversize flags match the stream; and a
 * message the verdict accepts comes out as its lines with LF ends and dots
 * unstuffed, with its Received: fields counted.
 */
#include "config.h"

#include <limits.h>
#include <strings.h>

#include "smtp.h"
#include "fuzz.h"

static const long long	limits[] = {
	0, 1, 10, 100, 4096, LLONG_MAX - 3, LLONG_MAX, 50LL * 1024 * 1024
};

/* Position of the first CRLF.CRLF (its "." at the start of a line). */
static size_t
find_end(const uint8_t *s, size_t len, int *found)
{
	size_t	i;

	*found = 0;
	if (len >= 3 && memcmp(s, ".\r\n", 3) == 0) {
		*found = 1;
		return 3;
	}
	for (i = 0; i + 5 <= len; i++)
		if (memcmp(s + i, "\r\n.\r\n", 5) == 0) {
			*found = 1;
			return i + 5;
		}
	return len;
}

/*
 * What the spool should get for a stream without bare CR or LF: each line
 * with LF for its CRLF and a leading dot dropped (DATA), then a partial last
 * line as far as the machine can know it (a CR at its end may yet be half
 * of a CRLF).  The ".\r\n" that ended DATA is not part of it.
 */
static size_t
model_output(const uint8_t *s, size_t len, int dots, int ended, uint8_t *out)
{
	size_t	i = 0, o = 0, eol, start, end;
	int	complete;

	if (ended)
		len -= 3;
	while (i < len) {
		for (eol = i; eol + 1 < len && !(s[eol] == '\r' &&
		    s[eol + 1] == '\n'); eol++)
			;
		complete = eol + 1 < len;
		start = dots && s[i] == '.' ? i + 1 : i;
		end = complete ? eol : len;
		if (!complete && end > start && s[end - 1] == '\r')
			end--;
		if (end > start) {
			memcpy(out + o, s + start, end - start);
			o += end - start;
		}
		if (!complete)
			break;
		out[o++] = '\n';
		i = eol + 2;
	}
	return o;
}

/* Received: fields in the header section of normalised output. */
static long long
model_received(const uint8_t *s, size_t len)
{
	long long	n = 0;
	size_t		i = 0, eol;

	while (i < len) {
		if (s[i] == '\n')
			break;			/* the empty line */
		for (eol = i; eol < len && s[eol] != '\n'; eol++)
			;
		if (eol == len)
			break;			/* not a whole line yet */
		if (eol - i >= 9 && strncasecmp((const char *)s + i,
		    "Received:", 9) == 0)
			n++;
		i = eol + 1;
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct data_machine	 d;
	const uint8_t		*s;
	uint8_t			*got, *want;
	char			*filler;
	size_t			 len, pos = 0, k, n, glen = 0, wlen, pre = 0, i;
	unsigned		 seed;
	long long		 max, maxrcvd;
	int			 dots, found, barelf = 0, barecr = 0, oversize;
	const char		*v;

	if (size < 4)
		return 0;
	dots = data[0] & 1;
	max = limits[(data[0] >> 1) & 7];
	if (max > LLONG_MAX - 3 && fuzz_ignored("data-max-overflow"))
		max = LLONG_MAX - 3;	/* a known bug: look past it */
	maxrcvd = data[1];
	seed = (unsigned)data[2] << 8 | data[3];
	s = data + 4;
	len = size - 4;
	if ((got = malloc(len + 1)) == NULL || (want = malloc(len + 1)) == NULL)
		abort();

	data_init(&d, dots, max);
	FUZZ_CHECK(d.st == D_BOL && d.out.len == 0);
	if (data[0] & 0x10) {
		/* the machine's buffer a few bytes short of its ceiling */
		pre = d.out.max - 1 - data[1] % 8;
		if ((filler = malloc(pre)) == NULL)
			abort();
		memset(filler, 'x', pre);
		FUZZ_CHECK(buf_append(&d.out, filler, pre) == 0);
		free(filler);
	}
	while (pos < len && d.st != D_END) {
		seed = seed * 1103515245u + 12345u;
		k = (seed >> 16) % 8 == 0 ? 1 + (seed >> 19) % 512 :
		    1 + (seed >> 19) % 8;
		if (k > len - pos)
			k = len - pos;
		n = data_feed(&d, (const char *)s + pos, k);
		FUZZ_CHECK(n <= k);
		FUZZ_CHECK(n > 0);			/* progress */
		FUZZ_CHECK(d.out.len <= d.out.max);
		/* fewer only at the end of DATA or with out full */
		if (n < k)
			FUZZ_CHECK(d.st == D_END || d.out.len == d.out.max);
		if (d.out.len > pre) {
			FUZZ_CHECK(glen + d.out.len - pre <= len);
			memcpy(got + glen, d.out.data + pre, d.out.len - pre);
			glen += d.out.len - pre;
		}
		pre = 0;
		buf_reset(&d.out);			/* drained */
		pos += n;
	}

	/* SMTP smuggling: the end is the first CRLF.CRLF, and only that */
	k = find_end(s, len, &found);
	if (dots) {
		FUZZ_CHECK((d.st == D_END) == found);
		FUZZ_CHECK(pos == k);
		if (d.st == D_END)
			FUZZ_CHECK((pos == 3 && memcmp(s, ".\r\n", 3) == 0) ||
			    (pos >= 5 && memcmp(s + pos - 5, "\r\n.\r\n", 5)
			    == 0));
	} else {
		FUZZ_CHECK(d.st != D_END);
		FUZZ_CHECK(pos == len);
	}

	/* the flags the verdict rests on */
	for (i = 0; i < pos; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			barelf = 1;
		if (s[i] == '\r' && i + 1 < pos && s[i + 1] != '\n')
			barecr = 1;
	}
	oversize = max > 0 && (long long)pos - (dots ? 3 : 0) > max;
	FUZZ_CHECK(d.barelf == barelf);
	FUZZ_CHECK(d.barecr == barecr);
	FUZZ_CHECK_BUG("data-max-overflow", d.oversize == oversize);
	v = data_verdict(&d, maxrcvd);
	FUZZ_CHECK((v != NULL) == (oversize || barelf || barecr ||
	    (maxrcvd > 0 && d.received >= maxrcvd)));
	if (!barecr)
		FUZZ_CHECK(d.received == model_received(got, glen));
	if (!oversize && !barelf && !barecr) {
		wlen = model_output(s, pos, dots, d.st == D_END, want);
		FUZZ_CHECK(glen == wlen && memcmp(got, want, glen) == 0);
	}
	data_free(&d);
	free(got);
	free(want);
	return 0;
}
