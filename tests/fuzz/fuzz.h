/*
 * Shared by the fuzz targets: the libFuzzer entry point and an invariant
 * check that works in every build (assert() may be compiled out).
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A broken invariant is a crash, so that libFuzzer keeps the input. */
#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/*
 * An invariant that src/ is known to break (see known-bugs): checked like
 * FUZZ_CHECK, unless the environment variable FUZZ_IGNORE lists its id
 * (comma-separated), so that a fuzzing run can look past it for more.
 */
#define FUZZ_CHECK_BUG(id, cond) do {					\
	if (!(cond) && !fuzz_ignored(id)) {				\
		fprintf(stderr, "%s:%d: invariant failed (%s): %s\n",	\
		    __FILE__, __LINE__, id, #cond);			\
		abort();						\
	}								\
} while (0)

static inline int
fuzz_ignored(const char *id)
{
	const char	*l = getenv("FUZZ_IGNORE"), *p;
	size_t		 n = strlen(id);

	for (p = l; p != NULL && (p = strstr(p, id)) != NULL; p += n)
		if ((p == l || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return 1;
	return 0;
}

/* Returns 1 if the n bytes at p hold a NUL, so a string ends in bounds. */
static inline int
fuzz_terminated(const char *p, size_t n)
{
	return memchr(p, '\0', n) != NULL;
}

/* A malloc'd NUL-terminated copy of the first n bytes of p. */
static inline char *
fuzz_strndup(const uint8_t *p, size_t n)
{
	char	*s;

	if ((s = malloc(n + 1)) == NULL)
		abort();
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* A malloc'd buffer of exactly n bytes (even 0), so ASan sees overruns. */
static inline char *
fuzz_exact(size_t n)
{
	char	*s;

	if ((s = malloc(n)) == NULL && (n > 0 || (s = malloc(1)) == NULL))
		abort();
	return s;
}

#endif
