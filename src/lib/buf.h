/*
 * Bounded byte buffers.  The ceiling is fixed when the buffer is made and
 * comes from the configuration, never from a peer.
 */
#ifndef BUF_H
#define BUF_H

#include <stddef.h>

struct buf {
	char	*data;		/* NUL-terminated, but may hold NULs: len is the truth */
	size_t	 len, cap, max;	/* max: ceiling fixed by buf_init() */
};

/* Makes an empty buffer that will never hold more than max bytes. */
void	buf_init(struct buf *, size_t max);
/* Frees the storage; the buffer is empty and usable again. */
void	buf_free(struct buf *);
/* Empties the buffer, keeping its storage. */
void	buf_reset(struct buf *);
/*
 * Appends n bytes.  Returns 0, or -1 with errno EMSGSIZE (past max) or
 * ENOMEM, in which case the buffer is unchanged.
 */
int	buf_append(struct buf *, const void *, size_t n);
/* Appends a NUL-terminated string; as buf_append(). */
int	buf_puts(struct buf *, const char *);
/* Appends printf-formatted text; as buf_append(). */
int	buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Removes the first n bytes (n <= len). */
void	buf_consume(struct buf *, size_t n);

#endif
