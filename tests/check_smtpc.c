/* Unit tests for src/lib/smtpc.c and dns.c's dns_mx_parse() */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "check_util.h"
#include "dns.h"
#include "smtpc.h"

static int
parse(const char *s, struct smtpc_reply *r, size_t *used)
{
	*used = 12345;
	return smtpc_reply_parse(s, strlen(s), r, used);
}

static const struct {
	const char	*in;
	int		 ret, code, nlines;
	const char	*text;
} replies[] = {
	{ "250 OK\r\n",			1, 250, 1, "OK" },
	{ "250 OK\n",			1, 250, 1, "OK" },	/* bare LF */
	{ "220 mx.example.com ESMTP\r\n", 1, 220, 1, "mx.example.com ESMTP" },
	{ "250\r\n",			1, 250, 1, "" },
	{ "250 \r\n",			1, 250, 1, "" },
	{ "250-mx.example.com\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
	    1, 250, 3, "mx.example.com\nPIPELINING\n8BITMIME" },
	{ "250-a\n250-b\r\n250 c\n",	1, 250, 3, "a\nb\nc" },
	{ "550-5.1.1 no\r\n550-\r\n550 5.1.1 such user\r\n",
	    1, 550, 3, "5.1.1 no\n\n5.1.1 such user" },
	{ "599 x\r\n",			1, 599, 1, "x" },
	{ "200 x\r\n",			1, 200, 1, "x" },
	/* not complete yet */
	{ "",				0, 0, 0, NULL },
	{ "25",				0, 0, 0, NULL },
	{ "250 OK",			0, 0, 0, NULL },
	{ "250 OK\r",			0, 0, 0, NULL },
	{ "250-mx.example.com\r\n",	0, 0, 0, NULL },
	{ "250-mx.example.com\r\n250 PIPE", 0, 0, 0, NULL },
	/* not a reply */
	{ "250-a\r\n251 b\r\n",		-1, 0, 0, NULL },	/* mixed */
	{ "250-a\r\n550 b\r\n",		-1, 0, 0, NULL },
	{ "199 x\r\n",			-1, 0, 0, NULL },
	{ "600 x\r\n",			-1, 0, 0, NULL },
	{ "099 x\r\n",			-1, 0, 0, NULL },
	{ "25x x\r\n",			-1, 0, 0, NULL },
	{ "2500 x\r\n",			-1, 0, 0, NULL },
	{ "250_x\r\n",			-1, 0, 0, NULL },
	{ " 250 x\r\n",			-1, 0, 0, NULL },
	{ "25\r\n",			-1, 0, 0, NULL },
	{ "\r\n",			-1, 0, 0, NULL },
	{ "hello\r\n",			-1, 0, 0, NULL },
	{ "250-a\r\nxyz\r\n",		-1, 0, 0, NULL },
};

START_TEST(reply_table)
{
	struct smtpc_reply	r;
	size_t			used;
	int			k;

	k = parse(replies[_i].in, &r, &used);
	ck_assert_int_eq(k, replies[_i].ret);
	if (k != 1)
		return;
	ck_assert_uint_eq(used, strlen(replies[_i].in));
	ck_assert_int_eq(r.code, replies[_i].code);
	ck_assert_int_eq(r.nlines, replies[_i].nlines);
	ck_assert_str_eq(r.text, replies[_i].text);
}
END_TEST

START_TEST(reply_back_to_back)
{
	const char		*s = "250-mx\r\n250 SIZE\r\n354 go ahead\n"
				    "221 2.0.0 Bye\r\n250-partial";
	struct smtpc_reply	 r;
	size_t			 used, off = 0, len = strlen(s);

	ck_assert_int_eq(smtpc_reply_parse(s, len, &r, &used), 1);
	ck_assert_uint_eq(used, 18);
	ck_assert_int_eq(r.code, 250);
	ck_assert_str_eq(r.text, "mx\nSIZE");
	off += used;
	ck_assert_int_eq(smtpc_reply_parse(s + off, len - off, &r, &used), 1);
	ck_assert_uint_eq(used, 13);
	ck_assert_int_eq(r.code, 354);
	ck_assert_str_eq(r.text, "go ahead");
	off += used;
	ck_assert_int_eq(smtpc_reply_parse(s + off, len - off, &r, &used), 1);
	ck_assert_uint_eq(used, 15);
	ck_assert_int_eq(r.code, 221);
	off += used;
	ck_assert_int_eq(smtpc_reply_parse(s + off, len - off, &r, &used), 0);
	ck_assert_uint_eq(off + strlen("250-partial"), len);
}
END_TEST

/* A reply of one line "250 " + n bytes of c, then end (LF, CRLF or ""). */
static size_t
longline(char *buf, size_t n, char c, const char *end)
{
	memcpy(buf, "250 ", 4);
	memset(buf + 4, c, n);
	memcpy(buf + 4 + n, end, strlen(end) + 1);
	return 4 + n + strlen(end);
}

START_TEST(reply_line_length)
{
	static char		buf[SMTPC_LINEMAX + 64];
	struct smtpc_reply	r;
	size_t			len, used;

	/* SMTPC_LINEMAX bytes before the LF (the CR counts): the most */
	len = longline(buf, SMTPC_LINEMAX - 4, 'a', "\n");
	ck_assert_int_eq(smtpc_reply_parse(buf, len, &r, &used), 1);
	ck_assert_uint_eq(used, len);
	len = longline(buf, SMTPC_LINEMAX - 5, 'a', "\r\n");
	ck_assert_int_eq(smtpc_reply_parse(buf, len, &r, &used), 1);
	len = longline(buf, SMTPC_LINEMAX - 3, 'a', "\n");
	ck_assert_int_eq(smtpc_reply_parse(buf, len, &r, &used), -1);
	len = longline(buf, SMTPC_LINEMAX - 4, 'a', "\r\n");
	ck_assert_int_eq(smtpc_reply_parse(buf, len, &r, &used), -1);

	/* no LF yet: wait while it could still fit, fail once it cannot */
	len = longline(buf, SMTPC_LINEMAX - 4, 'a', "");
	ck_assert_int_eq(smtpc_reply_parse(buf, len, &r, &used), 0);
	len = longline(buf, SMTPC_LINEMAX - 3, 'a', "");
	ck_assert_int_eq(smtpc_reply_parse(buf, len, &r, &used), -1);
	len = longline(buf, SMTPC_LINEMAX + 40, 'a', "");
	ck_assert_int_eq(smtpc_reply_parse(buf, len, &r, &used), -1);

	/* the long line after a good first line */
	memcpy(buf, "250-x\r\n", 7);
	len = 7 + longline(buf + 7, SMTPC_LINEMAX, 'a', "");
	ck_assert_int_eq(smtpc_reply_parse(buf, len, &r, &used), -1);
}
END_TEST

START_TEST(reply_line_count)
{
	static char		buf[(SMTPC_LINES + 2) * 16];
	struct smtpc_reply	r;
	size_t			len = 0, used;
	int			i;

	for (i = 0; i < SMTPC_LINES - 1; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
		    "250-l%d\r\n", i);
	len += (size_t)snprintf(buf + len, sizeof(buf) - len, "250 end\r\n");
	ck_assert_int_eq(smtpc_reply_parse(buf, len, &r, &used), 1);
	ck_assert_int_eq(r.nlines, SMTPC_LINES);
	ck_assert_uint_eq(used, len);

	len -= strlen("250 end\r\n");
	len += (size_t)snprintf(buf + len, sizeof(buf) - len,
	    "250-one more\r\n250 end\r\n");
	ck_assert_int_eq(smtpc_reply_parse(buf, len, &r, &used), -1);
}
END_TEST

START_TEST(reply_escapes)
{
	const char		 in[] = "550 a\x01" "b\\c\x7f\xff\x1b[31m\tz\r\r\n";
	const char		 nul[] = "550 a\0b\r\n";
	struct smtpc_reply	 r;
	size_t			 used;

	ck_assert_int_eq(smtpc_reply_parse(in, sizeof(in) - 1, &r, &used), 1);
	ck_assert_str_eq(r.text, "a\\x01b\\x5cc\\x7f\\xff\\x1b[31m\\x09z\\x0d");
	ck_assert_int_eq(smtpc_reply_parse(nul, sizeof(nul) - 1, &r, &used), 1);
	ck_assert_str_eq(r.text, "a\\x00b");
}
END_TEST

/* The kept text is a prefix of the whole escaped text, NUL-terminated. */
START_TEST(reply_text_cut)
{
	static char		buf[8192], want[8192];
	struct smtpc_reply	r;
	size_t			len = 0, wl = 0, used;
	int			i, j;

	/* lines of 50 'a' and a control byte: cuts fall inside an escape */
	for (i = 0; i < 30; i++) {
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "250%c",
		    i < 29 ? '-' : ' ');
		if (i > 0)
			want[wl++] = '\n';
		for (j = 0; j < 50 + i % 3; j++) {
			buf[len++] = 'a';
			want[wl++] = 'a';
		}
		buf[len++] = '\x01';
		memcpy(want + wl, "\\x01", 4);
		wl += 4;
		buf[len++] = '\r';
		buf[len++] = '\n';
	}
	want[wl] = '\0';
	ck_assert_uint_gt(wl, SMTPC_TEXTMAX);
	ck_assert_int_eq(smtpc_reply_parse(buf, len, &r, &used), 1);
	ck_assert_uint_eq(used, len);
	ck_assert_ptr_nonnull(memchr(r.text, '\0', sizeof(r.text)));
	ck_assert_uint_lt(strlen(r.text), SMTPC_TEXTMAX);
	ck_assert_uint_gt(strlen(r.text), SMTPC_TEXTMAX - 5);
	ck_assert_int_eq(strncmp(r.text, want, strlen(r.text)), 0);

	/* an escape that does not fit ends the text: no piece of the next line */
	len = longline(buf, SMTPC_TEXTMAX - 4, 'a', "\x01\r\n");
	buf[3] = '-';
	memcpy(buf + len, "250 bcd\r\n", 10);
	ck_assert_int_eq(smtpc_reply_parse(buf, len + 9, &r, &used), 1);
	ck_assert_uint_eq(used, len + 9);
	ck_assert_uint_eq(strlen(r.text), SMTPC_TEXTMAX - 4);
	ck_assert_uint_eq(strspn(r.text, "a"), SMTPC_TEXTMAX - 4);

	/* one long line of printable bytes: cut at TEXTMAX - 1 */
	len = longline(buf, 2000, 'b', "\r\n");
	ck_assert_int_eq(smtpc_reply_parse(buf, len, &r, &used), 1);
	ck_assert_uint_eq(strlen(r.text), SMTPC_TEXTMAX - 1);
}
END_TEST

static const struct {
	const char	*in;
	size_t		 outlen;
	const char	*out;
} lines[] = {
	{ "250 OK\r\n",				64, "250 OK" },
	{ "250\r\n",				64, "250" },
	{ "550-5.1.1 no\r\n550 such user\r\n",	64, "550 5.1.1 no; such user" },
	{ "250-a\r\n250-b\r\n250 c\r\n",	64, "250 a; b; c" },
	{ "550 a\x01z\r\n",			64, "550 a\\x01z" },
	{ "550-5.1.1 no\r\n550 such user\r\n",	10, "550 5.1" },
	{ "550 hello\r\n",			4, "550" },
	{ "550 hello\r\n",			1, "" },
};

START_TEST(reply_line_table)
{
	struct smtpc_reply	r;
	char			out[64];
	size_t			used;

	ck_assert_int_eq(parse(lines[_i].in, &r, &used), 1);
	memset(out, 'X', sizeof(out));
	smtpc_reply_line(&r, out, lines[_i].outlen);
	ck_assert_str_eq(out, lines[_i].out);
	if (lines[_i].outlen < sizeof(out))
		ck_assert_int_eq(out[lines[_i].outlen], 'X');
	smtpc_reply_line(&r, out, 0);			/* writes nothing */
}
END_TEST

static const struct {
	const char	*in;
	const char	*status;	/* NULL: none */
} statuses[] = {
	{ "550 5.1.1 <x@example.com>: unknown\r\n",	"5.1.1" },
	{ "550 5.1.1\r\n",				"5.1.1" },
	{ "550-5.7.1 blocked\r\n550 5.7.1 see url\r\n",	"5.7.1" },
	{ "451 4.123.999 later\r\n",			"4.123.999" },
	{ "250 2.0.0 Ok: queued\r\n",			"2.0.0" },
	{ "550 5.1 nope\r\n",				NULL },
	{ "550 5.1.1x nope\r\n",			NULL },
	{ "550 4.1.1 class mismatch\r\n",		NULL },
	{ "450 5.1.1 class mismatch\r\n",		NULL },
	{ "550 3.1.1 no such class\r\n",		NULL },
	{ "550 5.1234.1 too long\r\n",			NULL },
	{ "550 5.1.1234 too long\r\n",			NULL },
	{ "550 5..1 empty\r\n",				NULL },
	{ "550 user unknown\r\n",			NULL },
	{ "550\r\n",					NULL },
};

START_TEST(reply_status_table)
{
	struct smtpc_reply	r;
	char			out[12];
	size_t			used;
	int			k;

	ck_assert_int_eq(parse(statuses[_i].in, &r, &used), 1);
	k = smtpc_reply_status(&r, out, sizeof(out));
	ck_assert_int_eq(k, statuses[_i].status != NULL);
	if (k)
		ck_assert_str_eq(out, statuses[_i].status);
}
END_TEST

static const struct {
	const char	*in;
	unsigned	 flags;
	long long	 maxsize;
} caps[] = {
	{ "250-mx\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n",
	    SMTPC_PIPELINING | SMTPC_SIZE, 10240000 },
	{ "250-mx\r\n250 SIZE\r\n",		SMTPC_SIZE, 0 },
	{ "250-mx\r\n250 size=2048\r\n",	SMTPC_SIZE, 2048 },
	{ "250-mx\r\n250 8bitmime\r\n",		SMTPC_8BITMIME, 0 },
	{ "250-mx\r\n250 SMTPUTF8\r\n",		SMTPC_SMTPUTF8, 0 },
	{ "250-mx\r\n250 Dsn\r\n",		SMTPC_DSN, 0 },
	{ "250-mx\r\n250 STARTTLS\r\n",		SMTPC_STARTTLS, 0 },
	{ "250-mx\r\n250 EnhancedStatusCodes\r\n", SMTPC_ENHANCED, 0 },
	{ "250-mx\r\n250 AUTH PLAIN\r\n",	SMTPC_AUTH_PLAIN, 0 },
	{ "250-mx\r\n250 AUTH CRAM-MD5 login\r\n", SMTPC_AUTH_LOGIN, 0 },
	{ "250-mx\r\n250 AUTH=LOGIN PLAIN\r\n",
	    SMTPC_AUTH_LOGIN | SMTPC_AUTH_PLAIN, 0 },
	{ "250-mx\r\n250 AUTH GSSAPI\r\n",	0, 0 },
	{ "250-mx\r\n250 AUTHX PLAIN\r\n",	0, 0 },
	{ "250-mx\r\n250 PIPELININGX\r\n",	0, 0 },
	{ "250-mx\r\n250 SIZEABLE 5\r\n",	0, 0 },
	{ "250-mx\r\n250 X-PIPELINING\r\n",	0, 0 },
	/* the greeting line is the server's name, not a keyword */
	{ "250 PIPELINING\r\n",			0, 0 },
	{ "250-PIPELINING\r\n250 SIZE 5\r\n",	SMTPC_SIZE, 5 },
	{ "250-mx.example.com Hello\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n"
	  "250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250-STARTTLS\r\n"
	  "250-ENHANCEDSTATUSCODES\r\n250-AUTH PLAIN LOGIN\r\n250 CHUNKING\r\n",
	    SMTPC_PIPELINING | SMTPC_SIZE | SMTPC_8BITMIME | SMTPC_DSN |
	    SMTPC_SMTPUTF8 | SMTPC_STARTTLS | SMTPC_ENHANCED |
	    SMTPC_AUTH_PLAIN | SMTPC_AUTH_LOGIN, 52428800 },
};

START_TEST(ehlo_caps_table)
{
	struct smtpc_reply	r;
	struct smtpc_caps	c;
	size_t			used;

	ck_assert_int_eq(parse(caps[_i].in, &r, &used), 1);
	smtpc_ehlo_caps(&r, &c);
	ck_assert_uint_eq(c.flags, caps[_i].flags);
	ck_assert_int_eq(c.maxsize, caps[_i].maxsize);
}
END_TEST

/* A DNS response to an MX query, built by hand (RFC 1035 4.1). */
struct pkt {
	unsigned char	b[2048];
	int		len;
};

static void
put16(struct pkt *p, unsigned v)
{
	p->b[p->len++] = (unsigned char)(v >> 8);
	p->b[p->len++] = (unsigned char)v;
}

/* Labels of a dotted name, then a pointer to ptr (if not 0) or the root. */
static void
putname(struct pkt *p, const char *name, int ptr)
{
	const char	*dot;
	size_t		 l;

	while (*name != '\0') {
		dot = strchr(name, '.');
		l = dot != NULL ? (size_t)(dot - name) : strlen(name);
		p->b[p->len++] = (unsigned char)l;
		memcpy(p->b + p->len, name, l);
		p->len += (int)l;
		name += l + (dot != NULL);
	}
	if (ptr != 0)
		put16(p, 0xc000 | (unsigned)ptr);
	else
		p->b[p->len++] = 0;
}

#define QNAME	12	/* the question's name, right after the header */

/* The header and the question "example.com MX"; ancount answers follow. */
static void
pkt_start(struct pkt *p, unsigned ancount)
{
	static const unsigned char	hdr[] = { 0x12, 0x34, 0x81, 0x80, 0, 1 };

	memcpy(p->b, hdr, sizeof(hdr));
	p->len = sizeof(hdr);
	put16(p, ancount);
	put16(p, 0);
	put16(p, 0);
	putname(p, "example.com", 0);
	put16(p, 15);			/* MX */
	put16(p, 1);			/* IN */
}

/*
 * One answer record for example.com (a pointer to the question) of type,
 * rdata a preference and host (labels, then a pointer to ptr, or the
 * root).  Returns the offset of host in the packet.
 */
static int
pkt_rr(struct pkt *p, unsigned type, unsigned pref, const char *host, int ptr)
{
	int	rdlen, at;

	put16(p, 0xc000 | QNAME);
	put16(p, type);
	put16(p, 1);
	put16(p, 0);
	put16(p, 3600);
	rdlen = p->len;
	put16(p, 0);
	put16(p, pref);
	at = p->len;
	putname(p, host, ptr);
	p->b[rdlen] = (unsigned char)((p->len - rdlen - 2) >> 8);
	p->b[rdlen + 1] = (unsigned char)(p->len - rdlen - 2);
	return at;
}

START_TEST(mx_order)
{
	struct pkt	p;
	struct dns_mx	mx[DNS_MXMAX];
	int		at;

	pkt_start(&p, 4);
	pkt_rr(&p, 15, 30, "backup.example.net", 0);
	at = pkt_rr(&p, 15, 10, "mx", QNAME);		/* mx.example.com */
	pkt_rr(&p, 15, 20, "alt1", at);			/* a pointer on */
	pkt_rr(&p, 5, 0, "cname.example.com", 0);	/* CNAME: skipped */
	ck_assert_int_eq(dns_mx_parse(p.b, p.len, mx, DNS_MXMAX), 3);
	ck_assert_int_eq(mx[0].pref, 10);
	ck_assert_str_eq(mx[0].name, "mx.example.com");
	ck_assert_int_eq(mx[1].pref, 20);
	ck_assert_str_eq(mx[1].name, "alt1.mx.example.com");
	ck_assert_int_eq(mx[2].pref, 30);
	ck_assert_str_eq(mx[2].name, "backup.example.net");
}
END_TEST

START_TEST(mx_ties)
{
	struct pkt	p;
	struct dns_mx	mx[DNS_MXMAX];
	int		i, k, seen, moved = 0;

	pkt_start(&p, 5);
	pkt_rr(&p, 15, 10, "a", QNAME);
	pkt_rr(&p, 15, 10, "b", QNAME);
	pkt_rr(&p, 15, 20, "z", QNAME);
	pkt_rr(&p, 15, 10, "c", QNAME);
	pkt_rr(&p, 15, 5, "first", QNAME);
	for (i = 0; i < 60; i++) {
		ck_assert_int_eq(dns_mx_parse(p.b, p.len, mx, DNS_MXMAX), 5);
		ck_assert_str_eq(mx[0].name, "first.example.com");
		ck_assert_str_eq(mx[4].name, "z.example.com");
		seen = 0;
		for (k = 1; k <= 3; k++) {
			ck_assert_int_eq(mx[k].pref, 10);
			ck_assert_int_eq(mx[k].name[1], '.');
			seen |= 1 << (mx[k].name[0] - 'a');
		}
		ck_assert_int_eq(seen, 7);		/* a, b and c: all there */
		moved |= strcmp(mx[1].name, "a.example.com") != 0;
	}
	ck_assert(moved);	/* shuffled: fails with chance 6^-60 */
}
END_TEST

START_TEST(mx_null)
{
	struct pkt	p;
	struct dns_mx	mx[DNS_MXMAX];

	pkt_start(&p, 1);
	pkt_rr(&p, 15, 0, "", 0);			/* RFC 7505: "0 ." */
	ck_assert_int_eq(dns_mx_parse(p.b, p.len, mx, DNS_MXMAX), DNS_NULLMX);
	ck_assert_int_eq(dns_mx_parse(p.b, p.len, mx, 1), DNS_NULLMX);

	pkt_start(&p, 0);				/* NODATA */
	ck_assert_int_eq(dns_mx_parse(p.b, p.len, mx, DNS_MXMAX), 0);
}
END_TEST

START_TEST(mx_max)
{
	struct pkt	p;
	struct dns_mx	mx[DNS_MXMAX + 1];
	char		host[16];
	int		i;

	pkt_start(&p, 20);
	for (i = 0; i < 20; i++) {
		snprintf(host, sizeof(host), "mx%d", i);
		pkt_rr(&p, 15, (unsigned)(100 - i), host, QNAME);
	}
	memset(&mx[DNS_MXMAX], 'X', sizeof(mx[0]));
	ck_assert_int_eq(dns_mx_parse(p.b, p.len, mx, DNS_MXMAX), DNS_MXMAX);
	ck_assert_int_eq(mx[DNS_MXMAX].name[0], 'X');	/* not written */
	for (i = 1; i < DNS_MXMAX; i++)
		ck_assert_int_le(mx[i - 1].pref, mx[i].pref);
	/* the first max records of the answer, sorted */
	ck_assert_int_eq(dns_mx_parse(p.b, p.len, mx, 3), 3);
	ck_assert_int_eq(mx[0].pref, 98);
	ck_assert_str_eq(mx[0].name, "mx2.example.com");
	ck_assert_int_eq(mx[2].pref, 100);
	ck_assert_int_eq(dns_mx_parse(p.b, p.len, mx, 0), 0);
}
END_TEST

START_TEST(mx_garbage)
{
	static const unsigned char	junk[] = "hello, world, not DNS at all";
	struct pkt			p;
	struct dns_mx			mx[DNS_MXMAX];
	int				len;

	pkt_start(&p, 2);
	pkt_rr(&p, 15, 10, "mx", QNAME);
	pkt_rr(&p, 15, 20, "mx2.example.com", 0);
	ck_assert_int_eq(dns_mx_parse(p.b, p.len, mx, DNS_MXMAX), 2);
	for (len = 0; len < p.len; len++)	/* every truncation */
		ck_assert_int_eq(dns_mx_parse(p.b, len, mx, DNS_MXMAX), -1);
	ck_assert_int_eq(dns_mx_parse(p.b, -1, mx, DNS_MXMAX), -1);

	p.b[7] = 3;				/* one answer more than sent */
	ck_assert_int_eq(dns_mx_parse(p.b, p.len, mx, DNS_MXMAX), -1);
	ck_assert_int_eq(dns_mx_parse(junk, (int)sizeof(junk), mx,
	    DNS_MXMAX), -1);
}
END_TEST

/*
 * MX records whose host name cannot be read (a compression pointer to
 * itself): not "no MX" (which would send the mail to the domain's own
 * address) but a temporary failure; one readable record is enough.
 */
START_TEST(mx_unreadable)
{
	struct pkt	p;
	struct dns_mx	mx[DNS_MXMAX];
	int		at;

	pkt_start(&p, 1);
	at = p.len + 12 + 2;		/* where the rdata's host name goes */
	pkt_rr(&p, 15, 10, "", at);	/* a pointer to itself: a loop */
	ck_assert_int_eq(dns_mx_parse(p.b, p.len, mx, DNS_MXMAX), -1);

	pkt_start(&p, 2);
	at = p.len + 12 + 2;
	pkt_rr(&p, 15, 10, "", at);
	pkt_rr(&p, 15, 20, "mx2", QNAME);
	ck_assert_int_eq(dns_mx_parse(p.b, p.len, mx, DNS_MXMAX), 1);
	ck_assert_str_eq(mx[0].name, "mx2.example.com");
}
END_TEST

static Suite *
smtpc_suite(void)
{
	Suite	*s = suite_create("smtpc");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, reply_table, 0,
	    sizeof(replies) / sizeof(replies[0]));
	tcase_add_test(tc, reply_back_to_back);
	tcase_add_test(tc, mx_unreadable);
	tcase_add_test(tc, reply_line_length);
	tcase_add_test(tc, reply_line_count);
	tcase_add_test(tc, reply_escapes);
	tcase_add_test(tc, reply_text_cut);
	tcase_add_loop_test(tc, reply_line_table, 0,
	    sizeof(lines) / sizeof(lines[0]));
	tcase_add_loop_test(tc, reply_status_table, 0,
	    sizeof(statuses) / sizeof(statuses[0]));
	tcase_add_loop_test(tc, ehlo_caps_table, 0,
	    sizeof(caps) / sizeof(caps[0]));
	tcase_add_test(tc, mx_order);
	tcase_add_test(tc, mx_ties);
	tcase_add_test(tc, mx_null);
	tcase_add_test(tc, mx_max);
	tcase_add_test(tc, mx_garbage);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(smtpc_suite)
