/* Unit tests for src/lib/state.c, mbox.c, expand.c and header.c */
#include "config.h"

#include <sys/stat.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "expand.h"
#include "header.h"
#include "mbox.h"
#include "state.h"

static char	dir[64];

static void
setup(void)
{
	strcpy(dir, "/tmp/check_deliverXXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char	cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)system(cmd);
}

static char *
slurp(const char *path, size_t *len)
{
	static char	buf[65536];
	int		fd = open(path, O_RDONLY);
	ssize_t		n;

	ck_assert_int_ne(fd, -1);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

START_TEST(state_roundtrip)
{
	struct spool_rcpt	 r[2];
	struct spool_env	 e;
	struct qstate		 q, got;
	const char		*errstr;
	char			 sp[96], path[160], *txt;
	size_t			 len;

	memset(&e, 0, sizeof(e));
	memset(r, 0, sizeof(r));
	strcpy(r[0].addr, "staff@example.com");
	strcpy(r[1].addr, "bob@example.org");
	e.rcpts = r;
	e.nrcpt = 2;
	ck_assert_int_eq(state_init(&q, &e), 0);
	ck_assert_uint_eq(q.n, 2);
	q.t[0].status = T_EXPANDED;
	ck_assert_int_eq(state_add(&q, K_PROG, 0, 0, "/usr/bin/x \"a b\"\n",
	    "#1000:1000"), 2);
	q.t[2].attempts = 3;
	q.t[2].next = 1700000000;
	strcpy(q.t[2].error, "4.3.0 busy");
	q.warned = 1;
	snprintf(sp, sizeof(sp), "%s/spool", dir);
	ck_assert_int_eq(spool_layout(sp), 0);
	ck_assert_int_eq(state_save(sp, "1xWBSo1lMf01H61", &q), 0);
	snprintf(path, sizeof(path), "%s/state/1xWBSo1lMf01H61", sp);
	txt = slurp(path, &len);
	ck_assert_str_eq(txt, "inetmail-state 1\nwarned 1\ntried 0\n"
	    "t expanded addr -1 0 0 0 :staff@example.com : :\n"
	    "t pending addr -1 1 0 0 :bob@example.org : :\n"
	    "t pending prog 0 0 3 1700000000 :/usr/bin/x%20\"a%20b\"%0A "
	    ":#1000:1000 :4.3.0%20busy\n");
	ck_assert_int_eq(state_load(sp, "1xWBSo1lMf01H61", 2, &got, &errstr),
	    1);
	ck_assert_uint_eq(got.n, 3);
	ck_assert_int_eq(got.warned, 1);
	ck_assert_str_eq(got.t[2].addr, "/usr/bin/x \"a b\"\n");
	ck_assert_str_eq(got.t[2].error, "4.3.0 busy");
	ck_assert_int_eq(got.t[2].parent, 0);
	ck_assert_int_eq(state_done(&got), 0);
	state_free(&got);
	/* recipients that do not exist, parents after children: refused */
	ck_assert_int_eq(state_parse(txt, len, 1, &got, &errstr), -1);
	ck_assert_int_eq(state_parse("inetmail-state 1\nt pending addr 5 0 0 0 "
	    ":a : :\n", 43, 1, &got, &errstr), -1);
	ck_assert_int_eq(state_load(sp, "1xWBSo1lMf01H6X", 2, &got, &errstr),
	    0);					/* absent */
	ck_assert_int_eq(state_remove(sp, "1xWBSo1lMf01H61"), 0);
	state_free(&q);
}
END_TEST

static const struct {
	const char	*in, *out;
} rd[] = {
	{ "From x\n", ">From x\n" },
	{ ">From x\n", ">>From x\n" },
	{ ">>>From x\n", ">>>>From x\n" },
	{ "a\nFrom b\nFromage\n", "a\n>From b\nFromage\n" },
	{ ">Fro", ">Fro" },
	{ " From x\n", " From x\n" },
	{ "From", "From" },
	{ "From ", ">From " },
};

START_TEST(mboxrd_table)
{
	struct mboxrd	q;
	char		out[256];
	size_t		o = 0, i, n = strlen(rd[_i].in);

	/* one byte at a time: the machine must carry state across calls */
	mboxrd_init(&q);
	for (i = 0; i < n; i++)
		o += mboxrd_feed(&q, rd[_i].in + i, 1, out + o);
	o += mboxrd_flush(&q, out + o, sizeof(out) - o);
	out[o] = '\0';
	ck_assert_str_eq(out, rd[_i].out);
	mboxrd_init(&q);
	o = mboxrd_feed(&q, rd[_i].in, n, out);
	o += mboxrd_flush(&q, out + o, sizeof(out) - o);
	out[o] = '\0';
	ck_assert_str_eq(out, rd[_i].out);
}
END_TEST

/* A queue file whose message starts at off. */
static int
msgfile(const char *body, off_t *off)
{
	char	path[128];
	int	fd;

	snprintf(path, sizeof(path), "%s/q", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, "envelope\n\n", 10), 10);
	ck_assert_int_eq(write(fd, body, strlen(body)), (ssize_t)strlen(body));
	*off = 10;
	return fd;
}

START_TEST(mbox_append_and_cut)
{
	struct mbox_msg	 m;
	struct stat	 sb;
	char		 mbox[128], lock[140], err[256], *txt;
	size_t		 len;
	int		 fd;

	memset(&m, 0, sizeof(m));
	m.fd = msgfile("Subject: x\n\nFrom here\nlast line", &m.off);
	m.sender = "a@b.org";
	m.headers = "Return-Path: <a@b.org>\n";
	m.group = (gid_t)-1;
	snprintf(mbox, sizeof(mbox), "%s/samt", dir);
	ck_assert_int_eq(mbox_append(mbox, &m, MBOX_F_OWNED | MBOX_F_CREATE, 5,
	    300, err, sizeof(err)), MBOX_OK);
	txt = slurp(mbox, &len);
	ck_assert_int_eq(strncmp(txt, "From a@b.org ", 13), 0);
	ck_assert_str_eq(strchr(txt, '\n') + 1, "Return-Path: <a@b.org>\n"
	    "Subject: x\n\n>From here\nlast line\n\n");
	/* a killed delivery: its lock records the old size, junk follows */
	snprintf(lock, sizeof(lock), "%s.lock", mbox);
	ck_assert_int_eq(stat(mbox, &sb), 0);
	fd = open(lock, O_WRONLY | O_CREAT, 0644);
	/* another file's record (a different inode) is not trusted */
	dprintf(fd, "inetmail 999999 %zu %llu\n", len,
	    (unsigned long long)sb.st_ino + 1);
	close(fd);
	fd = open(mbox, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, "From x\n\n", 8), 8);
	close(fd);
	ck_assert_int_eq(mbox_append(mbox, &m, MBOX_F_OWNED, 5, 300, err,
	    sizeof(err)), MBOX_OK);
	txt = slurp(mbox, &len);
	ck_assert_ptr_nonnull(strstr(txt, "\n\nFrom x\n\nFrom a@b.org "));
	fd = open(lock, O_WRONLY | O_CREAT, 0644);
	dprintf(fd, "inetmail 999999 %zu %llu\n", len,
	    (unsigned long long)sb.st_ino);
	close(fd);
	fd = open(mbox, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, "From cut off\nhalf", 17), 17);
	close(fd);
	m.sender = "";
	ck_assert_int_eq(mbox_append(mbox, &m, MBOX_F_OWNED, 5, 300, err,
	    sizeof(err)), MBOX_OK);
	txt = slurp(mbox, &len);
	ck_assert_ptr_null(strstr(txt, "cut off"));
	ck_assert_ptr_nonnull(strstr(txt, "last line\n\nFrom MAILER-DAEMON "));
	ck_assert_int_eq(access(lock, F_OK), -1);	/* lock gone */
	close(m.fd);
}
END_TEST

START_TEST(mbox_refuses_links)
{
	struct mbox_msg	 m;
	char		 mbox[128], target[128], err[256];
	size_t		 len;

	memset(&m, 0, sizeof(m));
	m.fd = msgfile("x\n", &m.off);
	m.sender = "a@b.org";
	m.headers = "";
	m.group = (gid_t)-1;
	snprintf(mbox, sizeof(mbox), "%s/samt", dir);
	snprintf(target, sizeof(target), "%s/elsewhere", dir);
	close(open(target, O_WRONLY | O_CREAT, 0600));
	ck_assert_int_eq(symlink(target, mbox), 0);
	ck_assert_int_eq(mbox_append(mbox, &m, MBOX_F_OWNED | MBOX_F_CREATE, 5,
	    300, err, sizeof(err)), MBOX_TEMP);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	(void)slurp(target, &len);
	ck_assert_uint_eq(len, 0);
	/* a foreign lock that is fresh: deferred after lock_timeout */
	unlink(mbox);
	close(open(mbox, O_WRONLY | O_CREAT, 0600));
	snprintf(target, sizeof(target), "%s.lock", mbox);
	close(open(target, O_WRONLY | O_CREAT, 0644));
	ck_assert_int_eq(mbox_append(mbox, &m, MBOX_F_OWNED, 1, 300, err,
	    sizeof(err)), MBOX_TEMP);
	ck_assert_ptr_nonnull(strstr(err, "locked"));
	close(m.fd);
}
END_TEST

START_TEST(expand_items)
{
	const char		*v = " samt, \"|/usr/bin/vacation -a x, y\",\n"
				    "  /var/log/mail.copy, :include:/etc/l,\n"
				    "# a comment\n  \\samt, \"unclosed";
	enum expand_kind	 k;
	char			 item[64];
	size_t			 off = 0, len = strlen(v);

	ck_assert_int_eq(expand_next(v, len, &off, item, sizeof(item), &k), 1);
	ck_assert_str_eq(item, "samt");
	ck_assert_int_eq(k, E_ADDR);
	ck_assert_int_eq(expand_next(v, len, &off, item, sizeof(item), &k), 1);
	ck_assert_str_eq(item, "|/usr/bin/vacation -a x, y");
	ck_assert_int_eq(k, E_PROG);
	ck_assert_int_eq(expand_next(v, len, &off, item, sizeof(item), &k), 1);
	ck_assert_int_eq(k, E_FILE);
	ck_assert_int_eq(expand_next(v, len, &off, item, sizeof(item), &k), 1);
	ck_assert_int_eq(k, E_INCLUDE);
	ck_assert_int_eq(expand_next(v, len, &off, item, sizeof(item), &k), 1);
	ck_assert_str_eq(item, "\\samt");
	ck_assert_int_eq(k, E_NOFORWARD);
	ck_assert_int_eq(expand_next(v, len, &off, item, sizeof(item), &k), -1);
	ck_assert_int_eq(expand_next(v, len, &off, item, sizeof(item), &k), 0);
	ck_assert_int_eq(expand_next("abcdefgh", 8, &off, item, 4, &k), 0);
	off = 0;
	ck_assert_int_eq(expand_next("abcdefgh", 8, &off, item, 4, &k), -1);
}
END_TEST

static char	got[8][128];
static int	ngot;

static void
collect(const char *a, void *arg)
{
	(void)arg;
	if (ngot < 8)
		strcpy(got[ngot++], a);
}

START_TEST(header_fields)
{
	const char		*m = "To: \"Doe, John\" <jd@x.org>, b@y.org (Bee)\n"
				    "Cc: friends: c@z.org, <@r:d@w.org>;,\n"
				    "\te@v.org\nBcc: secret@q.org\n\nbody: no\n";
	struct hdr_field	 f;
	size_t			 off = 0;
	int			 n = 0;

	ngot = 0;
	while (hdr_next(m, strlen(m), &off, &f) == 1) {
		n++;
		ck_assert_int_ge(hdr_addrlist(f.value, f.valuelen, collect,
		    NULL), 1);
	}
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(m + off, "body: no\n");
	ck_assert_int_eq(ngot, 6);
	ck_assert_str_eq(got[0], "jd@x.org");
	ck_assert_str_eq(got[1], "b@y.org");
	ck_assert_str_eq(got[2], "c@z.org");
	ck_assert_str_eq(got[3], "d@w.org");
	ck_assert_str_eq(got[4], "e@v.org");
	ck_assert_str_eq(got[5], "secret@q.org");
	ck_assert_int_eq(hdr_addrlist("a <b", 4, collect, NULL), -1);
	ck_assert_int_eq(hdr_addrlist("(open", 5, collect, NULL), -1);
	off = 0;
	ck_assert_int_eq(hdr_next("not a header\n", 13, &off, &f), -1);
}
END_TEST

static Suite *
deliver_suite(void)
{
	Suite	*s = suite_create("deliver");
	TCase	*tc = tcase_create("core");

	tcase_set_timeout(tc, 20);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, state_roundtrip);
	tcase_add_loop_test(tc, mboxrd_table, 0, sizeof(rd) / sizeof(rd[0]));
	tcase_add_test(tc, mbox_append_and_cut);
	tcase_add_test(tc, mbox_refuses_links);
	tcase_add_test(tc, expand_items);
	tcase_add_test(tc, header_fields);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(deliver_suite)
