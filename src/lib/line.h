/*
 * Line-oriented I/O on file descriptors, with timeouts and bounded lines.
 * Input is buffered so that pipelined commands and DATA bytes can be taken
 * from the same buffer; output collects replies until line_flush(), so a
 * reply (or a pipelined group of replies) goes out in one write.
 */
#ifndef LINE_H
#define LINE_H

#include <sys/types.h>
#include <stdarg.h>
#include <stddef.h>

#include "buf.h"

#define LINE_INBUF	16384

enum line_status {
	LINE_OK = 0,
	LINE_TOOLONG,		/* consumed to its LF; out holds the first max bytes */
	LINE_EOF,		/* peer closed; out holds any partial line */
	LINE_TIMEOUT,
	LINE_ERROR		/* errno says why */
};

struct line_in {
	int	 fd;
	int	 timeout;	/* seconds per read; <= 0 waits for ever */
	size_t	 max;		/* longest line kept, without its end */
	size_t	 off, len;	/* unread bytes: data[off .. off+len) */
	int	 eof;
	/* transport hook: a TLS layer replaces it; NULL means read(2) */
	ssize_t	(*rd)(void *ctx, void *, size_t);
	void	*ctx;
	char	 data[LINE_INBUF];
};

struct line_out {
	int	 fd;
	int	 timeout;
	int	 error;		/* set once a write failed; later writes are dropped */
	ssize_t	(*wr)(void *ctx, const void *, size_t);
	void	*ctx;
	struct buf b;
};

void	line_in_init(struct line_in *, int fd, size_t max, int timeout);
/*
 * Reads one line into out (reset first), without LF or CR-before-LF.  A bare
 * CR, a NUL or a missing CR are reported through *flags (LINE_F_*) so that a
 * protocol can refuse them; the line itself is returned as sent.
 */
#define LINE_F_NOCR	0x01	/* ended by LF alone */
#define LINE_F_NUL	0x02	/* held a NUL byte */
#define LINE_F_BARECR	0x04	/* held a CR not followed by LF */
enum line_status line_read(struct line_in *, struct buf *out, int *flags);
/*
 * Makes sure at least one unread byte is buffered, waiting for it if need
 * be.  Returns LINE_OK, LINE_EOF, LINE_TIMEOUT or LINE_ERROR.
 */
enum line_status line_fill(struct line_in *);
/* Bytes already buffered and not yet taken (no system call). */
size_t	line_pending(const struct line_in *);
/* Marks n buffered bytes as taken (n <= line_pending()). */
void	line_take(struct line_in *, size_t n);
/* The first unread buffered byte. */
const char *line_peek(const struct line_in *);

void	line_out_init(struct line_out *, int fd, int timeout);
void	line_out_free(struct line_out *);
/* Queues bytes for the next flush.  Returns 0, or -1 if output failed before. */
int	line_write(struct line_out *, const void *, size_t);
int	line_printf(struct line_out *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Queues one protocol reply line: the formatted text (cut at 1000 bytes)
 * and CRLF.  Returns as line_write().
 */
int	line_vreply(struct line_out *, const char *, va_list);
/* Writes everything queued.  Returns 0, or -1 (timeout or error). */
int	line_flush(struct line_out *);

#endif
