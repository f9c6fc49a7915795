/*
 * Functions Debian's C library lacks; compat.c supplies them when
 * configure did not find them.
 */
#ifndef COMPAT_H
#define COMPAT_H

#include <stddef.h>

#ifndef HAVE_STRLCPY
/* Copies at most size - 1 bytes and NUL-terminates; returns strlen(src). */
size_t	strlcpy(char *, const char *, size_t);
#endif
#ifndef HAVE_STRLCAT
/* Appends src, NUL-terminating within size; returns the length it tried to make. */
size_t	strlcat(char *, const char *, size_t);
#endif
#ifndef HAVE_EXPLICIT_BZERO
void	explicit_bzero(void *, size_t);
#endif

#endif
