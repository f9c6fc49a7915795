/* Unit tests for src/lib/relay.c, aliases.c and users.c */
#include "config.h"

#include <string.h>

#include "aliases.h"
#include "check_util.h"
#include "relay.h"
#include "users.h"

static const struct {
	const char	*entry, *domain;
	int		 match;
} dom[] = {
	{ "example.com",	"example.com",		1 },
	{ "example.com",	"EXAMPLE.com",		1 },
	{ "example.com",	"mx.example.com",	1 },
	{ "example.com",	"badexample.com",	0 },
	{ "example.com",	"example.com.",		1 },
	{ ".example.com",	"example.com",		0 },
	{ ".example.com",	"sub.example.com",	1 },
	{ "sub.example.com",	"a.sub.example.com",	1 },
	{ "sub.example.com",	"example.com",		0 },
};

START_TEST(relay_domains)
{
	ck_assert_int_eq(relay_domain_match(dom[_i].entry,
	    strlen(dom[_i].entry), dom[_i].domain), dom[_i].match);
}
END_TEST

static const struct {
	const char	*entry, *ip;
	int		 match;
} ips[] = {
	{ "10.2",		"10.2.3.4",		1 },
	{ "10.2",		"10.20.3.4",		0 },
	{ "10.2.",		"10.2.3.4",		1 },
	{ "10.2.3.4",		"10.2.3.4",		1 },
	{ "10.2.3.4",		"10.2.3.40",		0 },
	{ "10.2.0.0/16",	"10.2.255.1",		1 },
	{ "10.2.0.0/16",	"10.3.0.1",		0 },
	{ "192.0.2.128/25",	"192.0.2.200",		1 },
	{ "192.0.2.128/25",	"192.0.2.100",		0 },
	{ "2001:db8::/32",	"2001:db8:1::5",	1 },
	{ "2001:db8::/32",	"2001:db9::5",		0 },
	{ "10.2.0.0/33",	"10.2.0.1",		0 },
	{ "example.com",	"10.2.0.1",		0 },
};

START_TEST(relay_ips)
{
	ck_assert_int_eq(relay_ip_match(ips[_i].entry, strlen(ips[_i].entry),
	    ips[_i].ip), ips[_i].match);
}
END_TEST

START_TEST(relay_lists)
{
	const char	*l = "# relay-domains\n.example.com  # subdomains\n"
			    "10.2\n\n  other.org\n";

	ck_assert_int_eq(relay_list_match(l, strlen(l), RELAY_DOMAIN,
	    "a.example.com"), 1);
	ck_assert_int_eq(relay_list_match(l, strlen(l), RELAY_DOMAIN,
	    "example.com"), 0);
	ck_assert_int_eq(relay_list_match(l, strlen(l), RELAY_DOMAIN,
	    "other.org"), 1);
	ck_assert_int_eq(relay_list_match(l, strlen(l), RELAY_IP,
	    "10.2.9.9"), 1);
	ck_assert_int_eq(relay_list_match(l, strlen(l), RELAY_EXACT,
	    "other.org"), 1);
	ck_assert_int_eq(relay_list_match(l, strlen(l), RELAY_EXACT,
	    "x.other.org"), 0);
	ck_assert_int_eq(relay_file_match("/nonexistent/file", RELAY_IP,
	    "10.2.9.9"), 0);
}
END_TEST

START_TEST(aliases_syntax)
{
	const char		*f = "# comment\n\nroot: samt\n"
				    "staff: a,\n  b,\n# inner comment\n\tc\n"
				    "bad line\n  orphan\n\"q name\" : x\nlast:y";
	struct alias_entry	 e;
	const char		*errstr;
	size_t			 off = 0, len = strlen(f);
	int			 lineno = 1;

	ck_assert_int_eq(aliases_next(f, len, &off, &lineno, &e, &errstr), 1);
	ck_assert_int_eq(e.lineno, 3);
	ck_assert_int_eq((int)e.namelen, 4);
	ck_assert_int_eq(strncmp(e.value, " samt", e.valuelen), 0);
	ck_assert_int_eq(aliases_next(f, len, &off, &lineno, &e, &errstr), 1);
	ck_assert_int_eq(e.lineno, 4);
	ck_assert_int_eq(strncmp(e.value, " a,\n  b,\n# inner comment\n\tc",
	    e.valuelen), 0);
	ck_assert_int_eq(aliases_next(f, len, &off, &lineno, &e, &errstr), -1);
	ck_assert_int_eq(e.lineno, 8);
	ck_assert_str_eq(errstr, "missing colon after the alias name");
	ck_assert_int_eq(aliases_next(f, len, &off, &lineno, &e, &errstr), -1);
	ck_assert_int_eq(e.lineno, 9);
	ck_assert_int_eq(aliases_next(f, len, &off, &lineno, &e, &errstr), 1);
	ck_assert_int_eq(strncmp(e.name, "\"q name\"", e.namelen), 0);
	ck_assert_int_eq(aliases_next(f, len, &off, &lineno, &e, &errstr), 1);
	ck_assert_int_eq(e.lineno, 11);
	ck_assert_int_eq(strncmp(e.value, "y", e.valuelen), 0);
	ck_assert_int_eq(aliases_next(f, len, &off, &lineno, &e, &errstr), 0);
}
END_TEST

START_TEST(users_lines)
{
	struct user	u;
	char		hash[128];
	const char	*l = "samt:$6$salt$hash:1001:100:Sam T:/home/samt:/bin/sh";

	ck_assert_int_eq(users_parse_line(l, strlen(l), "samt", &u, hash,
	    sizeof(hash)), 1);
	ck_assert_str_eq(hash, "$6$salt$hash");
	ck_assert_int_eq(u.uid, 1001);
	ck_assert_int_eq(u.gid, 100);
	ck_assert_str_eq(u.home, "/home/samt");
	ck_assert_int_eq(users_parse_line(l, strlen(l), "sam", &u, NULL, 0), 0);
	ck_assert_int_eq(users_parse_line("samt:x:abc:1::/h:", 17, "samt",
	    &u, NULL, 0), -1);
	ck_assert_int_eq(users_parse_line("samt:x:1", 8, "samt", &u, NULL, 0),
	    -1);
	ck_assert_int_eq(users_lookup("bogus-spec", "samt", &u), -1);
	ck_assert_int_eq(users_lookup("system", "root", &u), 1);
	ck_assert_int_eq(u.uid, 0);
	ck_assert_int_eq(users_lookup("system", "../x", &u), 0);
}
END_TEST

static Suite *
relay_suite(void)
{
	Suite	*s = suite_create("relay");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, relay_domains, 0, sizeof(dom) / sizeof(dom[0]));
	tcase_add_loop_test(tc, relay_ips, 0, sizeof(ips) / sizeof(ips[0]));
	tcase_add_test(tc, relay_lists);
	tcase_add_test(tc, aliases_syntax);
	tcase_add_test(tc, users_lines);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(relay_suite)
