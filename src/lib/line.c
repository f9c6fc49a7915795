/*
 * Line I/O over descriptors.  The peer controls every byte read here, so
 * nothing is kept past in->max and every wait is bounded by a timeout.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "line.h"

#define LINE_OUTMAX	(1024 * 1024)	/* queued replies; far above any burst */

void
line_in_init(struct line_in *in, int fd, size_t max, int timeout)
{
	in->fd = fd;
	in->max = max;
	in->timeout = timeout;
	in->off = in->len = 0;
	in->eof = 0;
	in->rd = NULL;
	in->ctx = NULL;
}

static int
line_wait(int fd, short events, int timeout)
{
	struct pollfd	pfd;
	int		r;

	pfd.fd = fd;
	pfd.events = events;
	do {
		r = poll(&pfd, 1, timeout > 0 ? timeout * 1000 : -1);
	} while (r == -1 && errno == EINTR);
	return r;
}

enum line_status
line_fill(struct line_in *in)
{
	ssize_t	n;
	int	r;

	if (in->len > 0)
		return LINE_OK;
	if (in->eof)
		return LINE_EOF;
	in->off = 0;
	if (in->rd == NULL) {
		if ((r = line_wait(in->fd, POLLIN, in->timeout)) == 0)
			return LINE_TIMEOUT;
		if (r == -1)
			return LINE_ERROR;
		do {
			n = read(in->fd, in->data, sizeof(in->data));
		} while (n == -1 && errno == EINTR);
	} else
		n = in->rd(in->ctx, in->data, sizeof(in->data));
	if (n == -1)
		return errno == ETIMEDOUT ? LINE_TIMEOUT : LINE_ERROR;
	if (n == 0) {
		in->eof = 1;
		return LINE_EOF;
	}
	in->len = (size_t)n;
	return LINE_OK;
}

size_t
line_pending(const struct line_in *in)
{
	return in->len;
}

const char *
line_peek(const struct line_in *in)
{
	return in->data + in->off;
}

void
line_take(struct line_in *in, size_t n)
{
	in->off += n;
	in->len -= n;
}

/* Appends up to the room left under max; counts what did not fit. */
static void
line_keep(struct buf *out, const char *p, size_t n, size_t max, int *toolong)
{
	size_t	room = max > out->len ? max - out->len : 0;

	if (n > room) {
		*toolong = 1;
		n = room;
	}
	if (n > 0 && buf_append(out, p, n) == -1)
		*toolong = 1;
}

enum line_status
line_read(struct line_in *in, struct buf *out, int *flags)
{
	enum line_status	 st;
	const char		*p, *lf;
	size_t			 n, i;
	int			 toolong = 0;

	buf_reset(out);
	*flags = 0;
	if (out->data == NULL && buf_append(out, "", 0) == -1)
		return LINE_ERROR;	/* out->data is a string, even for "" */
	for (;;) {
		if ((st = line_fill(in)) != LINE_OK)
			return st;
		p = in->data + in->off;
		lf = memchr(p, '\n', in->len);
		n = lf != NULL ? (size_t)(lf - p) : in->len;
		for (i = 0; i < n; i++) {
			if (p[i] == '\0')
				*flags |= LINE_F_NUL;
			else if (p[i] == '\r' && i + 1 < n)
				*flags |= LINE_F_BARECR;
		}
		/* a CR at the end of a chunk without LF is judged below */
		if (out->len > 0 && out->data[out->len - 1] == '\r' && n > 0)
			*flags |= LINE_F_BARECR;
		line_keep(out, p, n, in->max + 1, &toolong);
		line_take(in, lf != NULL ? n + 1 : n);
		if (lf != NULL)
			break;
	}
	if (out->len > 0 && out->data[out->len - 1] == '\r') {
		out->data[--out->len] = '\0';
	} else
		*flags |= LINE_F_NOCR;
	if (toolong || out->len > in->max) {
		if (out->len > in->max) {
			out->len = in->max;
			out->data[out->len] = '\0';
		}
		return LINE_TOOLONG;
	}
	return LINE_OK;
}

void
line_out_init(struct line_out *o, int fd, int timeout)
{
	o->fd = fd;
	o->timeout = timeout;
	o->error = 0;
	o->wr = NULL;
	o->ctx = NULL;
	buf_init(&o->b, LINE_OUTMAX);
}

void
line_out_free(struct line_out *o)
{
	buf_free(&o->b);
}

int
line_write(struct line_out *o, const void *p, size_t n)
{
	if (o->error)
		return -1;
	if (buf_append(&o->b, p, n) == -1) {
		if (line_flush(o) == -1 || buf_append(&o->b, p, n) == -1) {
			o->error = 1;
			return -1;
		}
	}
	return 0;
}

int
line_printf(struct line_out *o, const char *fmt, ...)
{
	va_list	ap;
	char	tmp[2048];
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof(tmp))
		n = sizeof(tmp) - 1;	/* replies are ours and short; never hit */
	return line_write(o, tmp, (size_t)n);
}

int
line_vreply(struct line_out *o, const char *fmt, va_list ap)
{
	char	tmp[1024];
	int	n;

	n = vsnprintf(tmp, sizeof(tmp) - 2, fmt, ap);
	if (n < 0)
		return -1;
	if ((size_t)n > sizeof(tmp) - 3)
		n = sizeof(tmp) - 3;
	tmp[n++] = '\r';
	tmp[n++] = '\n';
	return line_write(o, tmp, (size_t)n);
}

int
line_flush(struct line_out *o)
{
	size_t	off = 0;
	ssize_t	n;
	int	r;

	while (!o->error && off < o->b.len) {
		if (o->wr != NULL)
			n = o->wr(o->ctx, o->b.data + off, o->b.len - off);
		else {
			if ((r = line_wait(o->fd, POLLOUT, o->timeout)) <= 0) {
				o->error = 1;
				break;
			}
			n = write(o->fd, o->b.data + off, o->b.len - off);
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0 && !(n == -1 && errno == EAGAIN)) {
			o->error = 1;
			break;
		}
		if (n > 0)
			off += (size_t)n;
	}
	buf_reset(&o->b);
	return o->error ? -1 : 0;
}
