/*
 * The index of an mbox maildrop: MBOX.qpop3d-index beside the mailbox,
 * written by a qpop3d session as the mailbox owner and read by the next,
 * so that opening costs what was appended since, not the mailbox's size.
 * It is a cache: nothing in it is used before it is checked against the
 * mailbox, and any doubt means a scan of the whole mailbox, as with no
 * index at all.  Deleting it is always safe.
 *
 * Layout (integers little-endian):
 *	0	8	"qpop3dix"
 *	8	4	version (1)
 *	12	4	n, messages
 *	16	8	st_dev of the mailbox
 *	24	8	st_ino
 *	32	8	size: of the mailbox when indexed; the last message ends there
 *	40	8	st_mtim.tv_sec
 *	48	4	st_mtim.tv_nsec
 *	52	1	headlen = min(64, size - start of the last message), 0 if n = 0
 *	53	1	taillen = min(64, size)
 *	54	2	zero
 *	56	64	head: the mailbox's bytes at the last message's start
 *	120	64	tail: its bytes just before size
 *	184	56 n	per message: start, body, end, next, size (8 bytes each),
 *			the first 16 bytes of the header's SHA-256
 *	...	8	checksum of all the above (finds damage; not a MAC)
 *
 * The last message is the one that can still change when mail is
 * appended (a header without its end, a missing final newline), so an
 * index of a mailbox that grew is used up to the last message's start
 * and the scan goes on from there.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mstore.h"

#define IX_MAGIC	"qpop3dix"
#define IX_VERSION	1
#define IX_HDR		184
#define IX_REC		(5 * 8 + MSTORE_DIGEST)
#define IX_SUM		8
#define IX_MAXOFF	(1ULL << 62)	/* no mailbox is larger; sums fit */

static void
ix_put64(unsigned char *p, unsigned long long v)
{
	int	i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static unsigned long long
ix_get64(const unsigned char *p)
{
	unsigned long long	v = 0;
	int			i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void
ix_put32(unsigned char *p, unsigned long v)
{
	int	i;

	for (i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static unsigned long
ix_get32(const unsigned char *p)
{
	return (unsigned long)p[0] | (unsigned long)p[1] << 8 |
	    (unsigned long)p[2] << 16 | (unsigned long)p[3] << 24;
}

/* A word-at-a-time mix (len a multiple of 8): finds damage, not forgery. */
static unsigned long long
ix_sum(const unsigned char *p, size_t len)
{
	unsigned long long	h = 0x9e3779b97f4a7c15ULL;
	size_t			i;

	for (i = 0; i + 8 <= len; i += 8) {
		h = (h ^ ix_get64(p + i)) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	return h;
}

size_t
mstore_index_len(size_t n)
{
	return IX_HDR + n * IX_REC + IX_SUM;
}

void
mstore_index_encode(const struct mstore_index *ix, const struct mstore_msg *m,
    unsigned char *out)
{
	unsigned char	*r;
	size_t		 i;

	memset(out, 0, IX_HDR);
	memcpy(out, IX_MAGIC, 8);
	ix_put32(out + 8, IX_VERSION);
	ix_put32(out + 12, (unsigned long)ix->n);
	ix_put64(out + 16, ix->dev);
	ix_put64(out + 24, ix->ino);
	ix_put64(out + 32, ix->size);
	ix_put64(out + 40, (unsigned long long)ix->mtime);
	ix_put32(out + 48, (unsigned long)ix->mtime_ns);
	out[52] = (unsigned char)ix->headlen;
	out[53] = (unsigned char)ix->taillen;
	out[54] = out[55] = 0;
	memcpy(out + 56, ix->head, ix->headlen);
	memcpy(out + 120, ix->tail, ix->taillen);
	for (i = 0; i < ix->n; i++) {
		r = out + IX_HDR + i * IX_REC;
		ix_put64(r, (unsigned long long)m[i].start);
		ix_put64(r + 8, (unsigned long long)m[i].body);
		ix_put64(r + 16, (unsigned long long)m[i].end);
		ix_put64(r + 24, (unsigned long long)m[i].next);
		ix_put64(r + 32, (unsigned long long)m[i].size);
		memcpy(r + 40, m[i].digest, MSTORE_DIGEST);
	}
	r = out + IX_HDR + ix->n * IX_REC;
	ix_put64(r, ix_sum(out, (size_t)(r - out)));
}

static int
ix_zero(const unsigned char *p, size_t len)
{
	while (len > 0 && *p == 0) {
		p++;
		len--;
	}
	return len == 0;
}

/* One message record, checked against the one before and the size. */
static int
ix_record(const unsigned char *r, unsigned long long prev_next, int first,
    unsigned long long size, struct mstore_msg *m)
{
	unsigned long long	s = ix_get64(r), b = ix_get64(r + 8);
	unsigned long long	e = ix_get64(r + 16), x = ix_get64(r + 24);
	unsigned long long	sz = ix_get64(r + 32);

	if (!(s < b && b <= e && e <= x && x <= size) ||
	    (!first && s != prev_next))
		return -1;
	/* each line at most doubles (an empty one: LF to CRLF; "." to "..") */
	if (sz > 2 * (e - b) + 4)
		return -1;
	if (m != NULL) {
		memset(m, 0, sizeof(*m));
		m->start = (off_t)s;
		m->body = (off_t)b;
		m->end = (off_t)e;
		m->next = (off_t)x;
		m->size = (size_t)sz;
		memcpy(m->digest, r + 40, MSTORE_DIGEST);
	}
	return 0;
}

int
mstore_index_parse(const unsigned char *p, size_t len,
    struct mstore_index *ix, struct mstore_msg *m, size_t room,
    const char **errstr)
{
	unsigned long long	prev = 0, last = 0;
	size_t			i;

	if (len < IX_HDR + IX_SUM || memcmp(p, IX_MAGIC, 8) != 0 ||
	    ix_get32(p + 8) != IX_VERSION) {
		*errstr = "not an index of this version";
		return -1;
	}
	memset(ix, 0, sizeof(*ix));
	ix->n = ix_get32(p + 12);
	if (ix->n > MSTORE_MAX || len != mstore_index_len(ix->n) ||
	    ix_sum(p, len - IX_SUM) != ix_get64(p + len - IX_SUM)) {
		*errstr = "truncated or damaged";
		return -1;
	}
	ix->dev = ix_get64(p + 16);
	ix->ino = ix_get64(p + 24);
	ix->size = ix_get64(p + 32);
	ix->mtime = (long long)ix_get64(p + 40);
	ix->mtime_ns = (long)ix_get32(p + 48);
	ix->headlen = p[52];
	ix->taillen = p[53];
	if (ix->size >= IX_MAXOFF || ix->mtime_ns >= 1000000000L ||
	    p[54] != 0 || p[55] != 0 || ix->taillen != (ix->size <
	    MSTORE_SAMPLE ? ix->size : MSTORE_SAMPLE)) {
		*errstr = "bad header";
		return -1;
	}
	for (i = 0; i < ix->n; i++) {
		if (ix_record(p + IX_HDR + i * IX_REC, prev, i == 0, ix->size,
		    m != NULL && room >= ix->n ? &m[i] : NULL) == -1) {
			*errstr = "bad message entry";
			return -1;
		}
		last = ix_get64(p + IX_HDR + i * IX_REC);
		prev = ix_get64(p + IX_HDR + i * IX_REC + 24);
	}
	if ((ix->n > 0 && (prev != ix->size || ix->headlen != (ix->size - last
	    < MSTORE_SAMPLE ? ix->size - last : MSTORE_SAMPLE) ||
	    ix->headlen < 5 || memcmp(p + 56, "From ", 5) != 0)) ||
	    (ix->n == 0 && ix->headlen != 0)) {
		*errstr = "bad last message";
		return -1;
	}
	if (!ix_zero(p + 56 + ix->headlen, MSTORE_SAMPLE - ix->headlen) ||
	    !ix_zero(p + 120 + ix->taillen, MSTORE_SAMPLE - ix->taillen)) {
		*errstr = "bad padding";	/* one image per index */
		return -1;
	}
	memcpy(ix->head, p + 56, ix->headlen);
	memcpy(ix->tail, p + 120, ix->taillen);
	return 0;
}

/* Reads exactly len bytes at off. */
static int
ix_pread(int fd, void *p, size_t len, off_t off)
{
	ssize_t	n;
	size_t	got = 0;

	while (got < len) {
		n = pread(fd, (char *)p + got, len - got, off + (off_t)got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

int
mstore_index_fill(struct mstore_index *ix, int fd, const struct stat *sb,
    off_t size, const struct mstore_msg *m, size_t n)
{
	memset(ix, 0, sizeof(*ix));
	ix->dev = (unsigned long long)sb->st_dev;
	ix->ino = (unsigned long long)sb->st_ino;
	ix->size = (unsigned long long)size;
	ix->mtime = (long long)sb->st_mtim.tv_sec;
	ix->mtime_ns = (long)sb->st_mtim.tv_nsec;
	ix->n = n;
	ix->taillen = size < MSTORE_SAMPLE ? (size_t)size : MSTORE_SAMPLE;
	if (n > 0)
		ix->headlen = size - m[n - 1].start < MSTORE_SAMPLE ?
		    (size_t)(size - m[n - 1].start) : MSTORE_SAMPLE;
	if ((n > 0 && ix_pread(fd, ix->head, ix->headlen, m[n - 1].start)
	    == -1) || ix_pread(fd, ix->tail, ix->taillen, size -
	    (off_t)ix->taillen) == -1)
		return -1;
	return 0;
}

/* Reads the index file at ipath, if it is ours; returns its bytes or NULL. */
static unsigned char *
ix_read(const char *ipath, size_t *len, const char **why)
{
	struct stat	 isb;
	unsigned char	*buf = NULL;
	int		 fd;

	*why = "built";
	if ((fd = open(ipath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC))
	    == -1) {
		if (errno != ENOENT)
			*why = "rebuilt-unreadable";
		return NULL;
	}
	*why = "rebuilt-foreign";
	/* written by the owner alone: anyone else's is not believed */
	if (fstat(fd, &isb) == 0 && S_ISREG(isb.st_mode) &&
	    isb.st_uid == geteuid() && (isb.st_mode & 022) == 0 &&
	    (unsigned long long)isb.st_size <= mstore_index_len(MSTORE_MAX)) {
		*len = (size_t)isb.st_size;
		*why = "rebuilt-unreadable";
		if ((buf = malloc(*len > 0 ? *len : 1)) != NULL &&
		    ix_pread(fd, buf, *len, 0) == -1) {
			free(buf);
			buf = NULL;
		}
	}
	close(fd);
	return buf;
}

/* Compares the samples of ix with the mailbox's bytes. */
static int
ix_samples_match(int fd, const struct mstore_index *ix,
    const struct mstore_msg *m)
{
	unsigned char	b[MSTORE_SAMPLE];

	if (ix->n > 0 && (ix_pread(fd, b, ix->headlen, m[ix->n - 1].start)
	    == -1 || memcmp(b, ix->head, ix->headlen) != 0))
		return 0;
	return ix_pread(fd, b, ix->taillen, (off_t)ix->size -
	    (off_t)ix->taillen) == 0 && memcmp(b, ix->tail, ix->taillen) == 0;
}

off_t
mstore_index_load(struct mstore *st, const struct stat *sb,
    struct mstore_scan *s)
{
	struct mstore_index	 ix;
	struct mstore_msg	*m = NULL;
	unsigned char		*buf;
	char			 ipath[1200];
	const char		*why;
	size_t			 len = 0, room;

	st->ix_dirty = 1;
	st->ix_status = "none-toolong";
	if ((size_t)snprintf(ipath, sizeof(ipath), "%s%s", st->path,
	    MSTORE_INDEX_SUFFIX) >= sizeof(ipath))
		return 0;
	if ((buf = ix_read(ipath, &len, &why)) == NULL) {
		st->ix_status = why;
		return 0;
	}
	room = len > IX_HDR + IX_SUM ? (len - IX_HDR - IX_SUM) / IX_REC : 0;
	if ((m = reallocarray(NULL, room > 0 ? room : 1, sizeof(*m))) == NULL ||
	    mstore_index_parse(buf, len, &ix, m, room, &why) == -1) {
		free(buf);
		free(m);
		st->ix_status = "rebuilt-damaged";
		return 0;
	}
	free(buf);
	if (ix.dev != (unsigned long long)sb->st_dev ||
	    ix.ino != (unsigned long long)sb->st_ino ||
	    ix.size > (unsigned long long)sb->st_size ||
	    (ix.size == (unsigned long long)sb->st_size &&
	    (ix.mtime != (long long)sb->st_mtim.tv_sec ||
	    ix.mtime_ns != (long)sb->st_mtim.tv_nsec)) ||
	    !ix_samples_match(st->fd, &ix, m)) {
		free(m);
		st->ix_status = "rebuilt-changed";
		return 0;
	}
	if (ix.size == (unsigned long long)sb->st_size) {
		st->ix = ix;
		st->ix_dirty = 0;
		st->ix_status = "reused";
		mstore_scan_resume(s, m, ix.n, room, (off_t)ix.size);
		return (off_t)ix.size;
	}
	/* it grew: the last message may change, the scan starts there */
	st->ix_status = "appended";
	if (ix.n == 0) {
		free(m);
		return 0;
	}
	mstore_scan_resume(s, m, ix.n - 1, room, m[ix.n - 1].start);
	return m[ix.n - 1].start;
}

int
mstore_index_write(const char *path, const struct mstore_index *ix,
    const struct mstore_msg *m)
{
	char		 ipath[1200], tmp[1240];
	unsigned char	*buf;
	size_t		 len = mstore_index_len(ix->n), off = 0;
	ssize_t		 w;
	int		 fd, r = -1;

	if ((size_t)snprintf(ipath, sizeof(ipath), "%s%s", path,
	    MSTORE_INDEX_SUFFIX) >= sizeof(ipath) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.%ld", ipath,
	    (long)getpid()) >= sizeof(tmp) || (buf = malloc(len)) == NULL)
		return -1;
	mstore_index_encode(ix, m, buf);
	(void)unlink(tmp);
	/*
	 * Not fsync'd: after a crash an index that is torn or empty fails
	 * its length or checksum check, and the mailbox is scanned again.
	 */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) != -1) {
		while (off < len && ((w = write(fd, buf + off, len - off)) > 0 ||
		    (w == -1 && errno == EINTR)))
			off += w > 0 ? (size_t)w : 0;
		if (close(fd) == 0 && off == len && rename(tmp, ipath) == 0)
			r = 0;
		else
			(void)unlink(tmp);
	}
	free(buf);
	return r;
}
