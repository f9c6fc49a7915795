/*
 * Appending a message to an mbox (or to a file named in aliases): fcntl
 * lock, then a dotlock compatible with liblockfile and mutt; a From_ line;
 * mboxrd quoting; fsync before success; on any error the file is cut back
 * to its old size.  A delivery that was killed leaves its dotlock behind
 * with the old size in it, and the next delivery cuts the partial message
 * off before it appends.  Runs with the recipient's privileges.
 */
#ifndef MBOX_H
#define MBOX_H

#include <sys/types.h>
#include <stddef.h>

enum mbox_result { MBOX_OK = 0, MBOX_TEMP, MBOX_PERM };

#define MBOX_F_OWNED	0x01	/* must belong to the caller (mailboxes) */
#define MBOX_F_CREATE	0x02	/* may be created */
#define MBOX_F_NODOTLOCK 0x04	/* fcntl only: a file named in aliases */

struct mbox_msg {
	int		 fd;		/* the queue file */
	off_t		 off;		/* where the message starts in it */
	const char	*sender;	/* "" for the null sender */
	const char	*headers;	/* prepended as is (Return-Path, ...) */
	gid_t		 group;		/* a new file gets it and mode 0660, or -1 */
};

/*
 * Appends msg to the file at path.  lock_timeout bounds the wait for
 * both locks (seconds); a dotlock older than stale seconds, or one left by
 * a dead inetmail delivery, is broken.  Returns MBOX_OK, or MBOX_TEMP /
 * MBOX_PERM with a reason in err.
 */
enum mbox_result mbox_append(const char *path, const struct mbox_msg *msg,
	    int flags, int lock_timeout, int stale, char *err, size_t errlen);
/*
 * Takes the fcntl lock on fd and the dotlock path.lock, waiting at most
 * lock_timeout seconds, and cuts off what a killed inetmail delivery left
 * at the end.  Returns 0, or -1 with a reason in err.
 */
int	mbox_lock(const char *path, int fd, int lock_timeout, int stale,
	    char *err, size_t errlen);
/* Drops the dotlock; the fcntl lock goes when fd is closed. */
void	mbox_unlock(const char *path);
/*
 * The mboxrd quoting of one buffer, as a resumable machine: feed bytes,
 * get quoted bytes out.  Exposed for the tests and the fuzz target.
 */
struct mboxrd {
	int	bol;		/* at the start of a line */
	size_t	gt;		/* '>' seen at the start of this line */
	size_t	match;		/* bytes of "From " matched after them */
};
void	mboxrd_init(struct mboxrd *);
/*
 * Quotes n bytes of in, appending to out, which must have room for
 * 2 * n + 8 bytes (a quote per line, and the part of "From " an earlier
 * call held back).  Returns bytes written.
 */
size_t	mboxrd_feed(struct mboxrd *, const char *in, size_t n, char *out);
/* Writes what a line-start match left pending.  Returns bytes written. */
size_t	mboxrd_flush(struct mboxrd *, char *out, size_t outlen);

#endif
