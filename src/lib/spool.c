/*
 * Spool writer and envelope reader.  Runs as the spool user (qsmtpd) or
 * the caller with the spool group (qsend).  Envelope values come from the
 * peer: they are %-escaped on the way in, so none can add a line.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "spool.h"

#define SPOOL_WBUF	65536
#define SPOOL_HDRMAX	(16 * 1024 * 1024)	/* envelope header ceiling */

static const char *const spool_dirs[] = { "tmp", "queue", "state", "bad",
    "lock" };

int
spool_layout(const char *dir)
{
	char	path[1100];
	size_t	i;

	if (mkdir(dir, 0750) == -1 && errno != EEXIST)
		return -1;
	for (i = 0; i < sizeof(spool_dirs) / sizeof(spool_dirs[0]); i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, spool_dirs[i])
		    >= (int)sizeof(path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		/* setgid: files root's qrun makes keep the spool group */
		if (mkdir(path, 0770) == 0)
			(void)chmod(path, 02770);
		else if (errno != EEXIST)
			return -1;
	}
	return 0;
}

static int
spool_paths(const char *dir, struct spool_msg *m)
{
	int	a, b;

	a = snprintf(m->tmppath, sizeof(m->tmppath), "%s/tmp/%s", dir, m->id);
	b = snprintf(m->qpath, sizeof(m->qpath), "%s/queue/%s", dir, m->id);
	if (a < 0 || b < 0 || (size_t)a >= sizeof(m->tmppath) ||
	    (size_t)b >= sizeof(m->qpath)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
spool_msg_open(const char *dir, struct spool_msg *m, const char **errstr)
{
	char	qdir[1100];
	int	tries;

	memset(m, 0, sizeof(*m));
	m->fd = m->qdirfd = -1;
	buf_init(&m->out, SPOOL_WBUF);
	*errstr = "cannot create queue file";
	if (snprintf(qdir, sizeof(qdir), "%s/queue", dir) >= (int)sizeof(qdir))
		return -1;
	for (tries = 0; tries < 3; tries++) {
		qid_make(m->id);
		if (spool_paths(dir, m) == -1)
			return -1;
		m->fd = open(m->tmppath, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC | O_NOFOLLOW, 0640);
		if (m->fd != -1)
			break;
		if (errno == ENOENT && spool_layout(dir) == -1) {
			*errstr = "cannot create the spool directories";
			return -1;
		}
		if (errno != ENOENT && errno != EEXIST)
			return -1;
	}
	if (m->fd == -1)
		return -1;
	if ((m->qdirfd = open(qdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC))
	    == -1) {
		spool_msg_abort(m);
		return -1;
	}
	return 0;
}

int
spool_escape(const char *in, struct buf *out)
{
	static const char	hex[] = "0123456789ABCDEF";
	const unsigned char	*p;
	char			 e[3];

	for (p = (const unsigned char *)in; *p != '\0'; p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '%') {
			e[0] = '%';
			e[1] = hex[*p >> 4];
			e[2] = hex[*p & 15];
			if (buf_append(out, e, 3) == -1)
				return -1;
		} else if (buf_append(out, p, 1) == -1)
			return -1;
	}
	return 0;
}

static int
spool_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
spool_unescape(const char *in, size_t len, char *out, size_t outlen)
{
	size_t	i, o = 0;
	int	h, l;

	for (i = 0; i < len; i++) {
		if (o + 1 >= outlen)
			return -1;
		if (in[i] == '%') {
			if (i + 2 >= len)
				return -1;
			if ((h = spool_hexval(in[i + 1])) == -1 ||
			    (l = spool_hexval(in[i + 2])) == -1 ||
			    (h == 0 && l == 0))
				return -1;	/* NUL never comes back */
			out[o++] = (char)(h << 4 | l);
			i += 2;
		} else if (in[i] == '\0')
			return -1;		/* nor does a raw one */
		else
			out[o++] = in[i];
	}
	out[o] = '\0';
	return (int)o;
}

/* Writes "key value\n" with the value escaped; skips empty values. */
static int
spool_field(struct buf *b, const char *key, const char *val, int always)
{
	if (val[0] == '\0' && !always)
		return 0;
	if (buf_puts(b, key) == -1 || buf_append(b, " ", 1) == -1 ||
	    spool_escape(val, b) == -1 || buf_append(b, "\n", 1) == -1)
		return -1;
	return 0;
}

int
spool_msg_env(struct spool_msg *m, const struct spool_env *e)
{
	struct buf	b;
	size_t		i;
	int		r = -1;

	buf_init(&b, SPOOL_HDRMAX);
	if (buf_printf(&b, "%s\nid %s\narrival %lld\n", SPOOL_VERSION, m->id,
	    (long long)e->arrival) == -1 ||
	    spool_field(&b, "sender", e->sender, 1) == -1 ||
	    spool_field(&b, "client", e->client_addr, 0) == -1 ||
	    spool_field(&b, "client-name", e->client_name, 0) == -1 ||
	    spool_field(&b, "helo", e->helo, 0) == -1 ||
	    spool_field(&b, "proto", e->proto, 0) == -1 ||
	    spool_field(&b, "body", e->body, 0) == -1 ||
	    spool_field(&b, "envid", e->envid, 0) == -1 ||
	    spool_field(&b, "ret", e->ret, 0) == -1 ||
	    spool_field(&b, "notice", e->notice, 0) == -1 ||
	    (e->smtputf8 && buf_puts(&b, "smtputf8\n") == -1))
		goto out;
	for (i = 0; i < e->nrcpt; i++)
		if (spool_field(&b, "rcpt", e->rcpts[i].addr, 1) == -1 ||
		    spool_field(&b, "notify", e->rcpts[i].notify, 0) == -1 ||
		    spool_field(&b, "orcpt", e->rcpts[i].orcpt, 0) == -1)
			goto out;
	if (buf_append(&b, "\n", 1) == -1)
		goto out;
	m->hdrlen = b.len;
	r = spool_msg_write(m, b.data, b.len);
	m->size = 0;
out:
	buf_free(&b);
	return r;
}

static int
spool_flush(struct spool_msg *m)
{
	size_t	off = 0;
	ssize_t	n;

	while (off < m->out.len) {
		n = write(m->fd, m->out.data + off, m->out.len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		off += (size_t)n;
	}
	buf_reset(&m->out);
	return 0;
}

int
spool_msg_write(struct spool_msg *m, const void *p, size_t n)
{
	if (m->fd == -1) {
		errno = EBADF;
		return -1;
	}
	m->size += n;
	if (n > m->out.max - m->out.len) {
		if (spool_flush(m) == -1)
			return -1;
		if (n >= m->out.max) {
			m->out.len = 0;
			while (n > 0) {
				ssize_t w = write(m->fd, p, n);
				if (w == -1 && errno == EINTR)
					continue;
				if (w <= 0)
					return -1;
				p = (const char *)p + w;
				n -= (size_t)w;
			}
			return 0;
		}
	}
	return buf_append(&m->out, p, n);
}

int
spool_msg_commit(struct spool_msg *m)
{
	int	saved;

	if (m->fd == -1) {
		errno = EBADF;
		return -1;
	}
	if (spool_flush(m) == -1 || fsync(m->fd) == -1 || close(m->fd) == -1) {
		m->fd = -1;
		goto fail;
	}
	m->fd = -1;
#ifdef HAVE_RENAMEAT2
	if (renameat2(AT_FDCWD, m->tmppath, AT_FDCWD, m->qpath,
	    RENAME_NOREPLACE) == -1) {
		if (errno != EINVAL && errno != ENOSYS)
			goto fail;
#else
	{
#endif
		/* no RENAME_NOREPLACE here: link() refuses to replace too */
		if (link(m->tmppath, m->qpath) == -1)
			goto fail;
		(void)unlink(m->tmppath);
	}
	if (fsync(m->qdirfd) == -1) {
		saved = errno;
		(void)unlink(m->qpath);
		errno = saved;
		goto fail;
	}
	m->tmppath[0] = '\0';
	spool_msg_abort(m);
	return 0;
fail:
	saved = errno;
	spool_msg_abort(m);
	errno = saved;
	return -1;
}

void
spool_msg_abort(struct spool_msg *m)
{
	if (m->fd != -1)
		(void)close(m->fd);
	if (m->tmppath[0] != '\0')
		(void)unlink(m->tmppath);
	if (m->qdirfd != -1)
		(void)close(m->qdirfd);
	m->fd = m->qdirfd = -1;
	m->tmppath[0] = '\0';
	buf_free(&m->out);
}
