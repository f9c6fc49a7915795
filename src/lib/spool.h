/*
 * The spool.  A queued message is one file, queue/ID: an envelope header
 * (plain text, a version line first, values %-escaped), an empty line, and
 * the message with LF line ends.  It is written in tmp/, fsync'd, renamed
 * into queue/ and the directory fsync'd before anyone is told it is
 * queued; after that it is never rewritten.  Delivery state lives beside
 * it in state/ID and is replaced by write-new-then-rename.  See spool(5).
 */
#ifndef SPOOL_H
#define SPOOL_H

#include <sys/types.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "addr.h"
#include "buf.h"

#define SPOOL_VERSION	"inetmail-queue 1"
#define QID_LEN		15
#define SPOOL_RCPTMAX	100000	/* hard cap for a reader; writers use the config */

/* Makes a new queue ID: unique, sortable by arrival, safe as a file name. */
void	qid_make(char out[QID_LEN + 1]);
/* Returns 1 if s is shaped like a queue ID, else 0. */
int	qid_valid(const char *s);
struct dirent;
/*
 * Lists the queue IDs in dir, sorted (so by arrival), as scandir(3) does.
 * Returns the count, or -1 with errno.
 */
int	qid_scandir(const char *dir, struct dirent ***ents);

struct spool_rcpt {
	char	addr[ADDR_MAX + 1];
	char	orcpt[ADDR_MAX + 16];	/* RFC 3461 ORCPT, "" if none */
	char	notify[40];		/* RFC 3461 NOTIFY, "" if none */
};

struct spool_env {
	char	 id[QID_LEN + 1];
	time_t	 arrival;
	char	 sender[ADDR_MAX + 1];	/* "" for the null sender */
	char	 client_addr[64];	/* "" for a local submission */
	char	 client_name[256];
	char	 helo[256];
	char	 proto[16];		/* SMTP, ESMTP, ESMTPS, UTF8SMTP, local */
	char	 body[16];		/* 7BIT or 8BITMIME, "" if not given */
	char	 envid[101];		/* RFC 3461 ENVID */
	char	 ret[8];		/* FULL, HDRS or "" */
	char	 notice[16];		/* "", bounce, double-bounce, warning */
	int	 smtputf8;
	size_t	 nrcpt;
	struct spool_rcpt *rcpts;	/* nrcpt entries */
};

struct spool_msg {
	char	 id[QID_LEN + 1];
	int	 fd;
	int	 qdirfd;		/* queue/, kept open to fsync it */
	char	 tmppath[1100];
	char	 qpath[1100];
	size_t	 hdrlen;		/* bytes of envelope header */
	size_t	 size;			/* message bytes written */
	struct buf out;
};

/*
 * Creates the layout (dir, tmp, queue, state, bad) where missing.
 * Returns 0, or -1 with errno set.
 */
int	spool_layout(const char *dir);
/*
 * Starts a new message: a fresh ID and tmp/ID opened for writing, the spool
 * laid out first if it is missing.  Returns 0, or -1 with *errstr.
 */
int	spool_msg_open(const char *dir, struct spool_msg *,
	    const char **errstr);
/* Writes the envelope header.  Returns 0 or -1 (errno). */
int	spool_msg_env(struct spool_msg *, const struct spool_env *);
/* Appends message bytes (buffered).  Returns 0 or -1 (errno). */
int	spool_msg_write(struct spool_msg *, const void *, size_t);
/*
 * Commits: flush, fsync, rename into queue/ (never over another file),
 * fsync queue/.  Returns 0 once the message is on stable storage, or -1
 * (errno) with the message wholly absent.
 */
int	spool_msg_commit(struct spool_msg *);
/* Drops a message that was not committed.  Safe after a commit too. */
void	spool_msg_abort(struct spool_msg *);

/*
 * Parses an envelope header from buf (the start of a queue file).  Returns
 * 0 with *hdrlen set to the header's length including its empty line, or
 * -1 with *errstr.  env->rcpts is allocated (at most SPOOL_RCPTMAX); free
 * it with spool_env_free().
 */
int	spool_env_parse(const char *buf, size_t len, struct spool_env *,
	    size_t *hdrlen, const char **errstr);
void	spool_env_free(struct spool_env *);
/* %-escapes bytes <= 0x20, 0x7f and '%' into out.  Returns 0 or -1. */
int	spool_escape(const char *in, struct buf *out);
/* Undoes spool_escape() into out.  Returns the length or -1. */
int	spool_unescape(const char *in, size_t len, char *out, size_t outlen);

struct conf;
/*
 * Prints the queue in sendmail's mailq layout (or "Mail queue is empty").
 * Returns the number of entries (spool_list.c).
 */
int	spool_list(const struct conf *, FILE *);

#endif
