/* Unit tests for src/lib/addr.c */
#include "config.h"

#include <string.h>

#include "addr.h"
#include "check_util.h"

#define R	ADDR_F_RELAXED
#define U	ADDR_F_UTF8

static const struct {
	const char	*in;
	int		 flags, ok;
	const char	*local, *domain;
	size_t		 used;
} cases[] = {
	{ "<samt@example.com>",		0, 1, "samt", "example.com", 18 },
	{ "<samt@example.com> SIZE=10",	0, 1, "samt", "example.com", 18 },
	{ "samt@localhost",		R, 1, "samt", "localhost", 14 },
	{ " samt@localhost",		R, 1, "samt", "localhost", 15 },
	{ "samt@localhost",		0, 0, NULL, NULL, 0 },
	{ "samt",			R, 1, "samt", "", 4 },
	{ "<samt>",			0, 0, NULL, NULL, 0 },
	{ "<postmaster>",		0, 1, "postmaster", "", 12 },
	{ "<>",				0, 1, "", "", 2 },
	{ "<samt@example.com",		0, 0, NULL, NULL, 0 },
	{ "<\"a b\"@example.com>",	0, 1, "\"a b\"", "example.com", 19 },
	{ "<\"a\\\"b\"@x.org>",		0, 1, "\"a\\\"b\"", "x.org", 14 },
	{ "<@r1,@r2:u@x.org>",		0, 1, "u", "x.org", 17 },
	{ "<u@[192.0.2.1]>",		0, 1, "u", "[192.0.2.1]", 15 },
	{ "<u@[IPv6:2001:db8::1]>",	0, 1, "u", "[IPv6:2001:db8::1]", 22 },
	{ "<u@[300.0.0.1]>",		0, 0, NULL, NULL, 0 },
	{ "<u@[IPv6:zz]>",		0, 0, NULL, NULL, 0 },
	{ "<a..b@x.org>",		0, 0, NULL, NULL, 0 },
	{ "<.a@x.org>",			0, 0, NULL, NULL, 0 },
	{ "<a.@x.org>",			0, 0, NULL, NULL, 0 },
	{ "<a@-x.org>",			0, 0, NULL, NULL, 0 },
	{ "<a@x-.org>",			0, 0, NULL, NULL, 0 },
	{ "<a@x..org>",			0, 0, NULL, NULL, 0 },
	{ "<a@x.org.>",			0, 0, NULL, NULL, 0 },
	{ "<a b@x.org>",		0, 0, NULL, NULL, 0 },
	{ "<a@x.org>junk",		0, 0, NULL, NULL, 0 },
	{ "<j\xc3\xb6rg@b\xc3\xbc" "cher.de>", U, 1, "j\xc3\xb6rg", "b\xc3\xbc" "cher.de", 18 },
	{ "<j\xc3\xb6rg@example.de>",	0, 0, NULL, NULL, 0 },
	{ "<j\xc3rg@example.de>",	U, 0, NULL, NULL, 0 },	/* bad UTF-8 */
	{ "<\xed\xa0\x80@x.org>",	U, 0, NULL, NULL, 0 },	/* surrogate */
	{ "<a\x01@x.org>",		0, 0, NULL, NULL, 0 },
	{ "<\"a\x01\"@x.org>",		0, 0, NULL, NULL, 0 },
};

START_TEST(addr_parse_table)
{
	struct addr	 a;
	const char	*errstr = NULL;
	size_t		 used = 0;
	int		 r;

	r = addr_parse(cases[_i].in, strlen(cases[_i].in), cases[_i].flags,
	    &a, &used, &errstr);
	ck_assert_msg((r == 0) == cases[_i].ok, "case %d: %s", _i,
	    cases[_i].in);
	if (r == 0) {
		ck_assert_str_eq(a.local, cases[_i].local);
		ck_assert_str_eq(a.domain, cases[_i].domain);
		ck_assert_uint_eq(used, cases[_i].used);
	} else
		ck_assert_ptr_nonnull(errstr);
}
END_TEST

START_TEST(addr_limits)
{
	char		 in[400];
	struct addr	 a;
	const char	*errstr;
	size_t		 used;

	/* a 64-octet local part is fine, 65 is not (RFC 5321 4.5.3.1.1) */
	in[0] = '<';
	memset(in + 1, 'a', 64);
	strcpy(in + 65, "@x.org>");
	ck_assert_int_eq(addr_parse(in, strlen(in), 0, &a, &used, &errstr), 0);
	in[0] = '<';
	memset(in + 1, 'a', 65);
	strcpy(in + 66, "@x.org>");
	ck_assert_int_eq(addr_parse(in, strlen(in), 0, &a, &used, &errstr), -1);
	/* a 63-octet label is fine, 64 is not */
	strcpy(in, "<a@");
	memset(in + 3, 'b', 63);
	strcpy(in + 66, ".org>");
	ck_assert_int_eq(addr_parse(in, strlen(in), 0, &a, &used, &errstr), 0);
	strcpy(in, "<a@");
	memset(in + 3, 'b', 64);
	strcpy(in + 67, ".org>");
	ck_assert_int_eq(addr_parse(in, strlen(in), 0, &a, &used, &errstr), -1);
	/* not NUL-terminated: never reads past len */
	ck_assert_int_eq(addr_parse("<a@x.org>", 5, 0, &a, &used, &errstr), -1);
}
END_TEST

START_TEST(addr_format_unquote)
{
	struct addr	 a;
	const char	*errstr;
	char		 out[ADDR_MAX + 1];
	size_t		 used;

	ck_assert_int_eq(addr_parse("<\"j d\\\"x\"@x.org>", 16, 0, &a, &used,
	    &errstr), 0);
	ck_assert_int_eq(addr_format(&a, out, sizeof(out)), 14);
	ck_assert_str_eq(out, "\"j d\\\"x\"@x.org");
	ck_assert_int_eq(addr_unquote(a.local, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "j d\"x");
	ck_assert_int_eq(addr_format(&a, out, 5), -1);
	ck_assert_int_eq(addr_parse("<>", 2, 0, &a, &used, &errstr), 0);
	ck_assert_int_eq(a.null, 1);
	ck_assert_int_eq(addr_format(&a, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

static Suite *
addr_suite(void)
{
	Suite	*s = suite_create("addr");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, addr_parse_table, 0,
	    sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, addr_limits);
	tcase_add_test(tc, addr_format_unquote);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(addr_suite)
