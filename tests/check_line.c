/* Unit tests for src/lib/line.c: over pipes, as the servers use it. */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "line.h"

static struct line_in	 in;
static int		 wfd;

static void
feed(const char *data, size_t len, size_t max, int timeout)
{
	int	p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], data, len), (ssize_t)len);
	wfd = p[1];
	line_in_init(&in, p[0], max, timeout);
}

static void
done(void)
{
	close(in.fd);
	if (wfd != -1)
		close(wfd);
	wfd = -1;
}

START_TEST(line_basic)
{
	static const char data[] = "helo x\r\nmail\nbare\rcr\r\nnul\0z\r\nlast";
	struct buf		b;
	int			fl;

	buf_init(&b, 1024);
	feed(data, sizeof(data) - 1, 100, 5);
	close(wfd);
	wfd = -1;
	ck_assert_int_eq(line_read(&in, &b, &fl), LINE_OK);
	ck_assert_str_eq(b.data, "helo x");
	ck_assert_int_eq(fl, 0);
	ck_assert_int_eq(line_read(&in, &b, &fl), LINE_OK);
	ck_assert_str_eq(b.data, "mail");
	ck_assert_int_eq(fl, LINE_F_NOCR);
	ck_assert_int_eq(line_read(&in, &b, &fl), LINE_OK);
	ck_assert_int_eq(fl, LINE_F_BARECR);
	ck_assert_int_eq(line_read(&in, &b, &fl), LINE_OK);
	ck_assert_uint_eq(b.len, 5);
	ck_assert_int_eq(fl & LINE_F_NUL, LINE_F_NUL);
	ck_assert_int_eq(line_read(&in, &b, &fl), LINE_EOF);
	ck_assert_str_eq(b.data, "last");
	buf_free(&b);
	done();
}
END_TEST

START_TEST(line_toolong)
{
	struct buf	b;
	char		data[3000];
	int		fl;

	memset(data, 'a', 2000);
	memcpy(data + 2000, "\r\nnext\r\n", 8);
	buf_init(&b, 4096);
	feed(data, 2008, 510, 5);
	ck_assert_int_eq(line_read(&in, &b, &fl), LINE_TOOLONG);
	ck_assert_uint_eq(b.len, 510);			/* never more than max */
	ck_assert_int_eq(line_read(&in, &b, &fl), LINE_OK);
	ck_assert_str_eq(b.data, "next");		/* resynchronised */
	buf_free(&b);
	done();
}
END_TEST

START_TEST(line_timeout)
{
	struct buf	b;
	int		fl;

	buf_init(&b, 64);
	feed("partial", 7, 100, 1);
	ck_assert_int_eq(line_read(&in, &b, &fl), LINE_TIMEOUT);
	buf_free(&b);
	done();
}
END_TEST

START_TEST(line_out_one_write)
{
	struct line_out	o;
	char		got[256];
	int		p[2];
	ssize_t		n;

	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(pipe(p), 0);
	line_out_init(&o, p[1], 5);
	ck_assert_int_eq(line_printf(&o, "250-%s\r\n", "a"), 0);
	ck_assert_int_eq(line_write(&o, "250 b\r\n", 7), 0);
	ck_assert_int_eq(line_flush(&o), 0);
	n = read(p[0], got, sizeof(got));
	ck_assert_int_eq(n, 14);
	ck_assert_mem_eq(got, "250-a\r\n250 b\r\n", 14);
	close(p[0]);
	ck_assert_int_eq(line_printf(&o, "x\r\n"), 0);
	ck_assert_int_eq(line_flush(&o), -1);		/* reader gone */
	ck_assert_int_eq(line_printf(&o, "y\r\n"), -1);	/* stays failed */
	line_out_free(&o);
	close(p[1]);
}
END_TEST

static Suite *
line_suite(void)
{
	Suite	*s = suite_create("line");
	TCase	*tc = tcase_create("core");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, line_basic);
	tcase_add_test(tc, line_toolong);
	tcase_add_test(tc, line_timeout);
	tcase_add_test(tc, line_out_one_write);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(line_suite)
