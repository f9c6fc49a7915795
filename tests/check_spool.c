/* Unit tests for src/lib/spool.c, spool_env.c and qid.c */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "spool.h"

static char	dir[64];

static void
setup(void)
{
	strcpy(dir, "/tmp/check_spoolXXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char	cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)system(cmd);
}

static int
count(const char *sub)
{
	char		 path[128];
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	snprintf(path, sizeof(path), "%s/spool/%s", dir, sub);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

START_TEST(qid_shape)
{
	char	a[QID_LEN + 1], b[QID_LEN + 1];

	qid_make(a);
	qid_make(b);
	ck_assert_int_eq(qid_valid(a), 1);
	ck_assert_int_ne(strcmp(a, b), 0);
	ck_assert_int_lt(strcmp(a, b), 0);	/* sorted by arrival */
	ck_assert_int_eq(qid_valid("../etc/passwd.x"), 0);
	ck_assert_int_eq(qid_valid("short"), 0);
}
END_TEST

START_TEST(spool_roundtrip)
{
	struct spool_msg	 m;
	struct spool_env	 e, got;
	struct spool_rcpt	 r[2];
	const char		*errstr;
	char			 sp[96], path[160], buf[4096];
	size_t			 hdrlen;
	ssize_t			 n;
	int			 fd;

	snprintf(sp, sizeof(sp), "%s/spool", dir);
	ck_assert_int_eq(spool_msg_open(sp, &m, &errstr), 0);	/* lays out */
	memset(&e, 0, sizeof(e));
	memset(r, 0, sizeof(r));
	e.arrival = 1700000000;
	strcpy(e.sender, "\"evil\r\nrcpt x@y\"@example.com");
	strcpy(e.helo, "h e%lo");
	strcpy(e.proto, "ESMTP");
	strcpy(r[0].addr, "samt@localhost");
	strcpy(r[0].notify, "SUCCESS,FAILURE");
	strcpy(r[1].addr, "x@example.org");
	strcpy(r[1].orcpt, "rfc822;x@example.org");
	e.rcpts = r;
	e.nrcpt = 2;
	ck_assert_int_eq(spool_msg_env(&m, &e), 0);
	ck_assert_int_eq(spool_msg_write(&m, "Subject: x\n\nbody\n", 17), 0);
	ck_assert_int_eq(count("tmp"), 1);
	ck_assert_int_eq(count("queue"), 0);	/* nothing visible yet */
	ck_assert_int_eq(spool_msg_commit(&m), 0);
	ck_assert_int_eq(count("tmp"), 0);
	ck_assert_int_eq(count("queue"), 1);

	snprintf(path, sizeof(path), "%s/queue/%s", sp, m.id);
	fd = open(path, O_RDONLY);
	ck_assert_int_ne(fd, -1);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	/* the CR LF in the sender cannot make a line of its own */
	ck_assert_ptr_nonnull(strstr(buf,
	    "\nsender \"evil%0D%0Arcpt%20x@y\"@example.com\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\nhelo h%20e%25lo\n"));
	ck_assert_int_eq(spool_env_parse(buf, (size_t)n, &got, &hdrlen,
	    &errstr), 0);
	ck_assert_str_eq(got.id, m.id);
	ck_assert_str_eq(got.sender, e.sender);
	ck_assert_str_eq(got.helo, "h e%lo");
	ck_assert_int_eq(got.arrival, 1700000000);
	ck_assert_uint_eq(got.nrcpt, 2);
	ck_assert_str_eq(got.rcpts[0].notify, "SUCCESS,FAILURE");
	ck_assert_str_eq(got.rcpts[1].orcpt, "rfc822;x@example.org");
	ck_assert_str_eq(buf + hdrlen, "Subject: x\n\nbody\n");
	spool_env_free(&got);
}
END_TEST

START_TEST(spool_abort_leaves_nothing)
{
	struct spool_msg	 m;
	const char		*errstr;
	char			 sp[96];

	snprintf(sp, sizeof(sp), "%s/spool", dir);
	ck_assert_int_eq(spool_msg_open(sp, &m, &errstr), 0);
	ck_assert_int_eq(spool_msg_write(&m, "x", 1), 0);
	spool_msg_abort(&m);
	ck_assert_int_eq(count("tmp"), 0);
	ck_assert_int_eq(count("queue"), 0);
}
END_TEST

static const struct {
	const char *in, *err;
} bad_env[] = {
	{ "", "not an inetmail queue file (version line)" },
	{ "inetmail-queue 2\n", "not an inetmail queue file (version line)" },
	{ "inetmail-queue 1\nid 1xWBSo1lMf01H61\nrcpt a@b\n",
	    "envelope not terminated" },
	{ "inetmail-queue 1\nid 1xWBSo1lMf01H61\n\n", "no recipients" },
	{ "inetmail-queue 1\nrcpt a@b\n\n", "no queue ID" },
	{ "inetmail-queue 1\nid ../../etc/pass\n\n", "bad value" },
	{ "inetmail-queue 1\nid 1xWBSo1lMf01H61\nrcpt a%00b\n\n", "bad value" },
	{ "inetmail-queue 1\nid 1xWBSo1lMf01H61\nrcpt a%4\n\n", "bad value" },
	{ "inetmail-queue 1\nid 1xWBSo1lMf01H61\nbogus 1\n\n",
	    "unknown envelope line" },
	{ "inetmail-queue 1\nnotify NEVER\n\n", "unknown envelope line" },
};

START_TEST(spool_env_bad)
{
	struct spool_env	 e;
	const char		*errstr = NULL;
	size_t			 hl;

	ck_assert_int_eq(spool_env_parse(bad_env[_i].in,
	    strlen(bad_env[_i].in), &e, &hl, &errstr), -1);
	ck_assert_str_eq(errstr, bad_env[_i].err);
	ck_assert_ptr_null(e.rcpts);
}
END_TEST

static Suite *
spool_suite(void)
{
	Suite	*s = suite_create("spool");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, qid_shape);
	tcase_add_test(tc, spool_roundtrip);
	tcase_add_test(tc, spool_abort_leaves_nothing);
	tcase_add_loop_test(tc, spool_env_bad, 0,
	    sizeof(bad_env) / sizeof(bad_env[0]));
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(spool_suite)
