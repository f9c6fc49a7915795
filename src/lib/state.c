/*
 * Delivery state files.  Written only by qrun (root or the spool owner);
 * read back with the same suspicion as any file: bounded, checked.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aliases.h"
#include "buf.h"
#include "compat.h"
#include "state.h"

#define STATE_FILEMAX	(32 * 1024 * 1024)

static const char *const status_names[] = { "pending", "sent", "failed",
    "expanded" };
static const char *const kind_names[] = { "addr", "mbox", "file", "prog",
    "remote" };

const char *
state_status_name(enum target_status s)
{
	return status_names[s];
}

const char *
state_kind_name(enum target_kind k)
{
	return kind_names[k];
}

void
state_free(struct qstate *q)
{
	free(q->t);
	memset(q, 0, sizeof(*q));
}

int
state_add(struct qstate *q, enum target_kind kind, int parent, int rcpt,
    const char *addr, const char *owner)
{
	struct target	*t;
	size_t		 ncap;

	if (q->n >= STATE_TMAX)
		return -1;
	if (q->n == q->cap) {
		ncap = q->cap ? q->cap * 2 : 4;
		if ((t = reallocarray(q->t, ncap, sizeof(*t))) == NULL)
			return -1;
		q->t = t;
		q->cap = ncap;
	}
	t = &q->t[q->n];
	memset(t, 0, sizeof(*t));
	t->status = T_PENDING;
	t->kind = kind;
	t->parent = parent;
	t->rcpt = rcpt;
	if (strlcpy(t->addr, addr, sizeof(t->addr)) >= sizeof(t->addr) ||
	    strlcpy(t->owner, owner, sizeof(t->owner)) >= sizeof(t->owner))
		return -1;
	return (int)q->n++;
}

int
state_init(struct qstate *q, const struct spool_env *e)
{
	size_t	i;

	memset(q, 0, sizeof(*q));
	for (i = 0; i < e->nrcpt; i++)
		if (state_add(q, K_ADDR, -1, (int)i, e->rcpts[i].addr, "")
		    == -1) {
			state_free(q);
			return -1;
		}
	return 0;
}

int
state_done(const struct qstate *q)
{
	size_t	i;

	for (i = 0; i < q->n; i++)
		if (q->t[i].status == T_PENDING)
			return 0;
	return 1;
}

/* Fields: ":" then the %-escaped value, so "" is ":" */
static int
state_put(struct buf *b, const char *s)
{
	return buf_append(b, " :", 2) == -1 || spool_escape(s, b) == -1 ?
	    -1 : 0;
}

static int
state_format(const struct qstate *q, struct buf *b)
{
	const struct target	*t;
	size_t			 i;

	if (buf_printf(b, "%s\nwarned %d\ntried %d\n", STATE_VERSION,
	    q->warned, q->tried) == -1)
		return -1;
	for (i = 0; i < q->n; i++) {
		t = &q->t[i];
		if (buf_printf(b, "t %s %s %d %d %u %lld", status_names[t->status],
		    kind_names[t->kind], t->parent, t->rcpt, t->attempts,
		    (long long)t->next) == -1 ||
		    state_put(b, t->addr) == -1 || state_put(b, t->owner) == -1 ||
		    state_put(b, t->error) == -1 || buf_append(b, "\n", 1) == -1)
			return -1;
	}
	return 0;
}

/* Splits the next space-separated word off *p (bounded by end). */
static int
state_word(const char **p, const char *end, const char **w, size_t *wl)
{
	const char *s = *p, *e;

	if (s >= end)
		return -1;
	e = memchr(s, ' ', (size_t)(end - s));
	if (e == NULL)
		e = end;
	*w = s;
	*wl = (size_t)(e - s);
	*p = e < end ? e + 1 : end;
	return 0;
}

static int
state_name(const char *const *names, size_t n, const char *w, size_t wl)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strlen(names[i]) == wl && memcmp(names[i], w, wl) == 0)
			return (int)i;
	return -1;
}

static int
state_num(const char *w, size_t wl, long long min, long long max,
    long long *out)
{
	char	 tmp[24], *e;

	if (wl == 0 || wl >= sizeof(tmp))
		return -1;
	memcpy(tmp, w, wl);
	tmp[wl] = '\0';
	errno = 0;
	*out = strtoll(tmp, &e, 10);
	return *e != '\0' || errno != 0 || *out < min || *out > max ? -1 : 0;
}

static int
state_str(const char *w, size_t wl, char *out, size_t outlen)
{
	if (wl == 0 || w[0] != ':')
		return -1;
	return spool_unescape(w + 1, wl - 1, out, outlen) == -1 ? -1 : 0;
}

/* Parses "t STATUS KIND PARENT RCPT ATTEMPTS NEXT :ADDR :OWNER :ERROR". */
static int
state_target(const char *p, const char *end, size_t nrcpt, struct qstate *q)
{
	struct target	 t;
	const char	*w;
	size_t		 wl;
	long long	 v;
	int		 i;

	memset(&t, 0, sizeof(t));
	if (state_word(&p, end, &w, &wl) == -1 ||
	    (i = state_name(status_names, 4, w, wl)) == -1)
		return -1;
	t.status = (enum target_status)i;
	if (state_word(&p, end, &w, &wl) == -1 ||
	    (i = state_name(kind_names, 5, w, wl)) == -1)
		return -1;
	t.kind = (enum target_kind)i;
	if (state_word(&p, end, &w, &wl) == -1 ||
	    state_num(w, wl, -1, (long long)q->n - 1, &v) == -1)
		return -1;
	t.parent = (int)v;
	if (state_word(&p, end, &w, &wl) == -1 ||
	    state_num(w, wl, 0, (long long)nrcpt - 1, &v) == -1)
		return -1;
	t.rcpt = (int)v;
	if (state_word(&p, end, &w, &wl) == -1 ||
	    state_num(w, wl, 0, 1000000, &v) == -1)
		return -1;
	t.attempts = (unsigned)v;
	if (state_word(&p, end, &w, &wl) == -1 ||
	    state_num(w, wl, 0, 1LL << 40, &v) == -1)
		return -1;
	t.next = (time_t)v;
	if (state_word(&p, end, &w, &wl) == -1 ||
	    state_str(w, wl, t.addr, sizeof(t.addr)) == -1 ||
	    state_word(&p, end, &w, &wl) == -1 ||
	    state_str(w, wl, t.owner, sizeof(t.owner)) == -1 ||
	    state_word(&p, end, &w, &wl) == -1 ||
	    state_str(w, wl, t.error, sizeof(t.error)) == -1 || p != end)
		return -1;
	if (t.parent >= 0 && q->t[t.parent].rcpt != t.rcpt)
		return -1;		/* it descends from its parent's recipient */
	if (state_add(q, t.kind, t.parent, t.rcpt, t.addr, t.owner) == -1)
		return -1;
	q->t[q->n - 1] = t;
	return 0;
}

int
state_parse(const char *buf, size_t len, size_t nrcpt, struct qstate *q,
    const char **errstr)
{
	const char	*p = buf, *end = buf + len, *nl;
	size_t		 vl = sizeof(STATE_VERSION) - 1, i;
	unsigned char	*seen;

	memset(q, 0, sizeof(*q));
	*errstr = "not an inetmail state file (version line)";
	if (len <= vl || memcmp(buf, STATE_VERSION, vl) != 0 || buf[vl] != '\n')
		return -1;
	p += vl + 1;
	*errstr = "bad state line";
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			goto fail;
		if (nl - p == 8 && memcmp(p, "warned ", 7) == 0 &&
		    (p[7] == '0' || p[7] == '1'))
			q->warned = p[7] == '1';
		else if (nl - p == 7 && memcmp(p, "tried ", 6) == 0 &&
		    (p[6] == '0' || p[6] == '1'))
			q->tried = p[6] == '1';
		else if (nl - p > 2 && memcmp(p, "t ", 2) == 0) {
			if (state_target(p + 2, nl, nrcpt, q) == -1)
				goto fail;
		} else
			goto fail;
		p = nl + 1;
	}
	/* every recipient needs a target of its own, or it is lost */
	if ((seen = calloc(nrcpt + 1, 1)) == NULL)
		goto fail;
	for (i = 0; i < q->n; i++)
		if (q->t[i].parent == -1)
			seen[q->t[i].rcpt] = 1;
	for (i = 0; i < nrcpt && seen[i]; i++)
		;
	free(seen);
	if (i < nrcpt) {
		*errstr = "state lacks a target for a recipient";
		goto fail;
	}
	return 0;
fail:
	state_free(q);
	return -1;
}

static int
state_path(char *out, size_t outlen, const char *spool, const char *id,
    const char *suffix)
{
	int	n = snprintf(out, outlen, "%s/state/%s%s", spool, id, suffix);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int
state_load(const char *spool, const char *id, size_t nrcpt, struct qstate *q,
    const char **errstr)
{
	char	 path[1200], *buf;
	size_t	 len;
	int	 r;

	*errstr = "path too long";
	if (state_path(path, sizeof(path), spool, id, "") == -1)
		return -1;
	if (aliases_slurp(path, STATE_FILEMAX, &buf, &len) == -1) {
		*errstr = strerror(errno);
		return errno == ENOENT ? 0 : -1;
	}
	r = state_parse(buf, len, nrcpt, q, errstr);
	free(buf);
	return r == 0 ? 1 : -1;
}

/* fsyncs a directory. */
static int
state_syncdir(const char *spool, const char *sub)
{
	char	path[1200];
	int	fd, r;

	if (snprintf(path, sizeof(path), "%s/%s", spool, sub) >=
	    (int)sizeof(path))
		return -1;
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int
state_save(const char *spool, const char *id, const struct qstate *q)
{
	struct buf	 b;
	char		 tmp[1200], path[1200];
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd = -1, saved;

	buf_init(&b, STATE_FILEMAX);
	if (state_path(tmp, sizeof(tmp), spool, id, ".new") == -1 ||
	    state_path(path, sizeof(path), spool, id, "") == -1 ||
	    state_format(q, &b) == -1)
		goto fail;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0640)) == -1)
		goto fail;
	while (off < b.len) {
		if ((n = write(fd, b.data + off, b.len - off)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1 || state_syncdir(spool, "state") == -1)
		goto fail;
	buf_free(&b);
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	(void)unlink(tmp);
	buf_free(&b);
	errno = saved;
	return -1;
}

int
state_remove(const char *spool, const char *id)
{
	char	path[1200];

	if (state_path(path, sizeof(path), spool, id, "") == -1)
		return -1;
	return unlink(path) == -1 && errno != ENOENT ? -1 : 0;
}
