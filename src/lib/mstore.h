/*
 * Reading an mbox as a POP3 (later IMAP) maildrop: a snapshot of the
 * messages at open, their sizes as sent on the wire, stable unique IDs,
 * streaming of one message, and removal of deleted messages by writing
 * a new mailbox beside the old and renaming it into place, so a crash
 * leaves the mailbox either as before or as after.  Mail that arrives
 * during a session is kept.
 */
#ifndef MSTORE_H
#define MSTORE_H

#include <sys/types.h>
#include <sys/stat.h>
#include <stddef.h>

#include "digest.h"

#define MSTORE_MAX	1000000		/* messages in one maildrop */
#define MSTORE_DIGEST	16		/* bytes of SHA-256 kept */
#define MSTORE_UIDLEN	(2 * MSTORE_DIGEST)	/* their hex digits */
#define MSTORE_UIDSIZE	(MSTORE_UIDLEN + 12)	/* with "-N" and the NUL */

struct mstore_msg {
	off_t	 start;		/* the From_ line */
	off_t	 body;		/* the message, after the From_ line */
	off_t	 end;		/* end of the message, separator excluded */
	off_t	 next;		/* where the next message starts */
	size_t	 size;		/* octets on the wire: CRLF, dot-stuffed */
	unsigned char digest[MSTORE_DIGEST];	/* of the header: the UID */
	unsigned int dup;	/* k >= 2: the k-th message with that digest */
	int	 deleted;
};

/* The scanner, a machine fed the mailbox in pieces (for tests and fuzzing). */
struct mstore_scan {
	off_t	 pos;		/* offset of the next byte fed */
	off_t	 ls;		/* start of the current line */
	size_t	 gt, fm;	/* '>' run and "From " matched at line start */
	int	 decided;	/* the line's prefix is decided */
	int	 quoted, dot, from, cr;
	int	 prevblank, blankline;
	off_t	 blankstart;	/* where the last blank line started */
	size_t	 hdrleft;	/* header bytes still to hash */
	char	 hname[16];	/* the start of the header line being hashed */
	size_t	 hlen;
	int	 hstate;	/* 0: reading a line's start, 1: hashing, 2: skipping */
	int	 hskip;		/* the current field is one readers rewrite */
	struct digest md;	/* of the current message's header */
	size_t	 n, cap;
	struct mstore_msg *m;
	int	 error;		/* out of memory or too many messages */
};

/* What the index of a mailbox says about it (mstore_index.c). */
#define MSTORE_SAMPLE	64
struct mstore_index {
	unsigned long long dev, ino;	/* of the mailbox indexed */
	unsigned long long size;	/* its size: every message ends by then */
	long long	 mtime;		/* its st_mtim, s and ns */
	long		 mtime_ns;
	size_t		 n;
	/* bytes to compare: at the last message's start and before size */
	unsigned char	 head[MSTORE_SAMPLE], tail[MSTORE_SAMPLE];
	size_t		 headlen, taillen;
};

struct mstore {
	int		 fd;
	char		 path[1100];
	off_t		 snap;		/* mailbox size when scanned */
	size_t		 n;
	struct mstore_msg *m;
	int		 exists;
	struct mstore_index ix;		/* the snapshot, as an index says it */
	int		 ix_dirty;	/* the index file does not say so yet */
	const char	*ix_status;	/* for the log: "reused", "appended",
					   "built", "rebuilt-WHY" */
};

void	mstore_scan_init(struct mstore_scan *);
/*
 * Starts the scan at offset at, the start of a message (a From_ line at
 * the start or after a blank line), with the n messages before it known
 * already: m (room for cap, malloc'd) becomes the scan's.
 */
void	mstore_scan_resume(struct mstore_scan *, struct mstore_msg *m,
	    size_t n, size_t cap, off_t at);
/* Feeds the next n bytes of the mailbox. */
void	mstore_scan_feed(struct mstore_scan *, const char *, size_t);
/*
 * Ends the scan at the current position and numbers identical messages
 * (dup) in mailbox order.  Returns 0, or -1 (out of memory, too many
 * messages, libcrypto missing).
 */
int	mstore_scan_end(struct mstore_scan *);
void	mstore_scan_free(struct mstore_scan *);

/* The UID of m: hex digest, "-k" for the k-th identical one, NUL. */
void	mstore_uid(const struct mstore_msg *m, char out[MSTORE_UIDSIZE]);

/*
 * Opens the maildrop at path for a session: an exclusive session lock
 * (flock; another session gets 1 = in use), then the mailbox locks just
 * long enough to take the snapshot.  A missing mailbox is an empty
 * maildrop.  Returns 0, 1 (in use), or -1 with err.
 */
int	mstore_open(struct mstore *, const char *path, int lock_timeout,
	    char *err, size_t errlen);
/*
 * Sends message i as POP3 wants it (CRLF, dot-stuffed, mboxrd quoting
 * undone; top >= 0: the header and that many body lines) through out.
 * Returns 0, or -1 if reading or out failed.
 */
int	mstore_send(struct mstore *, size_t i, long top,
	    int (*out)(void *, const char *, size_t), void *arg);
/*
 * Removes the deleted messages: new mailbox written, fsync'd, renamed over
 * the old, directory fsync'd, under the mailbox locks.  Returns the number
 * removed, or -1 with err (then nothing was removed).
 */
int	mstore_commit(struct mstore *, int lock_timeout, char *err,
	    size_t errlen);
/*
 * Writes the index of the snapshot if the index file does not describe it
 * yet (a failure is ignored: the next session scans again), then closes.
 */
void	mstore_close(struct mstore *);

/*
 * The index (mstore_index.c): MBOX.qpop3d-index beside the mailbox, the
 * message table of a snapshot, so that the next open scans only what
 * was appended since.  The format is in mstore_index.c.
 */
#define MSTORE_INDEX_SUFFIX	".qpop3d-index"
/* Bytes of an index of n messages. */
size_t	mstore_index_len(size_t n);
/*
 * Checks an index image p[0..len) (no I/O, no allocation): header,
 * checksum, and every message against its neighbours and the indexed
 * size.  Fills ix, and m[0..ix->n) when m != NULL and room >= ix->n.
 * Returns 0, or -1 with *errstr set.
 */
int	mstore_index_parse(const unsigned char *p, size_t len,
	    struct mstore_index *ix, struct mstore_msg *m, size_t room,
	    const char **errstr);
/* Writes the image of ix and m[0..ix->n) to out (mstore_index_len() bytes). */
void	mstore_index_encode(const struct mstore_index *ix,
	    const struct mstore_msg *m, unsigned char *out);
/*
 * Reads the index of st's mailbox (sb: the mailbox now, under its locks)
 * into s, a scan just initialised.  Returns where the scan must go on:
 * sb's size when nothing changed, the last indexed message's start when
 * the mailbox only grew, 0 when the index is missing, stale or damaged
 * (s then holds nothing).  Sets st->ix_status.
 */
off_t	mstore_index_load(struct mstore *st, const struct stat *sb,
	    struct mstore_scan *s);
/*
 * Fills ix from the mailbox open on fd (sb: its fstat), whose messages are
 * m[0..n).  Returns 0, or -1 if reading the samples failed.
 */
int	mstore_index_fill(struct mstore_index *ix, int fd,
	    const struct stat *sb, off_t size, const struct mstore_msg *m,
	    size_t n);
/*
 * Replaces the index of the mailbox at path by ix and m, atomically
 * (a temporary file renamed into place).  Returns 0 or -1.
 */
int	mstore_index_write(const char *path, const struct mstore_index *ix,
	    const struct mstore_msg *m);

#endif
