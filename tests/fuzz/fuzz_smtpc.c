/*
 * Fuzz target for the SMTP client's reply parser (src/lib/smtpc.c), which
 * reads what a remote server sends qrun.  The input is a stream of
 * replies: smtpc_reply_parse() takes one from the front, then the rest,
 * until it wants more bytes (0) or rejects them (-1).  Each reply must
 * take whole lines (used in bounds, ending at an LF), carry a code in
 * 200..599 and at least one line, and keep only escaped text: NUL-
 * terminated, no control byte but the '\n' between lines, nothing past
 * 0x7e.  The text must equal a model (each line after its code, CR before
 * LF dropped, bytes outside 0x20..0x7e and the backslash as \xNN, lines
 * joined by '\n') or, when that does not fit, be a prefix of it that fills
 * the text but for less than one escape.  A reply cut before its last LF
 * is incomplete (0), never another reply.  smtpc_reply_line() (into a
 * roomy and into a tight buffer), smtpc_reply_status() and
 * smtpc_ehlo_caps() run on every reply.
 *
 * Input: the stream, no control bytes.
 */
#include "config.h"

#include "smtpc.h"
#include "fuzz.h"

#define SMTPC_ALLCAPS	(SMTPC_PIPELINING | SMTPC_SIZE | SMTPC_8BITMIME | \
	SMTPC_SMTPUTF8 | SMTPC_DSN | SMTPC_STARTTLS | SMTPC_AUTH_PLAIN |     \
	SMTPC_AUTH_LOGIN | SMTPC_ENHANCED)

/* The escaped text of the reply's lines (used bytes at p) into m. */
static size_t
model_text(const uint8_t *p, size_t used, char *m)
{
	static const char	hex[] = "0123456789abcdef";
	const uint8_t		*line = p, *nl;
	size_t			 ml = 0, ll, i;

	for (; line < p + used; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(p + used - line));
		ll = (size_t)(nl - line);
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		if (line > p)
			m[ml++] = '\n';
		for (i = 4; i < ll; i++) {
			if (line[i] >= 0x20 && line[i] < 0x7f &&
			    line[i] != '\\') {
				m[ml++] = (char)line[i];
				continue;
			}
			m[ml++] = '\\';
			m[ml++] = 'x';
			m[ml++] = hex[line[i] >> 4];
			m[ml++] = hex[line[i] & 15];
		}
	}
	m[ml] = '\0';
	return ml;
}

/* No control bytes, nothing past 0x7e, NUL-terminated within outlen. */
static void
check_line(const struct smtpc_reply *r, size_t outlen)
{
	char	*out = fuzz_exact(outlen);
	size_t	 i, l;

	smtpc_reply_line(r, out, outlen);
	if (outlen > 0) {
		FUZZ_CHECK(fuzz_terminated(out, outlen));
		l = strlen(out);
		for (i = 0; i < l; i++)
			FUZZ_CHECK(out[i] >= 0x20 && out[i] < 0x7f);
		if (outlen >= 4)
			FUZZ_CHECK(l >= 3 && out[0] - '0' == r->code / 100);
	}
	free(out);
}

static void
check_reply(const struct smtpc_reply *r, const uint8_t *p, size_t used)
{
	struct smtpc_caps	 caps;
	char			 status[12], *m;
	size_t			 i, l, ml, nl = 0;

	FUZZ_CHECK(r->code >= 200 && r->code <= 599);
	FUZZ_CHECK(r->nlines >= 1 && r->nlines <= SMTPC_LINES);
	FUZZ_CHECK(used > 0 && p[used - 1] == '\n');
	for (i = 0; i < used; i++)
		nl += p[i] == '\n';
	FUZZ_CHECK(nl == (size_t)r->nlines);	/* whole lines, one each */

	FUZZ_CHECK(fuzz_terminated(r->text, sizeof(r->text)));
	l = strlen(r->text);
	for (i = 0; i < l; i++)
		FUZZ_CHECK((r->text[i] >= 0x20 && r->text[i] < 0x7f) ||
		    r->text[i] == '\n');
	FUZZ_CHECK(memchr(r->text, '\n', l) == NULL || r->nlines > 1);
	m = fuzz_exact(used * 4 + 1);
	ml = model_text(p, used, m);
	if (ml < sizeof(r->text))
		FUZZ_CHECK(strcmp(r->text, m) == 0);
	else
		FUZZ_CHECK(strncmp(r->text, m, l) == 0 &&
		    l + 4 >= sizeof(r->text));
	free(m);

	check_line(r, 512);
	check_line(r, (size_t)(p[0] % 16));	/* cut anywhere, even 0 */

	if (smtpc_reply_status(r, status, sizeof(status))) {
		l = strlen(status);
		FUZZ_CHECK(l >= 5 && l <= 9 && status[0] - '0' == r->code / 100);
		FUZZ_CHECK(strspn(status, "0123456789.") == l);
		FUZZ_CHECK(strncmp(r->text, status, l) == 0);
	}

	smtpc_ehlo_caps(r, &caps);
	FUZZ_CHECK((caps.flags & ~(unsigned)SMTPC_ALLCAPS) == 0);
	FUZZ_CHECK(caps.maxsize >= 0);
	FUZZ_CHECK(caps.maxsize == 0 || (caps.flags & SMTPC_SIZE));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtpc_reply	 r;
	const uint8_t		*p = data;
	size_t			 left = size, used, u2;
	int			 k;

	while (left > 0) {
		used = (size_t)-1;
		k = smtpc_reply_parse((const char *)p, left, &r, &used);
		FUZZ_CHECK(k == -1 || k == 0 || k == 1);
		if (k != 1)
			break;
		FUZZ_CHECK(used <= left);
		check_reply(&r, p, used);
		/* without its last LF the reply is not complete yet */
		k = smtpc_reply_parse((const char *)p, used - 1, &r, &u2);
		FUZZ_CHECK(k == 0);
		p += used;
		left -= used;
	}
	return 0;
}
