/* Shared boilerplate for the Check unit tests. */
#ifndef CHECK_UTIL_H
#define CHECK_UTIL_H

#include <check.h>
#include <stdlib.h>

#define CHECK_MAIN(make_suite)						\
int									\
main(void)								\
{									\
	SRunner	*sr = srunner_create(make_suite());			\
	int	 nfailed;						\
									\
	srunner_run_all(sr, CK_ENV);					\
	nfailed = srunner_ntests_failed(sr);				\
	srunner_free(sr);						\
	return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;		\
}

#endif
