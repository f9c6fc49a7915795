/* Unit tests for src/lib/buf.c */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "buf.h"
#include "check_util.h"

START_TEST(buf_ceiling)
{
	struct buf	b;

	buf_init(&b, 8);
	ck_assert_int_eq(buf_append(&b, "abcdef", 6), 0);
	errno = 0;
	ck_assert_int_eq(buf_append(&b, "xyz", 3), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_uint_eq(b.len, 6);		/* a failed append changes nothing */
	ck_assert_str_eq(b.data, "abcdef");
	ck_assert_int_eq(buf_append(&b, "gh", 2), 0);
	ck_assert_uint_eq(b.len, 8);
	ck_assert_int_eq(buf_append(&b, "", 0), 0);
	ck_assert_int_eq(buf_append(&b, "i", 1), -1);
	ck_assert_mem_eq(b.data, "abcdefgh\0", 9);
	buf_free(&b);
}
END_TEST

START_TEST(buf_printf_big)
{
	struct buf	b;
	char		big[3000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_init(&b, 4000);
	ck_assert_int_eq(buf_printf(&b, "<%s>", big), 0);
	ck_assert_uint_eq(b.len, sizeof(big) + 1);
	ck_assert_int_eq(buf_printf(&b, "%s", big), -1);	/* past max */
	ck_assert_uint_eq(b.len, sizeof(big) + 1);
	buf_free(&b);
}
END_TEST

START_TEST(buf_consume_nul)
{
	struct buf	b;

	buf_init(&b, 64);
	ck_assert_int_eq(buf_append(&b, "ab\0cd", 5), 0);
	buf_consume(&b, 2);
	ck_assert_uint_eq(b.len, 3);
	ck_assert_mem_eq(b.data, "\0cd", 3);
	buf_consume(&b, 10);
	ck_assert_uint_eq(b.len, 0);
	buf_reset(&b);
	ck_assert_int_eq(buf_puts(&b, "again"), 0);
	ck_assert_str_eq(b.data, "again");
	buf_free(&b);
}
END_TEST

static Suite *
buf_suite(void)
{
	Suite	*s = suite_create("buf");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, buf_ceiling);
	tcase_add_test(tc, buf_printf_big);
	tcase_add_test(tc, buf_consume_nul);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(buf_suite)
