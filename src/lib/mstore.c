/*
 * The mbox maildrop for qpop3d.  Runs as the mailbox owner.  The mailbox
 * holds mail from anyone: the scanner is a bounded machine over bytes.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "compat.h"
#include "mbox.h"
#include "mstore.h"

#define MSTORE_CHUNK	65536
#define MSTORE_SCANBUF	(256 * 1024)	/* reads of the scan: fewer syscalls */
#define MSTORE_HASHHDR	65536	/* header bytes that make the UID */
#define MSTORE_STALE	300

void
mstore_scan_init(struct mstore_scan *s)
{
	memset(s, 0, sizeof(*s));
	s->prevblank = 1;		/* the file start counts as after a blank */
}

void
mstore_scan_free(struct mstore_scan *s)
{
	digest_free(&s->md);
	free(s->m);
	s->m = NULL;
}

/* Closes the current message at off (its end, separator excluded). */
static void
mstore_close_msg(struct mstore_scan *s, off_t end, off_t next, int blank)
{
	struct mstore_msg	*m;
	unsigned char		 dig[DIGEST_MAX];

	if (s->n == 0)
		return;
	m = &s->m[s->n - 1];
	if (m->next != 0)
		return;			/* already closed */
	m->end = end;
	m->next = next;
	if (blank && m->size >= 2)
		m->size -= 2;		/* the separating blank line */
	if (s->md.ctx != NULL && digest_final(&s->md, dig) >= MSTORE_DIGEST)
		memcpy(m->digest, dig, MSTORE_DIGEST);
}

static void
mstore_new_msg(struct mstore_scan *s, off_t start)
{
	struct mstore_msg	*m;
	size_t			 ncap;

	mstore_close_msg(s, start - 1, start, 1);
	if (s->n >= MSTORE_MAX) {
		s->error = 1;
		return;
	}
	if (s->n == s->cap) {
		ncap = s->cap ? s->cap * 2 : 256;
		if ((m = reallocarray(s->m, ncap, sizeof(*m))) == NULL) {
			s->error = 1;
			return;
		}
		s->m = m;
		s->cap = ncap;
	}
	m = &s->m[s->n++];
	memset(m, 0, sizeof(*m));
	m->start = start;
	if (digest_init(&s->md, DIGEST_SHA256) == -1)
		s->error = 2;
	s->hdrleft = MSTORE_HASHHDR;
	s->hstate = s->hskip = 0;
	s->hlen = 0;
}

/* The line that started at s->ls ends at lf (the LF's offset). */
static void
mstore_line_end(struct mstore_scan *s, off_t lf)
{
	struct mstore_msg	*m = s->n ? &s->m[s->n - 1] : NULL;
	off_t			 len = lf - s->ls - (s->cr ? 1 : 0);

	s->blankline = len == 0;
	if (s->from && s->prevblank) {
		/* the message before ends where the blank line began */
		mstore_close_msg(s, s->blankstart, s->ls, 1);
		mstore_new_msg(s, s->ls);
		if (s->n > 0 && !s->error)
			s->m[s->n - 1].body = lf + 1;
	} else if (m != NULL) {
		m->size += (size_t)len + 2 + (s->dot ? 1 : 0) -
		    (s->quoted ? 1 : 0);
		if (s->blankline)
			s->hdrleft = 0;	/* the header section is over */
	}
	s->prevblank = s->blankline;
	if (s->blankline)
		s->blankstart = s->ls;
	s->ls = lf + 1;
	s->gt = s->fm = 0;
	s->decided = s->quoted = s->dot = s->from = s->cr = 0;
}

/*
 * Header fields that mail readers add or rewrite when a message is read
 * (mutt, elm, pine, UW IMAP): left out of the UID, so reading a message
 * elsewhere does not make POP3 clients fetch it again.
 */
static int
mstore_volatile(const char *name, size_t len)
{
	static const char *const names[] = { "Status", "X-Status",
	    "X-Keywords", "X-UID", "X-IMAP", "X-IMAPbase", "Content-Length",
	    "Lines" };
	size_t	i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && strncasecmp(names[i], name, len)
		    == 0)
			return 1;
	return 0;
}

/* Decides, at the end of a header line's start, whether it is hashed. */
static void
mstore_hash_decide(struct mstore_scan *s, char c)
{
	int	skip;

	if (s->hname[0] == ' ' || s->hname[0] == '\t')
		skip = s->hskip;		/* a continuation line */
	else if (c == ':')
		skip = s->hskip = mstore_volatile(s->hname, s->hlen - 1);
	else
		skip = s->hskip = 0;
	if (!skip)
		(void)digest_update(&s->md, s->hname, s->hlen);
	s->hstate = skip ? 2 : 1;
}

/* Hashes header bytes of the current message into its UID. */
static void
mstore_hash(struct mstore_scan *s, const char *p, size_t k)
{
	const char	*lf;
	size_t		 n;

	if (s->n == 0 || s->md.ctx == NULL)
		return;
	while (k > 0 && s->hdrleft > 0) {
		if (s->hstate == 0) {		/* the line's first bytes */
			s->hname[s->hlen++] = *p;
			if (*p == ':' || *p == '\n' || s->hlen == sizeof(s->hname)
			    || (s->hlen == 1 && (*p == ' ' || *p == '\t')))
				mstore_hash_decide(s, *p);
			if (*p == '\n')
				s->hstate = 0;
			if (s->hstate == 0 && *p == '\n')
				s->hlen = 0;
			p++;
			k--;
			s->hdrleft--;
			continue;
		}
		lf = memchr(p, '\n', k);
		n = lf ? (size_t)(lf - p) + 1 : k;
		if (n > s->hdrleft)
			n = s->hdrleft;
		if (s->hstate == 1)
			(void)digest_update(&s->md, p, n);
		if (lf != NULL && (size_t)(lf - p) < n) {
			s->hstate = 0;
			s->hlen = 0;
		}
		p += n;
		k -= n;
		s->hdrleft -= n;
	}
}

void
mstore_scan_feed(struct mstore_scan *s, const char *p, size_t n)
{
	size_t		 i = 0, k;
	const char	*lf;
	char		 c;

	while (i < n && !s->error) {
		if (s->decided) {	/* the rest of the line, at once */
			lf = memchr(p + i, '\n', n - i);
			k = lf ? (size_t)(lf - (p + i)) : n - i;
			if (k > 0)
				s->cr = p[i + k - 1] == '\r';
			mstore_hash(s, p + i, lf ? k + 1 : k);
			s->pos += (off_t)k;
			i += k;
			if (lf == NULL)
				continue;
			mstore_line_end(s, s->pos);
			s->pos++;
			i++;
			continue;
		}
		c = p[i];
		mstore_hash(s, p + i, 1);
		if (c == '\n') {
			mstore_line_end(s, s->pos);
		} else if (s->pos == s->ls && c == '.') {
			s->dot = s->decided = 1;
		} else if (s->fm == 0 && c == '>') {
			s->gt++;
		} else if (c == "From "[s->fm]) {
			if (++s->fm == 5) {
				s->quoted = s->gt > 0;
				s->from = s->gt == 0;
				s->decided = 1;
			}
		} else {
			s->decided = 1;
			s->cr = c == '\r';
		}
		s->pos++;
		i++;
	}
}

/*
 * Numbers identical messages "-2", "-3" ... in mailbox order: one pass
 * with a hash table on the digests (which are already uniform).
 */
static int
mstore_dedup(struct mstore_msg *m, size_t n)
{
	struct { size_t first, count; } *t;
	size_t	 cap = 16, mask, i, h;

	while (cap < 2 * n)
		cap *= 2;
	if ((t = calloc(cap, sizeof(*t))) == NULL)
		return -1;
	mask = cap - 1;
	for (i = 0; i < n; i++) {
		memcpy(&h, m[i].digest, sizeof(h));
		for (h &= mask; t[h].count > 0; h = (h + 1) & mask)
			if (memcmp(m[t[h].first].digest, m[i].digest,
			    MSTORE_DIGEST) == 0)
				break;
		if (t[h].count == 0)
			t[h].first = i;
		m[i].dup = ++t[h].count > 1 ? (unsigned int)t[h].count : 0;
	}
	free(t);
	return 0;
}

void
mstore_uid(const struct mstore_msg *m, char out[MSTORE_UIDSIZE])
{
	digest_hex(m->digest, MSTORE_DIGEST, out);
	if (m->dup > 1)
		snprintf(out + MSTORE_UIDLEN, MSTORE_UIDSIZE - MSTORE_UIDLEN,
		    "-%u", m->dup);
}

void
mstore_scan_resume(struct mstore_scan *s, struct mstore_msg *m, size_t n,
    size_t cap, off_t at)
{
	mstore_scan_init(s);
	s->m = m;
	s->n = n;
	s->cap = cap;
	s->pos = s->ls = at;	/* a From_ line: after a blank, as at the start */
}

int
mstore_scan_end(struct mstore_scan *s)
{
	if (s->pos > s->ls) {		/* a last line without LF */
		s->cr = 0;
		mstore_line_end(s, s->pos);
		if (s->n > 0 && s->m[s->n - 1].body > s->pos)
			s->m[s->n - 1].body = s->pos;	/* it was a From_ line */
	}
	mstore_close_msg(s, s->prevblank && s->pos > 0 ? s->blankstart : s->pos,
	    s->pos, s->prevblank && s->n > 0 && s->m[s->n - 1].body < s->pos);
	if (s->error)
		return -1;
	return mstore_dedup(s->m, s->n);
}

int
mstore_open(struct mstore *st, const char *path, int lock_timeout, char *err,
    size_t errlen)
{
	struct mstore_scan	 s;
	char			*buf;
	ssize_t			 n;
	off_t			 off;
	struct stat		 sb;
	int			 r = -1;

	memset(st, 0, sizeof(*st));
	st->fd = -1;
	if (strlcpy(st->path, path, sizeof(st->path)) >= sizeof(st->path)) {
		snprintf(err, errlen, "mailbox path too long");
		return -1;
	}
	if ((st->fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;	/* no mail yet */
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(st->fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		return -1;
	}
	st->exists = 1;
	if (flock(st->fd, LOCK_EX | LOCK_NB) == -1)
		return 1;		/* another session has it */
	if (mbox_lock(path, st->fd, lock_timeout, MSTORE_STALE, err, errlen)
	    == -1)
		return -1;
	/* the snapshot: what the mailbox is while its locks are held */
	if (fstat(st->fd, &sb) == -1 ||
	    (buf = malloc(MSTORE_SCANBUF)) == NULL) {
		mbox_unlock(path);
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	mstore_scan_init(&s);
	off = mstore_index_load(st, &sb, &s);
	while ((n = pread(st->fd, buf, MSTORE_SCANBUF, off)) > 0) {
		mstore_scan_feed(&s, buf, (size_t)n);
		off += n;
	}
	free(buf);
	if (n == 0 && (r = mstore_scan_end(&s)) == 0 && st->ix_dirty &&
	    mstore_index_fill(&st->ix, st->fd, &sb, off, s.m, s.n) == -1)
		st->ix_dirty = 0;	/* no index, then */
	mbox_unlock(path);		/* the fcntl lock goes with it */
	{
		struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };
		(void)fcntl(st->fd, F_SETLK, &fl);
	}
	if (n == -1 || r == -1) {
		snprintf(err, errlen, "cannot read %s: %s", path, n == -1 ?
		    strerror(errno) : s.error == 2 ? "cannot compute UIDs "
		    "(libcrypto's SHA-256)" : "too many messages or out of "
		    "memory");
		mstore_scan_free(&s);
		return -1;
	}
	st->snap = off;
	st->n = s.n;
	st->m = s.m;
	s.m = NULL;
	mstore_scan_free(&s);
	return 0;
}

struct mstore_out {
	int	(*out)(void *, const char *, size_t);
	void	*arg;
	char	 buf[MSTORE_CHUNK + 8];
	size_t	 len;
};

static int
mstore_put(struct mstore_out *o, const char *p, size_t n)
{
	if (o->len + n > sizeof(o->buf)) {
		if (o->out(o->arg, o->buf, o->len) == -1)
			return -1;
		o->len = 0;
	}
	if (n > sizeof(o->buf))
		return o->out(o->arg, p, n);
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	return 0;
}

/*
 * One line (or, for a line longer than the buffer, one piece of it) in
 * POP3 form.  bol: the piece starts the line; eol: it ends it.
 */
static int
mstore_put_line(struct mstore_out *o, const char *l, size_t ll, int bol,
    int eol)
{
	size_t	gt = 0;

	if (eol && ll > 0 && l[ll - 1] == '\r')
		ll--;
	if (bol) {
		while (gt < ll && l[gt] == '>')
			gt++;
		if (gt > 0 && ll - gt >= 5 && memcmp(l + gt, "From ", 5) == 0) {
			l++;			/* undo mboxrd quoting */
			ll--;
		}
		if (ll > 0 && l[0] == '.' && mstore_put(o, ".", 1) == -1)
			return -1;
	}
	if (mstore_put(o, l, ll) == -1)
		return -1;
	return eol ? mstore_put(o, "\r\n", 2) : 0;
}

int
mstore_send(struct mstore *st, size_t i, long top, int (*out)(void *,
    const char *, size_t), void *arg)
{
	struct mstore_msg	*m = &st->m[i];
	struct mstore_out	*o;
	char			*buf;
	const char		*l, *lf;
	off_t			 off = m->body;
	size_t			 have = 0, pos, ll;
	ssize_t			 n;
	long			 body_lines = -1;	/* -1: in the header */
	int			 r = -1, bol = 1, eof;

	if ((o = malloc(sizeof(*o))) == NULL)
		return -1;
	if ((buf = malloc(MSTORE_CHUNK)) == NULL) {
		free(o);
		return -1;
	}
	o->out = out;
	o->arg = arg;
	o->len = 0;
	while (off < m->end) {
		n = pread(st->fd, buf + have, MSTORE_CHUNK - have, off);
		if (n <= 0)
			goto out;
		if (off + n > m->end)
			n = (ssize_t)(m->end - off);
		off += n;
		have += (size_t)n;
		eof = off >= m->end;
		for (pos = 0; pos < have; pos += ll + (lf ? 1 : 0)) {
			if (top >= 0 && body_lines >= top)
				goto done;
			l = buf + pos;
			lf = memchr(l, '\n', have - pos);
			ll = lf ? (size_t)(lf - l) : have - pos;
			if (lf == NULL && !eof && pos > 0)
				break;		/* refill to finish the line */
			if (mstore_put_line(o, l, ll, bol, lf != NULL || eof)
			    == -1)
				goto out;
			bol = lf != NULL || eof;
			if (!bol)
				continue;
			if (body_lines >= 0)
				body_lines++;
			else if (ll == 0 || (ll == 1 && l[0] == '\r'))
				body_lines = 0;	/* the blank line ends the header */
		}
		memmove(buf, buf + pos, have - pos);
		have -= pos;
	}
done:
	r = o->len > 0 ? o->out(o->arg, o->buf, o->len) : 0;
out:
	free(buf);
	free(o);
	return r;
}

/* Copies [from, to) of the old mailbox to fd. */
static int
mstore_copy(int in, int out, off_t from, off_t to, char *buf)
{
	ssize_t	n, w;
	size_t	k;

	while (from < to) {
		k = (size_t)(to - from) < MSTORE_CHUNK ? (size_t)(to - from) :
		    MSTORE_CHUNK;
		if ((n = pread(in, buf, k, from)) <= 0)
			return -1;
		for (w = 0; w < n; ) {
			ssize_t x = write(out, buf + w, (size_t)(n - w));
			if (x == -1 && errno == EINTR)
				continue;
			if (x <= 0)
				return -1;
			w += x;
		}
		from += n;
	}
	return 0;
}

static int
mstore_syncdir(const char *path)
{
	char	dir[1100], *slash;
	int	fd, r;

	strlcpy(dir, path, sizeof(dir));
	if ((slash = strrchr(dir, '/')) == NULL)
		strlcpy(dir, ".", sizeof(dir));
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/*
 * After a commit, under the mailbox locks: the index of the new mailbox,
 * where the kept messages follow each other from where the first message
 * was, as mstore_commit() copied them; mail that arrived during the
 * session comes after them, and the next open scans it.  The snapshot's
 * index is stale now whatever happens here.
 */
static void
mstore_reindex(struct mstore *st)
{
	struct mstore_index	 ix;
	struct mstore_msg	*k;
	struct stat		 sb;
	size_t			 i, n = 0;
	off_t			 pos, d;
	int			 fd;

	st->ix_dirty = 0;
	if (st->n == 0 || (k = reallocarray(NULL, st->n, sizeof(*k))) == NULL)
		return;
	pos = st->m[0].start;		/* what stood before it was copied */
	for (i = 0; i < st->n; i++) {
		if (st->m[i].deleted)
			continue;
		k[n] = st->m[i];
		d = pos - k[n].start;
		k[n].start += d;
		k[n].body += d;
		k[n].end += d;
		k[n].next += d;
		pos = k[n++].next;
	}
	if (n > 0 && (fd = open(st->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC))
	    != -1) {
		if (fstat(fd, &sb) == 0 && sb.st_size >= pos &&
		    mstore_index_fill(&ix, fd, &sb, pos, k, n) == 0)
			(void)mstore_index_write(st->path, &ix, k);
		close(fd);
	}
	free(k);
}

int
mstore_commit(struct mstore *st, int lock_timeout, char *err, size_t errlen)
{
	struct stat	 sb, lsb;
	char		 tmp[1200], *buf = NULL, head[7];
	off_t		 tail;
	size_t		 i, gone = 0;
	int		 fd = -1, saved;

	tmp[0] = '\0';
	for (i = 0; i < st->n; i++)
		gone += st->m[i].deleted != 0;
	if (gone == 0 || st->fd == -1)
		return 0;
	if (mbox_lock(st->path, st->fd, lock_timeout, MSTORE_STALE, err,
	    errlen) == -1)
		return -1;
	if (fstat(st->fd, &sb) == -1 || lstat(st->path, &lsb) == -1 ||
	    sb.st_ino != lsb.st_ino || sb.st_dev != lsb.st_dev ||
	    sb.st_size < st->snap) {
		snprintf(err, errlen, "the mailbox was changed by another "
		    "program; nothing deleted");
		goto fail;
	}
	for (i = 0; i < st->n; i++) {
		if (pread(st->fd, head, 5, st->m[i].start) != 5 ||
		    memcmp(head, "From ", 5) != 0) {
			snprintf(err, errlen, "the mailbox was rewritten by "
			    "another program; nothing deleted");
			goto fail;
		}
	}
	snprintf(tmp, sizeof(tmp), "%s.qpop3d-%ld", st->path, (long)getpid());
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, sb.st_mode & 07777)) == -1 ||
	    (buf = malloc(MSTORE_CHUNK)) == NULL) {
		snprintf(err, errlen, "cannot write %s: %s", tmp,
		    strerror(errno));
		goto fail;
	}
	(void)fchown(fd, (uid_t)-1, sb.st_gid);
	(void)fchmod(fd, sb.st_mode & 07777);
	/* whatever stands before the first message is kept as it is */
	if (st->n > 0 && mstore_copy(st->fd, fd, 0, st->m[0].start, buf) == -1)
		goto ioerr;
	for (i = 0; i < st->n; i++)
		if (!st->m[i].deleted && mstore_copy(st->fd, fd,
		    st->m[i].start, st->m[i].next, buf) == -1)
			goto ioerr;
	/*
	 * What arrived during the session.  A delivery that found the last
	 * message without its final newline wrote one or two first; they
	 * belong to that message, and go with it when it is deleted.
	 */
	tail = st->snap;
	if (st->n > 0 && st->m[st->n - 1].deleted &&
	    pread(st->fd, head, sizeof(head), tail) == (ssize_t)sizeof(head)) {
		if (memcmp(head, "\n\nFrom ", 7) == 0)
			tail += 2;
		else if (memcmp(head, "\nFrom ", 6) == 0)
			tail += 1;
	}
	if (mstore_copy(st->fd, fd, tail, sb.st_size, buf) == -1 ||
	    fsync(fd) == -1)
		goto ioerr;
	if (close(fd) == -1) {
		fd = -1;
		goto ioerr;
	}
	fd = -1;
	if (rename(tmp, st->path) == -1 || mstore_syncdir(st->path) == -1)
		goto ioerr;
	free(buf);
	mstore_reindex(st);
	mbox_unlock(st->path);
	return (int)gone;
ioerr:
	saved = errno;
	snprintf(err, errlen, "cannot rewrite %s: %s", st->path,
	    strerror(saved));
fail:
	if (fd != -1)
		close(fd);
	if (tmp[0] != '\0')
		(void)unlink(tmp);
	free(buf);
	mbox_unlock(st->path);
	return -1;
}

void
mstore_close(struct mstore *st)
{
	if (st->ix_dirty && st->n > 0 && st->fd != -1)
		(void)mstore_index_write(st->path, &st->ix, st->m);
	st->ix_dirty = 0;
	if (st->fd != -1)
		close(st->fd);
	free(st->m);
	st->m = NULL;
	st->fd = -1;
}
