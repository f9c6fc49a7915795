#include "config.h"
#include <check.h>
#include <stdlib.h>
#include "buf.h"
START_TEST(t) { struct buf b; buf_init(&b, 4); ck_assert_int_eq(buf_append(&b, "abc", 3), 0); buf_free(&b); }
END_TEST
int main(void) { Suite *s = suite_create("buf"); TCase *tc = tcase_create("x"); tcase_add_test(tc, t); suite_add_tcase(s, tc); SRunner *sr = srunner_create(s); srunner_run_all(sr, CK_ENV); int n = srunner_ntests_failed(sr); srunner_free(sr); return n ? 1 : 0; }
