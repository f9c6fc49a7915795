/* Unit tests for src/lib/mstore.c and base64.c */
#include "config.h"

#include <sys/stat.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "base64.h"
#include "buf.h"
#include "check_util.h"
#include "mstore.h"

static char	dir[64], path[128];

static const char mbox[] =
    "From a@b.org Wed Nov 25 12:00:00 2026\n"
    "Subject: one\n\nline\n>From quoted\n>>From twice\n.dot\n\n"
    "From c@d.org Wed Nov 25 12:00:01 2026\n"
    "Subject: two\r\nStatus: RO\n\nbody with no end"
    "\n\n"
    "From a@b.org Wed Nov 25 12:00:00 2026\n"
    "Subject: one\n\nline\n>From quoted\n>>From twice\n.dot\n\n";

/* What RETR must send for messages 1 and 2. */
static const char wire1[] = "Subject: one\r\n\r\nline\r\nFrom quoted\r\n"
    ">From twice\r\n..dot\r\n";
static const char wire2[] = "Subject: two\r\nStatus: RO\r\n\r\nbody with no "
    "end\r\n";

static void
setup(void)
{
	int	fd;

	strcpy(dir, "/tmp/check_mstoreXXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/samt", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_eq(write(fd, mbox, sizeof(mbox) - 1),
	    (ssize_t)sizeof(mbox) - 1);
	close(fd);
}

static void
teardown(void)
{
	char	cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)system(cmd);
}

static int
collect(void *arg, const char *p, size_t n)
{
	return buf_append(arg, p, n);
}

START_TEST(mstore_sizes_match_retr)
{
	struct mstore	st;
	struct buf	b;
	char		err[256];
	size_t		i;

	ck_assert_int_eq(mstore_open(&st, path, 5, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.n, 3);
	buf_init(&b, 1 << 20);
	for (i = 0; i < st.n; i++) {
		buf_reset(&b);
		ck_assert_int_eq(mstore_send(&st, i, -1, collect, &b), 0);
		ck_assert_uint_eq(b.len, st.m[i].size);	/* LIST == RETR */
		if (i == 0)
			ck_assert_str_eq(b.data, wire1);
		if (i == 1)
			ck_assert_str_eq(b.data, wire2);
	}
	buf_reset(&b);
	ck_assert_int_eq(mstore_send(&st, 0, 1, collect, &b), 0);
	ck_assert_str_eq(b.data, "Subject: one\r\n\r\nline\r\n");	/* TOP 1 1 */
	buf_reset(&b);
	ck_assert_int_eq(mstore_send(&st, 1, 0, collect, &b), 0);
	ck_assert_str_eq(b.data, "Subject: two\r\nStatus: RO\r\n\r\n");
	/* identical messages get distinct UIDs; the UIDs are stable */
	ck_assert_str_ne(st.m[0].uid, st.m[2].uid);
	ck_assert_int_eq(strncmp(st.m[0].uid, st.m[2].uid, MSTORE_UIDLEN), 0);
	ck_assert_str_eq(st.m[2].uid + MSTORE_UIDLEN, "-2");
	buf_free(&b);
	mstore_close(&st);
}
END_TEST

START_TEST(mstore_in_use_and_commit)
{
	struct mstore	st, other;
	char		err[256], uid2[64], buf[4096];
	int		fd;
	ssize_t		n;

	ck_assert_int_eq(mstore_open(&st, path, 5, err, sizeof(err)), 0);
	ck_assert_int_eq(mstore_open(&other, path, 5, err, sizeof(err)), 1);
	mstore_close(&other);
	strcpy(uid2, st.m[1].uid);
	/* mail that arrives during the session */
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, "From new@x Wed Nov 25 12:00:09 2026\nnew\n\n",
	    41), 41);
	close(fd);
	st.m[0].deleted = 1;
	ck_assert_int_eq(mstore_commit(&st, 5, err, sizeof(err)), 1);
	mstore_close(&st);
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n] = '\0';
	ck_assert_int_eq(strncmp(buf, "From c@d.org", 12), 0);
	ck_assert_ptr_nonnull(strstr(buf, "\n\nFrom new@x "));
	ck_assert_int_eq(mstore_open(&st, path, 5, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.n, 3);
	ck_assert_str_eq(st.m[0].uid, uid2);	/* survives the deletion */
	ck_assert_str_eq(st.m[1].uid + MSTORE_UIDLEN, "");	/* now alone */
	mstore_close(&st);
}
END_TEST

START_TEST(mstore_crlf_mailbox)
{
	static const char crlf[] = "From a@b Wed Nov 25 12:00:00 2026\r\n"
	    "Subject: x\r\n\r\nbody\r\n\r\n"
	    "From c@d Wed Nov 25 12:00:01 2026\r\nSubject: y\r\n\r\n";
	struct mstore	st;
	struct buf	b;
	char		err[256];
	int		fd;

	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, crlf, sizeof(crlf) - 1),
	    (ssize_t)sizeof(crlf) - 1);
	close(fd);
	ck_assert_int_eq(mstore_open(&st, path, 5, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.n, 2);
	buf_init(&b, 4096);
	ck_assert_int_eq(mstore_send(&st, 0, -1, collect, &b), 0);
	ck_assert_str_eq(b.data, "Subject: x\r\n\r\nbody\r\n");
	ck_assert_uint_eq(st.m[0].size, b.len);
	buf_reset(&b);
	ck_assert_int_eq(mstore_send(&st, 1, -1, collect, &b), 0);
	ck_assert_str_eq(b.data, "Subject: y\r\n");	/* the blank separates */
	ck_assert_uint_eq(st.m[1].size, b.len);
	buf_free(&b);
	mstore_close(&st);
}
END_TEST

START_TEST(mstore_missing_is_empty)
{
	struct mstore	st;
	char		err[256], p[160];

	snprintf(p, sizeof(p), "%s/nobody", dir);
	ck_assert_int_eq(mstore_open(&st, p, 5, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.n, 0);
	ck_assert_int_eq(mstore_commit(&st, 5, err, sizeof(err)), 0);
	mstore_close(&st);
}
END_TEST

static const struct {
	const char	*in;
	long		 len;
	const char	*out;
} b64[] = {
	{ "AHNhbXQAbXlwYXNzd29yZA==", 16, "\0samt\0mypassword" },
	{ "Zm9v", 3, "foo" },
	{ "Zm8=", 2, "fo" },
	{ "", 0, "" },
	{ "Zm9", -1, NULL },
	{ "Zm=v", -1, NULL },
	{ "Zm9v====", -1, NULL },
	{ "Z!9v", -1, NULL },
	{ "Zm9=", -1, NULL },		/* leftover bits not zero */
};

START_TEST(base64_table)
{
	unsigned char	out[64];
	long		n;

	n = base64_decode(b64[_i].in, strlen(b64[_i].in), out, sizeof(out));
	ck_assert_int_eq(n, b64[_i].len);
	if (n > 0)
		ck_assert_mem_eq(out, b64[_i].out, (size_t)n);
	ck_assert_int_eq(base64_decode("Zm9vYmFy", 8, out, 5), -1);	/* room */
}
END_TEST

/* RFC 4648 10 */
static const char *const b64enc[][2] = {
	{ "", "" },		{ "f", "Zg==" },	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },	{ "foob", "Zm9vYg==" },	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

START_TEST(base64_encode_rfc4648)
{
	const char	*in = b64enc[_i][0], *want = b64enc[_i][1];
	size_t		 wl = strlen(want);
	char		 out[16];

	memset(out, 'X', sizeof(out));
	ck_assert_int_eq(base64_encode((const unsigned char *)in, strlen(in),
	    out, wl + 1), (long)wl);
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(out[wl + 1], 'X');		/* not a byte more */
	/* no room for the NUL: -1, and nothing written */
	memset(out, 'X', sizeof(out));
	ck_assert_int_eq(base64_encode((const unsigned char *)in, strlen(in),
	    out, wl), -1);
	ck_assert_int_eq(out[0], 'X');
	ck_assert_int_eq(base64_encode((const unsigned char *)in, strlen(in),
	    out, 0), -1);
}
END_TEST

START_TEST(base64_encode_binary)
{
	const unsigned char	in[] = { 0, 's', 'a', 'm', 't', 0, 'p', 0xff };
	char			out[16];

	ck_assert_int_eq(base64_encode(in, sizeof(in), out, sizeof(out)), 12);
	ck_assert_str_eq(out, "AHNhbXQAcP8=");
}
END_TEST

START_TEST(apop_rfc1939_example)
{
	char	secrets[160];
	FILE	*fp;

	snprintf(secrets, sizeof(secrets), "%s/apop", dir);
	fp = fopen(secrets, "w");
	fprintf(fp, "other:x\nmrose:tanstaaf\n");
	fclose(fp);
	/* RFC 1939 7, the example */
	ck_assert_int_eq(auth_apop(secrets, "mrose",
	    "<1896.697170952@dbc.mtview.ca.us>",
	    "c4c9334bac560ecc979e58001b3e22fb"), 1);
	ck_assert_int_eq(auth_apop(secrets, "mrose",
	    "<1896.697170953@dbc.mtview.ca.us>",
	    "c4c9334bac560ecc979e58001b3e22fb"), 0);
	ck_assert_int_eq(auth_apop(secrets, "nobody",
	    "<1896.697170952@dbc.mtview.ca.us>",
	    "c4c9334bac560ecc979e58001b3e22fb"), 0);
	ck_assert_int_eq(auth_apop("/nonexistent", "mrose", "<x>", "00"), -1);
}
END_TEST

static Suite *
mstore_suite(void)
{
	Suite	*s = suite_create("mstore");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, mstore_sizes_match_retr);
	tcase_add_test(tc, mstore_in_use_and_commit);
	tcase_add_test(tc, mstore_missing_is_empty);
	tcase_add_test(tc, mstore_crlf_mailbox);
	tcase_add_test(tc, apop_rfc1939_example);
	tcase_add_loop_test(tc, base64_table, 0, sizeof(b64) / sizeof(b64[0]));
	tcase_add_loop_test(tc, base64_encode_rfc4648, 0,
	    sizeof(b64enc) / sizeof(b64enc[0]));
	tcase_add_test(tc, base64_encode_binary);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(mstore_suite)
