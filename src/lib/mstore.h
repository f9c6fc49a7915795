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
#include <stddef.h>

#define MSTORE_MAX	1000000		/* messages in one maildrop */
#define MSTORE_UIDLEN	32		/* hex digits of SHA-256 kept */

struct mstore_msg {
	off_t	 start;		/* the From_ line */
	off_t	 body;		/* the message, after the From_ line */
	off_t	 end;		/* end of the message, separator excluded */
	off_t	 next;		/* where the next message starts */
	size_t	 size;		/* octets on the wire: CRLF, dot-stuffed */
	char	 uid[MSTORE_UIDLEN + 4];
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
	void	*md;		/* EVP_MD_CTX of the current message */
	size_t	 n, cap;
	struct mstore_msg *m;
	int	 error;		/* out of memory or too many messages */
};

struct mstore {
	int		 fd;
	char		 path[1100];
	off_t		 snap;		/* mailbox size when scanned */
	size_t		 n;
	struct mstore_msg *m;
	int		 exists;
};

void	mstore_scan_init(struct mstore_scan *);
/* Feeds the next n bytes of the mailbox. */
void	mstore_scan_feed(struct mstore_scan *, const char *, size_t);
/* Ends the scan at the current position; makes UIDs unique.  Returns 0 or -1. */
int	mstore_scan_end(struct mstore_scan *);
void	mstore_scan_free(struct mstore_scan *);

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
void	mstore_close(struct mstore *);

#endif
