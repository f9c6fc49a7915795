/* Unit tests for the DATA/BDAT byte machine in src/qsmtpd/smtp_data.c */
#include "config.h"

#include <string.h>

#include "check_util.h"
#include "smtp.h"

/* Runs a whole input through in pieces of step bytes. */
static size_t
run(struct data_machine *d, const char *in, size_t len, size_t step,
    struct buf *out)
{
	size_t	off = 0, n, k;

	while (off < len && d->st != D_END) {
		k = len - off < step ? len - off : step;
		n = data_feed(d, in + off, k);
		ck_assert_uint_le(n, k);
		(void)buf_append(out, d->out.data, d->out.len);
		buf_reset(&d->out);
		off += n;
	}
	return off;
}

#define ALL	((size_t)-1)
#define S(x)	x, sizeof(x) - 1
static const struct {
	const char	*in;
	size_t		 inlen;
	int		 ends;		/* D_END reached */
	size_t		 used;		/* bytes consumed; ALL: the whole input */
	const char	*out;		/* normalised message, NULL: not checked */
	size_t		 outlen;
	const char	*verdict;	/* NULL: accepted */
} cases[] = {
	{ S("a\r\n.\r\n"), 1, ALL, S("a\n"), NULL },
	{ S(".\r\n"), 1, ALL, S(""), NULL },
	{ S("..x\r\n.\r\nQUIT\r\n"), 1, 8, S(".x\n"), NULL },
	{ S(".x\r\n.\r\n"), 1, ALL, S("x\n"), NULL },
	{ S("a\r\n..\r\n.\r\n"), 1, ALL, S("a\n.\n"), NULL },
	/* the smuggling sequences never end the message */
	{ S("a\n.\nMAIL FROM:<x@y>\r\n.\r\n"), 1, ALL, NULL, 0,
	    "554 5.6.0 Message contains a bare LF; lines must end with CRLF" },
	{ S("a\r\n.\rMAIL\r\n.\r\n"), 1, ALL, NULL, 0,
	    "554 5.6.0 Message contains a bare CR; lines must end with CRLF" },
	{ S("a\n.\r\nMAIL\r\n.\r\n"), 1, ALL, NULL, 0,
	    "554 5.6.0 Message contains a bare LF; lines must end with CRLF" },
	{ S("a\r\n.\r\r\nMAIL\r\n.\r\n"), 1, ALL, NULL, 0,
	    "554 5.6.0 Message contains a bare CR; lines must end with CRLF" },
	{ S("a\r\n.\r"), 0, ALL, NULL, 0, NULL },
	{ S("8bit \xff\0x\r\n.\r\n"), 1, ALL, S("8bit \xff\0x\n"), NULL },
};

START_TEST(data_table)
{
	struct data_machine	d;
	struct buf		out;
	size_t			step, used;
	const char		*v;

	for (step = 1; step <= 7; step += 6) {		/* 1 and 7 */
		data_init(&d, 1, 0);
		buf_init(&out, 4096);
		used = run(&d, cases[_i].in, cases[_i].inlen, step, &out);
		ck_assert_int_eq(d.st == D_END, cases[_i].ends);
		ck_assert_uint_eq(used, cases[_i].used == ALL ?
		    cases[_i].inlen : cases[_i].used);
		v = data_verdict(&d, 100);
		if (cases[_i].verdict != NULL)
			ck_assert_str_eq(v, cases[_i].verdict);
		else
			ck_assert_ptr_null(v);
		if (cases[_i].out != NULL) {
			ck_assert_uint_eq(out.len, cases[_i].outlen);
			ck_assert_mem_eq(out.data, cases[_i].out, out.len);
		}
		buf_free(&out);
		data_free(&d);
	}
}
END_TEST

START_TEST(data_size_and_hops)
{
	struct data_machine	d;
	struct buf		out;
	char			msg[300];
	int			i;

	data_init(&d, 1, 10);
	buf_init(&out, 4096);
	run(&d, "0123456789\r\n.\r\n", 15, 3, &out);
	ck_assert_ptr_nonnull(data_verdict(&d, 0));	/* 12 > 10 */
	ck_assert_int_eq(d.st, D_END);
	data_free(&d);
	data_init(&d, 1, 12);
	buf_reset(&out);
	run(&d, "0123456789\r\n.\r\n", 15, 3, &out);
	ck_assert_ptr_null(data_verdict(&d, 0));	/* exactly 12 */
	data_free(&d);

	msg[0] = '\0';
	for (i = 0; i < 3; i++)
		strcat(msg, "Received: from x\r\n\tby y\r\n");
	strcat(msg, "\r\nReceived: in the body\r\n.\r\n");
	data_init(&d, 1, 0);
	buf_reset(&out);
	run(&d, msg, strlen(msg), 5, &out);
	ck_assert_int_eq(d.received, 3);
	ck_assert_str_eq(data_verdict(&d, 3),
	    "554 5.4.6 Too many hops (mail loop?)");
	ck_assert_ptr_null(data_verdict(&d, 4));
	data_free(&d);
	buf_free(&out);
}
END_TEST

START_TEST(data_bdat_mode)
{
	struct data_machine	d;
	struct buf		out;

	data_init(&d, 0, 0);		/* BDAT: no dots, no end */
	buf_init(&out, 4096);
	ck_assert_uint_eq(run(&d, "a\r", 2, 2, &out), 2);
	ck_assert_uint_eq(run(&d, "\n.\r\n..x\r\n", 9, 9, &out), 9);
	ck_assert_int_ne(d.st, D_END);
	ck_assert_str_eq(out.data, "a\n.\n..x\n");
	ck_assert_ptr_null(data_verdict(&d, 0));
	buf_free(&out);
	data_free(&d);
}
END_TEST

static Suite *
data_suite(void)
{
	Suite	*s = suite_create("data");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, data_table, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, data_size_and_hops);
	tcase_add_test(tc, data_bdat_mode);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(data_suite)
