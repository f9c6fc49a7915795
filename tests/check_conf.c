/* Unit tests for src/lib/conf.c */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "compat.h"
#include "conf.h"

START_TEST(conf_lines)
{
	struct conf	 c;
	const char	*e;

	conf_defaults(&c);
	ck_assert_int_eq(conf_parse_line(&c, "", 0, &e), 0);
	ck_assert_int_eq(conf_parse_line(&c, "  # comment", 11, &e), 0);
	ck_assert_int_eq(conf_parse_line(&c, "hostname  mx.example.org  ", 26,
	    &e), 0);
	ck_assert_str_eq(c.hostname, "mx.example.org");
	ck_assert_int_eq(conf_parse_line(&c, "max_message_size 10m", 20, &e), 0);
	ck_assert_int_eq(c.max_message_size, 10 * 1024 * 1024);
	ck_assert_int_eq(conf_parse_line(&c, "command_timeout 5m", 18, &e), 0);
	ck_assert_int_eq(c.command_timeout, 300);
	ck_assert_int_eq(conf_parse_line(&c, "max_recipients 7", 16, &e), 0);
	ck_assert_int_eq(c.max_recipients, 7);
	ck_assert_int_eq(conf_parse_line(&c, "max_recipients 7k", 17, &e), -1);
	ck_assert_int_eq(conf_parse_line(&c, "max_recipients -1", 17, &e), -1);
	ck_assert_int_eq(conf_parse_line(&c, "max_message_size 99999999999999g",
	    32, &e), -1);				/* overflow */
	ck_assert_int_eq(conf_parse_line(&c, "command_timeout 5x", 18, &e), -1);
	ck_assert_int_eq(conf_parse_line(&c, "nosuchkey 1", 11, &e), -1);
	ck_assert_str_eq(e, "unknown key");
	ck_assert_int_eq(conf_parse_line(&c, "max_errors", 10, &e), -1);
	ck_assert_str_eq(e, "missing value");
	ck_assert_int_eq(conf_parse_line(&c, "spool /a\0b", 10, &e), -1);
	ck_assert_int_eq(conf_parse_line(&c, "spool var/spool", 15, &e), -1);
	ck_assert_str_eq(e, "must be an absolute path");
	ck_assert_int_eq(conf_parse_line(&c, "resolver 127.0.0.1:99999", 24,
	    &e), -1);
	ck_assert_int_eq(conf_parse_line(&c, "resolver ns.example.net", 23,
	    &e), -1);
	ck_assert_int_eq(conf_parse_line(&c, "resolver 127.0.0.1:5353", 23,
	    &e), 0);
	ck_assert_int_eq(conf_parse_line(&c, "users ldap", 10, &e), -1);
	ck_assert_int_eq(conf_parse_line(&c, "users passwd-file:/etc/x", 24,
	    &e), 0);
	ck_assert_int_eq(conf_parse_line(&c, "mailbox /var/mail/%u", 20, &e),
	    -1);
	ck_assert_int_eq(conf_parse_line(&c, "max_errors 0", 12, &e), -1);
	ck_assert_str_eq(e, "value out of range");
	ck_assert_int_eq(conf_parse_line(&c, "command_timeout 30d", 19, &e),
	    -1);
	ck_assert_int_eq(conf_parse_line(&c, "hostname", 8, &e), -1);
}
END_TEST

START_TEST(conf_file_errors)
{
	struct conf	c;
	char		path[] = "/tmp/check_confXXXXXX", err[2048];
	FILE		*fp;
	int		fd;

	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	fp = fdopen(fd, "w");
	fprintf(fp, "# test\nspool /tmp/x\n\nmax_recipients lots\n");
	fclose(fp);
	ck_assert_int_eq(conf_read(&c, path, err, sizeof(err)), -1);
	ck_assert_str_eq(err + strlen(path), ":4: bad number");
	ck_assert_int_eq(strncmp(err, path, strlen(path)), 0);
	fp = fopen(path, "w");
	fprintf(fp, "spool /tmp/x\n");
	fclose(fp);
	ck_assert_int_eq(conf_read(&c, path, err, sizeof(err)), 0);
	ck_assert_str_eq(c.trigger, "/tmp/x/trigger");	/* follows spool */
	fp = fopen(path, "w");
	fprintf(fp, "trigger none\nresolver 127.0.0.1:5353\n");
	fclose(fp);
	ck_assert_int_eq(conf_read(&c, path, err, sizeof(err)), 0);
	ck_assert_str_eq(c.trigger, "");
	ck_assert_str_eq(c.resolver, "127.0.0.1:5353");
	unlink(path);
	ck_assert_int_eq(conf_read(&c, path, err, sizeof(err)), -1);	/* -C */
}
END_TEST

START_TEST(conf_units)
{
	long long	v;

	ck_assert_int_eq(conf_parse_time("16h", &v), 0);
	ck_assert_int_eq(v, 16 * 3600);
	ck_assert_int_eq(conf_parse_time("5d", &v), 0);
	ck_assert_int_eq(v, 5 * 86400);
	ck_assert_int_eq(conf_parse_time("1w", &v), 0);
	ck_assert_int_eq(v, 7 * 86400);
	ck_assert_int_eq(conf_parse_time("", &v), -1);
	ck_assert_int_eq(conf_parse_size("1g", &v), 0);
	ck_assert_int_eq(v, 1024LL * 1024 * 1024);
	ck_assert_int_eq(conf_parse_size("12kb", &v), -1);
}
END_TEST

/* The smart host's forms: sendmail's, with an optional port. */
START_TEST(conf_smarthost)
{
	static const char *const good[] = { "none", "mail.isp.example",
	    "[mail.isp.example]", "[mail.isp.example]:587", "[192.0.2.25]",
	    "[127.0.0.1]:2525", "[::1]:25", "myISP", "relay:2525" };
	static const char *const bad[] = { "[mail.isp.example", "[]", "[]:25",
	    "host:", "host:0", "host:65536", "host:12345678", "a b", "ho/st",
	    "[host]x", "[host]:x", ":25", "" };
	struct conf	 c;
	const char	*e;
	char		 line[300];
	size_t		 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		conf_defaults(&c);
		snprintf(line, sizeof(line), "smarthost %s", good[i]);
		ck_assert_msg(conf_parse_line(&c, line, strlen(line), &e) == 0,
		    "%s refused", good[i]);
		conf_finish(&c);
		ck_assert_str_eq(c.smarthost, strcmp(good[i], "none") ? good[i] :
		    "");
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		conf_defaults(&c);
		snprintf(line, sizeof(line), "smarthost %s", bad[i]);
		ck_assert_msg(conf_parse_line(&c, line, strlen(line), &e) == -1,
		    "%s accepted", bad[i]);
	}
	conf_defaults(&c);
	ck_assert_int_eq(c.smtp_port, 25);
	ck_assert_int_eq(c.smtp_timeout, 300);
	ck_assert_str_eq(c.hold_expensive, "no");
	ck_assert_int_eq(conf_parse_line(&c, "hold_expensive maybe", 20, &e),
	    -1);
	ck_assert_int_eq(conf_parse_line(&c, "smtp_port 0", 11, &e), -1);
	ck_assert_int_eq(conf_parse_line(&c, "tls_policy rel/path", 19, &e),
	    -1);
}
END_TEST

/*
 * etc/inetmail.conf.sample names every key with its default, commented
 * out: each "#key<TAB>value" line, uncommented, must parse, and the keys
 * listed here (the newer ones) must be there.
 */
START_TEST(conf_sample)
{
	static const char *const keys[] = { "hostname", "spool", "smarthost",
	    "smtp_port", "expensive", "hold_expensive", "smtp_secrets",
	    "tls_policy", "tls_ca_file", "smtp_connect_timeout", "smtp_timeout",
	    "smtp_reuse", "queue_workers", "queuewarn", "queuereturn",
	    "max_deliveries", "pop3_timeout" };
	struct conf	 c;
	const char	*e;
	char		 line[4096], seen[4096] = " ", *p, *q;
	FILE		*fp;
	size_t		 len, i, n = 0;

	snprintf(line, sizeof(line), "%s/etc/inetmail.conf.sample",
	    getenv("TOP_SRCDIR") ? getenv("TOP_SRCDIR") : "..");
	fp = fopen(line, "r");
	ck_assert_ptr_nonnull(fp);
	conf_defaults(&c);
	while (fgets(line, sizeof(line), fp) != NULL) {
		len = strcspn(line, "\n");
		line[len] = '\0';
		if (line[0] != '#' || line[1] < 'a' || line[1] > 'z' ||
		    strchr(line, '\t') == NULL)
			continue;
		/* configure's @localstatedir@ (a path), @SPOOL_USER@ (a name) */
		while ((p = strchr(line, '@')) != NULL &&
		    (q = strchr(p + 1, '@')) != NULL) {
			memmove(p + 2, q + 1, strlen(q + 1) + 1);
			memcpy(p, p[1] >= 'a' ? "/x" : "xx", 2);
		}
		len = strlen(line);
		ck_assert_msg(conf_parse_line(&c, line + 1, len - 1, &e) == 0,
		    "sample line \"%s\": %s", line, e);
		line[1 + strcspn(line + 1, " \t")] = '\0';
		strlcat(seen, line + 1, sizeof(seen));
		strlcat(seen, " ", sizeof(seen));
		n++;
	}
	fclose(fp);
	ck_assert_uint_gt(n, 30);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(line, sizeof(line), " %s ", keys[i]);
		ck_assert_msg(strstr(seen, line) != NULL, "%s not in the sample",
		    keys[i]);
	}
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite	*s = suite_create("conf");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, conf_lines);
	tcase_add_test(tc, conf_file_errors);
	tcase_add_test(tc, conf_units);
	tcase_add_test(tc, conf_smarthost);
	tcase_add_test(tc, conf_sample);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(conf_suite)
