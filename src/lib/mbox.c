/*
 * mbox delivery.  Runs as the recipient (or the alias file's owner); the
 * message is from the network, the mailbox path from the configuration.
 * Never follows a link, never appends to a file it does not own when
 * MBOX_F_OWNED, never leaves a partial message behind on an error it saw.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "mbox.h"

#define MBOX_CHUNK	65536

void
mboxrd_init(struct mboxrd *q)
{
	q->bol = 1;
	q->gt = q->match = 0;
}

/* Emits what a line start held back, quoted if it was ">*From ". */
static size_t
mboxrd_release(struct mboxrd *q, char *out, int quote)
{
	size_t	o = 0, i;

	if (quote)
		out[o++] = '>';
	for (i = 0; i < q->gt; i++)
		out[o++] = '>';
	memcpy(out + o, "From ", q->match);
	o += q->match;
	q->gt = q->match = 0;
	return o;
}

size_t
mboxrd_feed(struct mboxrd *q, const char *in, size_t n, char *out)
{
	size_t	i, o = 0;
	char	c;

	for (i = 0; i < n; i++) {
		c = in[i];
		if (q->bol) {
			if (q->match == 0 && c == '>') {
				/*
				 * A '>' run passes at once: the quote that a
				 * following "From " needs may go anywhere in it.
				 */
				out[o++] = '>';
				continue;
			}
			if (c == "From "[q->match]) {
				if (++q->match == 5) {
					o += mboxrd_release(q, out + o, 1);
					q->bol = 0;
				}
				continue;
			}
			o += mboxrd_release(q, out + o, 0);
			q->bol = 0;
		}
		out[o++] = c;
		if (c == '\n')
			q->bol = 1;
	}
	return o;
}

size_t
mboxrd_flush(struct mboxrd *q, char *out, size_t outlen)
{
	if (outlen < q->gt + q->match)
		return 0;
	return q->bol ? mboxrd_release(q, out, 0) : 0;
}

static int
mbox_writeall(int fd, const char *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Lock content: "inetmail PID SIZE\n" while appending, "inetmail PID -\n" after. */
static int
mbox_lockinfo(const char *lock, long *pid, long long *size,
    unsigned long long *ino)
{
	char	buf[128], *e;
	ssize_t	n;
	int	fd;

	*pid = 0;
	*size = -1;
	*ino = 0;
	if ((fd = open(lock, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (strncmp(buf, "inetmail ", 9) != 0)
		return 0;
	*pid = strtol(buf + 9, &e, 10);
	if (*e == ' ' && e[1] != '-') {
		*size = strtoll(e + 1, &e, 10);
		if (*e == ' ')
			*ino = strtoull(e + 1, NULL, 10);
	}
	return 0;
}

/* Puts our lock with a dead delivery's record in place of its lock. */
static int
mbox_takeover(const char *tmp, const char *lock, long long size,
    unsigned long long ino)
{
	int	fd, ok;

	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) == -1)
		return -1;
	ok = dprintf(fd, "inetmail %ld %lld %llu\n", (long)getpid(), size,
	    ino) > 0;
	close(fd);
	if (ok && rename(tmp, lock) == 0)
		return 0;
	(void)unlink(tmp);
	return -1;
}

/*
 * Takes the dotlock path.lock; *cut is set to the size a dead inetmail
 * delivery recorded (or -1).  Returns 0, or -1 at the deadline.
 */
static int
mbox_dotlock(const char *path, const char *lock, time_t deadline, int stale,
    long long *cut, unsigned long long *cutino, char *err, size_t errlen)
{
	char		 tmp[1200], *slash;
	struct stat	 st;
	long		 pid;
	long long	 size;
	unsigned long long ino;
	int		 fd, n;

	*cut = -1;
	*cutino = 0;
	n = snprintf(tmp, sizeof(tmp), "%s", path);
	if ((slash = strrchr(tmp, '/')) == NULL || n < 0 ||
	    (size_t)n >= sizeof(tmp) - 40) {
		snprintf(err, errlen, "bad mailbox path");
		return -1;
	}
	snprintf(slash + 1, sizeof(tmp) - (size_t)(slash + 1 - tmp),
	    ".lk%ld.inetmail", (long)getpid());
	for (;;) {
		(void)unlink(tmp);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0644);
		if (fd == -1) {
			snprintf(err, errlen, "cannot create lock file: %s",
			    strerror(errno));
			return -1;
		}
		dprintf(fd, "inetmail %ld -\n", (long)getpid());
		close(fd);
		n = link(tmp, lock);
		if (n == 0 || (stat(tmp, &st) == 0 && st.st_nlink == 2)) {
			(void)unlink(tmp);
			return 0;
		}
		(void)unlink(tmp);
		if (lstat(lock, &st) == 0) {
			mbox_lockinfo(lock, &pid, &size, &ino);
			if ((pid > 0 && pid != getpid() && kill((pid_t)pid, 0)
			    == -1 && errno == ESRCH) ||
			    time(NULL) - st.st_mtime > stale) {
				if (pid > 0 && size >= 0) {
					/*
					 * A killed delivery: replace its lock in
					 * one step by ours, carrying the same
					 * record, so a kill now loses nothing.
					 */
					if (mbox_takeover(tmp, lock, size, ino)
					    == 0) {
						*cut = size;
						*cutino = ino;
						return 0;
					}
				} else if (unlink(lock) == 0 || errno == ENOENT)
					continue;
				/* cannot replace it: wait like for a live one */
			}
		}
		if (time(NULL) >= deadline) {
			snprintf(err, errlen, "mailbox is locked (%s)", lock);
			return -1;
		}
		usleep(50000);
	}
}

static int
mbox_fcntl(int fd, time_t deadline)
{
	struct flock	fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(fd, F_SETLK, &fl) == -1) {
		if ((errno != EAGAIN && errno != EACCES) ||
		    time(NULL) >= deadline)
			return -1;
		usleep(50000);
	}
	return 0;
}

/* Opens the mailbox safely: no links, a regular file, ours if asked. */
static int
mbox_open(const char *path, int flags, gid_t group, char *err, size_t errlen,
    enum mbox_result *why)
{
	struct stat	lst, st;
	int		fd;

	*why = MBOX_TEMP;
	if (lstat(path, &lst) == -1) {
		if (errno != ENOENT || !(flags & MBOX_F_CREATE)) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd == -1)
			snprintf(err, errlen, "cannot create %s: %s", path,
			    strerror(errno));
		else if (group != (gid_t)-1 && fchown(fd, (uid_t)-1, group)
		    == 0)
			(void)fchmod(fd, 0660);
		return fd;
	}
	if (S_ISLNK(lst.st_mode) || !S_ISREG(lst.st_mode) || lst.st_nlink != 1) {
		snprintf(err, errlen, "%s is not a regular file (a link?): "
		    "refused", path);
		return -1;
	}
	if ((flags & MBOX_F_OWNED) && lst.st_uid != geteuid()) {
		snprintf(err, errlen, "%s is owned by uid %ld, not the "
		    "recipient: refused", path, (long)lst.st_uid);
		return -1;
	}
	if ((fd = open(path, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC))
	    == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || st.st_dev != lst.st_dev ||
	    st.st_ino != lst.st_ino) {
		snprintf(err, errlen, "%s changed while opening: refused", path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Cuts off what a killed delivery left, if it looks like ours. */
static void
mbox_cut(int fd, long long cut, unsigned long long ino, const struct stat *st)
{
	char	head[6];

	/* only the file the killed delivery wrote, only past its old end */
	if (cut < 0 || cut >= st->st_size || ino != (unsigned long long)st->st_ino)
		return;
	if (pread(fd, head, sizeof(head), (off_t)cut) == (ssize_t)sizeof(head)
	    && (memcmp(head, "From ", 5) == 0 || memcmp(head, "\nFrom ", 6)
	    == 0))
		(void)ftruncate(fd, (off_t)cut);
}

/* Writes From_ line, headers, quoted message and the blank line. */
static int
mbox_write(int fd, const struct mbox_msg *m, int sep)
{
	struct mboxrd	 q;
	char		 in[MBOX_CHUNK], *out, from[600];
	time_t		 now = time(NULL);
	off_t		 off = m->off;
	ssize_t		 n;
	size_t		 o;
	char		 last = '\n';
	int		 r = -1, l;

	if ((out = malloc(2 * MBOX_CHUNK + 2048)) == NULL)
		return -1;
	l = snprintf(from, sizeof(from), "%sFrom %s %s", sep == 2 ? "\n\n" :
	    sep == 1 ? "\n" : "",
	    m->sender[0] ? m->sender : "MAILER-DAEMON", ctime(&now));
	if (l < 0 || (size_t)l >= sizeof(from) ||
	    mbox_writeall(fd, from, (size_t)l) == -1 ||
	    mbox_writeall(fd, m->headers, strlen(m->headers)) == -1)
		goto out;
	mboxrd_init(&q);
	while ((n = pread(m->fd, in, sizeof(in), off)) > 0) {
		o = mboxrd_feed(&q, in, (size_t)n, out);
		last = in[n - 1];
		off += n;
		if (mbox_writeall(fd, out, o) == -1)
			goto out;
	}
	if (n == -1)
		goto out;
	o = mboxrd_flush(&q, out, 2048);
	if (last != '\n')
		out[o++] = '\n';
	out[o++] = '\n';		/* the blank line between messages */
	r = mbox_writeall(fd, out, o);
out:
	free(out);
	return r;
}

int
mbox_lock(const char *path, int fd, int lock_timeout, int stale, char *err,
    size_t errlen)
{
	struct stat	 st;
	char		 lock[1200];
	time_t		 deadline = time(NULL) + lock_timeout;
	long long	 cut;
	unsigned long long cutino;

	if (snprintf(lock, sizeof(lock), "%s.lock", path) >= (int)sizeof(lock)) {
		snprintf(err, errlen, "mailbox path too long");
		return -1;
	}
	if (mbox_fcntl(fd, deadline) == -1) {
		snprintf(err, errlen, "cannot lock %s: %s", path,
		    errno == EAGAIN || errno == EACCES ? "locked" :
		    strerror(errno));
		return -1;
	}
	if (mbox_dotlock(path, lock, deadline, stale, &cut, &cutino, err,
	    errlen) == -1)
		return -1;
	if (fstat(fd, &st) == 0)
		mbox_cut(fd, cut, cutino, &st);
	return 0;
}

void
mbox_unlock(const char *path)
{
	char	lock[1200];

	if (snprintf(lock, sizeof(lock), "%s.lock", path) < (int)sizeof(lock))
		(void)unlink(lock);
}

enum mbox_result
mbox_append(const char *path, const struct mbox_msg *msg, int flags,
    int lock_timeout, int stale, char *err, size_t errlen)
{
	enum mbox_result	 why;
	struct stat		 st, lst;
	char			 lock[1200], tail[2], info[64];
	time_t			 deadline = time(NULL) + lock_timeout;
	long long		 cut;
	unsigned long long	 cutino;
	int			 fd, lfd, sep = 0, saved;

	if (snprintf(lock, sizeof(lock), "%s.lock", path) >= (int)sizeof(lock)) {
		snprintf(err, errlen, "5.3.0 mailbox path too long");
		return MBOX_PERM;
	}
	if (flags & MBOX_F_NODOTLOCK)
		lock[0] = '\0';	/* no dotlock to take, write or remove */
again:
	if ((fd = mbox_open(path, flags, msg->group, err, errlen, &why)) == -1)
		return why;
	if (mbox_fcntl(fd, deadline) == -1) {
		snprintf(err, errlen, "cannot lock %s: %s", path,
		    errno == EAGAIN || errno == EACCES ? "locked" :
		    strerror(errno));
		close(fd);
		return MBOX_TEMP;
	}
	cut = -1;
	cutino = 0;
	if (!(flags & MBOX_F_NODOTLOCK) && mbox_dotlock(path, lock, deadline,
	    stale, &cut, &cutino, err, errlen) == -1) {
		close(fd);
		return MBOX_TEMP;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	/*
	 * A POP3 session may have replaced the mailbox (write new, rename)
	 * while we waited for the locks: append to the new one, never to
	 * the old file nobody will read again.
	 */
	if (lstat(path, &lst) == -1 || lst.st_ino != st.st_ino ||
	    lst.st_dev != st.st_dev) {
		(void)unlink(lock);
		close(fd);
		if (time(NULL) >= deadline) {
			snprintf(err, errlen, "%s keeps changing", path);
			return MBOX_TEMP;
		}
		goto again;
	}
	mbox_cut(fd, cut, cutino, &st);
	if (fstat(fd, &st) == -1)
		goto fail;
	/* record the old size, so a kill from here on can be undone */
	if ((lfd = open(lock, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)) != -1) {
		int l = snprintf(info, sizeof(info), "inetmail %ld %lld %llu\n",
		    (long)getpid(), (long long)st.st_size,
		    (unsigned long long)st.st_ino);
		(void)!write(lfd, info, (size_t)l);
		close(lfd);
	}
	/* another writer may have left no blank line, or no newline at all */
	if (st.st_size >= 1 && pread(fd, tail + 1, 1, st.st_size - 1) == 1 &&
	    tail[1] != '\n')
		sep = 2;
	else if (st.st_size >= 2 && pread(fd, tail, 1, st.st_size - 2) == 1 &&
	    tail[0] != '\n')
		sep = 1;
	if (mbox_write(fd, msg, sep) == -1 || fsync(fd) == -1) {
		saved = errno;
		(void)ftruncate(fd, st.st_size);
		(void)fsync(fd);
		snprintf(err, errlen, "write to %s failed: %s", path,
		    strerror(saved));
		goto fail_noerr;
	}
	/*
	 * No rewrite of the record first: a kill before the unlink makes the
	 * next delivery cut this message off again, which is right, as it is
	 * not yet recorded as delivered.
	 */
	(void)unlink(lock);
	close(fd);
	return MBOX_OK;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
fail_noerr:
	(void)unlink(lock);
	close(fd);
	return MBOX_TEMP;
}
