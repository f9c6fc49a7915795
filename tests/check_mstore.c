/* Unit tests for src/lib/mstore.c, mstore_index.c and base64.c */
#include "config.h"

#include <sys/file.h>
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
	char		err[256], u0[MSTORE_UIDSIZE], u2[MSTORE_UIDSIZE];
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
	mstore_uid(&st.m[0], u0);
	mstore_uid(&st.m[2], u2);
	ck_assert_str_ne(u0, u2);
	ck_assert_int_eq(strncmp(u0, u2, MSTORE_UIDLEN), 0);
	ck_assert_str_eq(u2 + MSTORE_UIDLEN, "-2");
	/* the SHA-256 of "Subject: one\n\n", as before the index (no change) */
	ck_assert_str_eq(u0, "f648631d6be37d6b6989fbbf5363eae0");
	buf_free(&b);
	mstore_close(&st);
}
END_TEST

START_TEST(mstore_in_use_and_commit)
{
	struct mstore	st, other;
	char		err[256], uid2[MSTORE_UIDSIZE], u[MSTORE_UIDSIZE];
	char		buf[4096];
	int		fd;
	ssize_t		n;

	ck_assert_int_eq(mstore_open(&st, path, 5, err, sizeof(err)), 0);
	ck_assert_int_eq(mstore_open(&other, path, 5, err, sizeof(err)), 1);
	mstore_close(&other);
	mstore_uid(&st.m[1], uid2);
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
	mstore_uid(&st.m[0], u);
	ck_assert_str_eq(u, uid2);		/* survives the deletion */
	mstore_uid(&st.m[1], u);
	ck_assert_str_eq(u + MSTORE_UIDLEN, "");	/* now alone */
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

/* The index: MBOX.qpop3d-index, written at close when it was not current. */
static char	ixpath[160];

/* Opens, checks the index's verdict, and compares with a scan without it. */
static void
open_expect(struct mstore *st, const char *status)
{
	struct mstore	fresh;
	char		err[256], a[MSTORE_UIDSIZE], b[MSTORE_UIDSIZE], keep[200];
	size_t		i;

	ck_assert_int_eq(mstore_open(st, path, 5, err, sizeof(err)), 0);
	ck_assert_str_eq(st->ix_status, status);
	/* the same as a scan with no index at all */
	snprintf(keep, sizeof(keep), "%s.keep", ixpath);
	(void)rename(ixpath, keep);
	flock(st->fd, LOCK_UN);
	ck_assert_int_eq(mstore_open(&fresh, path, 5, err, sizeof(err)), 0);
	fresh.ix_dirty = 0;		/* leave the index alone */
	ck_assert_uint_eq(fresh.n, st->n);
	ck_assert_int_eq(fresh.snap, st->snap);
	for (i = 0; i < st->n; i++) {
		ck_assert_int_eq(fresh.m[i].start, st->m[i].start);
		ck_assert_int_eq(fresh.m[i].body, st->m[i].body);
		ck_assert_int_eq(fresh.m[i].end, st->m[i].end);
		ck_assert_int_eq(fresh.m[i].next, st->m[i].next);
		ck_assert_uint_eq(fresh.m[i].size, st->m[i].size);
		mstore_uid(&fresh.m[i], a);
		mstore_uid(&st->m[i], b);
		ck_assert_str_eq(a, b);
	}
	mstore_close(&fresh);
	(void)rename(keep, ixpath);
	ck_assert_int_eq(flock(st->fd, LOCK_EX | LOCK_NB), 0);
}

static void
append(const char *p)
{
	int	fd = open(path, O_WRONLY | O_APPEND);

	ck_assert_int_eq(write(fd, p, strlen(p)), (ssize_t)strlen(p));
	close(fd);
}

START_TEST(index_build_and_reuse)
{
	struct mstore	st;
	struct stat	sb;

	snprintf(ixpath, sizeof(ixpath), "%s%s", path, MSTORE_INDEX_SUFFIX);
	open_expect(&st, "built");
	mstore_close(&st);
	ck_assert_int_eq(stat(ixpath, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(sb.st_size, (off_t)mstore_index_len(3));
	open_expect(&st, "reused");
	ck_assert_uint_eq(st.n, 3);
	ck_assert_int_eq(st.ix_dirty, 0);
	mstore_close(&st);
	open_expect(&st, "reused");
	mstore_close(&st);
}
END_TEST

START_TEST(index_appended_tail)
{
	struct mstore	st;

	snprintf(ixpath, sizeof(ixpath), "%s%s", path, MSTORE_INDEX_SUFFIX);
	open_expect(&st, "built");
	mstore_close(&st);
	append("From new@x Wed Nov 25 12:00:09 2026\nSubject: one\n\nline\n");
	open_expect(&st, "appended");
	ck_assert_uint_eq(st.n, 4);
	mstore_close(&st);
	/* the last message was open: its header grows, then a message more */
	append(">From quoted\n>>From twice\n.dot\n\nFrom z Thu Nov 26 1:00:00 2026"
	    "\nSubject: three");
	open_expect(&st, "appended");
	ck_assert_uint_eq(st.n, 5);
	mstore_close(&st);
	append("\nX: y\n\nbody\n");
	open_expect(&st, "appended");
	mstore_close(&st);
	open_expect(&st, "reused");
	mstore_close(&st);
}
END_TEST

/* Replaces the mailbox's bytes in place (same inode). */
static void
rewrite(const char *p, size_t len)
{
	int	fd = open(path, O_WRONLY | O_TRUNC);

	ck_assert_int_eq(write(fd, p, len), (ssize_t)len);
	close(fd);
}

START_TEST(index_rewritten_mailbox)
{
	static const char other[] = "From x@y Wed Nov 25 12:00:00 2026\n"
	    "Subject: other\n\nbody\n";
	struct mstore	st;
	char		grown[sizeof(mbox) + 16];
	struct timespec	ts[2];
	int		fd;

	snprintf(ixpath, sizeof(ixpath), "%s%s", path, MSTORE_INDEX_SUFFIX);
	open_expect(&st, "built");
	mstore_close(&st);
	rewrite(other, sizeof(other) - 1);		/* truncated */
	open_expect(&st, "rebuilt-changed");
	mstore_close(&st);
	rewrite(mbox, sizeof(mbox) - 1);
	open_expect(&st, "rebuilt-changed");
	mstore_close(&st);
	/* the same size, another mtime: a rewrite in place */
	rewrite(mbox, sizeof(mbox) - 1);
	ts[0].tv_sec = ts[1].tv_sec = 1000000000;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
	open_expect(&st, "rebuilt-changed");
	mstore_close(&st);
	/* grown by a header in the first message: the rest moved */
	memcpy(grown, mbox, 39);
	memcpy(grown + 39, "Status: RO\n", 11);
	memcpy(grown + 50, mbox + 39, sizeof(mbox) - 39);
	rewrite(grown, sizeof(mbox) - 1 + 11);
	open_expect(&st, "rebuilt-changed");
	mstore_close(&st);
	/* another file in its place */
	ck_assert_int_eq(unlink(path), 0);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_eq(write(fd, other, sizeof(other) - 1),
	    (ssize_t)sizeof(other) - 1);
	close(fd);
	open_expect(&st, "rebuilt-changed");
	mstore_close(&st);
}
END_TEST

/* Writes bytes as the index file. */
static void
put_index(const void *p, size_t len, mode_t mode)
{
	int	fd;

	(void)unlink(ixpath);
	fd = open(ixpath, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	ck_assert_int_eq(write(fd, p, len), (ssize_t)len);
	close(fd);
}

/* Reads the index file into p (room for len); returns its length. */
static size_t
get_index(unsigned char *p, size_t len)
{
	int	fd = open(ixpath, O_RDONLY);
	ssize_t	n = read(fd, p, len);

	close(fd);
	ck_assert_int_gt(n, 0);
	return (size_t)n;
}

START_TEST(index_damaged)
{
	struct mstore	st;
	unsigned char	good[4096], bad[4096];
	size_t		len, i;

	snprintf(ixpath, sizeof(ixpath), "%s%s", path, MSTORE_INDEX_SUFFIX);
	open_expect(&st, "built");
	mstore_close(&st);
	len = get_index(good, sizeof(good));
	put_index("", 0, 0600);
	open_expect(&st, "rebuilt-damaged");
	mstore_close(&st);		/* and writes a good one */
	open_expect(&st, "reused");
	mstore_close(&st);
	for (i = 0; i < sizeof(bad); i++)
		bad[i] = (unsigned char)(i * 7919 >> 3);
	put_index(bad, sizeof(bad), 0600);	/* garbage */
	open_expect(&st, "rebuilt-damaged");
	mstore_close(&st);
	for (i = 0; i < len; i += 13) {		/* a byte off, anywhere */
		memcpy(bad, good, len);
		bad[i] ^= 0x20;
		put_index(bad, len, 0600);
		open_expect(&st, "rebuilt-damaged");
		st.ix_dirty = 0;
		mstore_close(&st);
	}
	put_index(good, len - 1, 0600);		/* truncated */
	open_expect(&st, "rebuilt-damaged");
	st.ix_dirty = 0;
	mstore_close(&st);
	put_index(good, len, 0620);	/* writable by others: not ours */
	open_expect(&st, "rebuilt-foreign");
	mstore_close(&st);
	put_index(good, len, 0600);
	ck_assert_int_eq(chown(ixpath, 1, 1), 0);	/* someone else's */
	open_expect(&st, "rebuilt-foreign");
	mstore_close(&st);
	ck_assert_int_eq(unlink(ixpath), 0);
	ck_assert_int_eq(symlink("/etc/passwd", ixpath), 0);
	open_expect(&st, "rebuilt-unreadable");
	mstore_close(&st);
}
END_TEST

START_TEST(index_past_eof)
{
	struct mstore		 st;
	struct mstore_index	 ix;
	struct mstore_msg	 m[3];
	const char		*why;
	unsigned char		 img[4096];
	size_t			 len;

	snprintf(ixpath, sizeof(ixpath), "%s%s", path, MSTORE_INDEX_SUFFIX);
	open_expect(&st, "built");
	mstore_close(&st);
	len = get_index(img, sizeof(img));
	ck_assert_int_eq(mstore_index_parse(img, len, &ix, m, 3, &why), 0);
	/* a consistent index of a longer mailbox, well formed */
	ix.size += 100;
	m[2].next += 100;
	m[2].end += 100;
	mstore_index_encode(&ix, m, img);
	ck_assert_int_eq(mstore_index_parse(img, len, &ix, m, 3, &why), 0);
	put_index(img, len, 0600);
	open_expect(&st, "rebuilt-changed");
	mstore_close(&st);
	/* a message past the size it claims: refused by the parser */
	len = get_index(img, sizeof(img));
	ck_assert_int_eq(mstore_index_parse(img, len, &ix, m, 3, &why), 0);
	m[2].next += 100;
	mstore_index_encode(&ix, m, img);
	ck_assert_int_eq(mstore_index_parse(img, len, &ix, m, 3, &why), -1);
	put_index(img, len, 0600);
	open_expect(&st, "rebuilt-damaged");
	mstore_close(&st);
}
END_TEST

/* Index images that are well formed but say impossible things. */
static const struct {
	int		 msg, field;	/* field: 0 start 1 body 2 end 3 next 4 size */
	long long	 delta;
} lies[] = {
	{ 0, 0, 100 }, { 0, 1, -100 }, { 1, 0, -1 }, { 1, 1, 1000 },
	{ 1, 2, -100 }, { 2, 3, -1 }, { 2, 3, 1 }, { 0, 4, 10000 },
	{ 1, 0, 1 }, { 2, 1, -1000 },
};

START_TEST(index_parse_lies)
{
	struct mstore		 st;
	struct mstore_index	 ix;
	struct mstore_msg	 m[3];
	const char		*why;
	unsigned char		 img[4096];
	char			 err[256];
	size_t			 len;
	off_t			*f;

	snprintf(ixpath, sizeof(ixpath), "%s%s", path, MSTORE_INDEX_SUFFIX);
	ck_assert_int_eq(mstore_open(&st, path, 5, err, sizeof(err)), 0);
	mstore_close(&st);
	len = get_index(img, sizeof(img));
	ck_assert_int_eq(mstore_index_parse(img, len, &ix, m, 3, &why), 0);
	if (lies[_i].field == 4)
		m[lies[_i].msg].size += (size_t)lies[_i].delta;
	else {
		f = lies[_i].field == 0 ? &m[lies[_i].msg].start :
		    lies[_i].field == 1 ? &m[lies[_i].msg].body :
		    lies[_i].field == 2 ? &m[lies[_i].msg].end :
		    &m[lies[_i].msg].next;
		*f += lies[_i].delta;
	}
	mstore_index_encode(&ix, m, img);
	ck_assert_int_eq(mstore_index_parse(img, len, &ix, m, 3, &why), -1);
	ck_assert_int_eq(mstore_index_parse(img, len, &ix, NULL, 0, &why), -1);
}
END_TEST

START_TEST(index_after_commit)
{
	struct mstore	st;
	char		err[256];

	snprintf(ixpath, sizeof(ixpath), "%s%s", path, MSTORE_INDEX_SUFFIX);
	open_expect(&st, "built");
	append("From new@x Wed Nov 25 12:00:09 2026\nnew\n\n");	/* meanwhile */
	st.m[1].deleted = 1;
	ck_assert_int_eq(mstore_commit(&st, 5, err, sizeof(err)), 1);
	mstore_close(&st);
	open_expect(&st, "appended");	/* the index of the new mailbox */
	ck_assert_uint_eq(st.n, 3);
	st.m[2].deleted = 1;		/* the last one */
	ck_assert_int_eq(mstore_commit(&st, 5, err, sizeof(err)), 1);
	mstore_close(&st);
	open_expect(&st, "reused");
	ck_assert_uint_eq(st.n, 2);
	st.m[0].deleted = st.m[1].deleted = 1;
	ck_assert_int_eq(mstore_commit(&st, 5, err, sizeof(err)), 2);
	mstore_close(&st);
	open_expect(&st, "rebuilt-changed");	/* none kept: no new index */
	ck_assert_uint_eq(st.n, 0);
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
	tcase_add_test(tc, index_build_and_reuse);
	tcase_add_test(tc, index_appended_tail);
	tcase_add_test(tc, index_rewritten_mailbox);
	tcase_add_test(tc, index_damaged);
	tcase_add_test(tc, index_past_eof);
	tcase_add_loop_test(tc, index_parse_lies, 0,
	    sizeof(lies) / sizeof(lies[0]));
	tcase_add_test(tc, index_after_commit);
	tcase_add_loop_test(tc, base64_table, 0, sizeof(b64) / sizeof(b64[0]));
	tcase_add_loop_test(tc, base64_encode_rfc4648, 0,
	    sizeof(b64enc) / sizeof(b64enc[0]));
	tcase_add_test(tc, base64_encode_binary);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(mstore_suite)
