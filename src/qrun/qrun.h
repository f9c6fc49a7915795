/*
 * qrun: all delivery.  Runs as root (started by cron or by inetd on the
 * trigger socket), or entirely as the caller for a private instance.
 */
#ifndef QRUN_H
#define QRUN_H

#include <sys/types.h>
#include <stddef.h>
#include <time.h>

#include "conf.h"
#include "mbox.h"
#include "spool.h"
#include "state.h"

struct qrun {
	const struct conf *conf;
	int		 verbose;	/* -v: a transcript on stderr */
	int		 progress;	/* -t: the trigger client's socket, or -1 */
	int		 force;		/* ignore retry times (-I, -R, -S, -t) */
	const char	*only_rcpt;	/* -R substring */
	const char	*only_sender;	/* -S substring */
	time_t		 now;
	int		 slotfd;	/* the delivery slot held, or -1 */
	int		 delivered, deferred, failed;
	int		 trigger;	/* -t: a submission asked for delivery */
	int		 nohold;	/* qsend -v: even to an expensive mailer */
	int		 transcript;	/* show the SMTP conversation */
	char		 relay[320];	/* the peer of the last remote result */
	char		 sent[512];	/* its reply to a delivered message */
	int		 dsn_passed;	/* that peer will send the success DSN */
};

struct qmsg {
	char		 id[QID_LEN + 1];
	int		 fd;		/* queue/ID, flock'd */
	struct spool_env env;
	size_t		 hdrlen;	/* the message starts here */
	off_t		 size;		/* file size */
	struct qstate	 st;
	int		 dirty;		/* st differs from the file */
	int		*success;	/* targets owed a success notice */
	size_t		 nsuccess;
};

/* queue.c */
/* Prints a progress line to the trigger client and, with -v, to stderr. */
void	qrun_say(struct qrun *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Delivers what is due of one message.  Returns 0 (done, deferred, or
 * skipped because another qrun holds it), -1 on a spool error.
 */
int	qrun_message(struct qrun *, const char *id);
/* Is target i pending, due and of this kind? */
int	qrun_due(struct qrun *, struct qmsg *, size_t i, enum target_kind);
/*
 * Records the result of a delivery attempt of target i and logs it.
 * Returns 1 if it failed for good, 2 if delivered, else 0.
 */
int	qrun_outcome(struct qrun *, struct qmsg *, size_t i,
	    enum mbox_result, const char *err);
/* Leaves target i for a queue run (HoldExpensive), and says so. */
void	qrun_held(struct qrun *, struct qmsg *, size_t i);
/* Closes every queue file this process holds (in a child). */
void	qrun_close_queue_fds(void);
/* Saves the state after a delivery, unless the message is finished. */
void	qrun_checkpoint(struct qrun *, struct qmsg *);
/* A queue run over every message (sorted by arrival).  Returns 0 or -1. */
int	qrun_all(struct qrun *);
/* Takes one of max_deliveries slots, waiting at most wait seconds. */
int	qrun_slot(struct qrun *, int wait);

/* deliver.c */
/*
 * Resolves target i (an address): aliases, .forward, user+detail, local or
 * remote.  Changes it in place or expands it into new targets.
 */
void	deliver_resolve(struct qrun *, struct qmsg *, size_t i, int depth);
/*
 * Delivers target i (a mailbox, file or program) in a child with its
 * owner's privileges.  Returns MBOX_OK, MBOX_TEMP or MBOX_PERM; err gets
 * the reason ("5.x.x text" for a permanent failure).
 */
enum mbox_result deliver_local(struct qrun *, struct qmsg *, size_t i,
	    char *err, size_t errlen);

/* remote.c */
/*
 * Delivers the due remote targets of a message, grouped by destination;
 * appends the indexes of targets that failed for good to failed[].
 */
void	remote_deliver(struct qrun *, struct qmsg *, int *failed,
	    size_t *nfailed);
/* 1 when remote mail must wait for a queue run (HoldExpensive). */
int	remote_held(const struct qrun *);
/* Ends the connections kept open for reuse (QUIT). */
void	remote_close(struct qrun *);

/* notice.c */
/*
 * Queues an RFC 3464 notice about msg: a bounce for the targets that
 * failed in this run (flag FAILED_NOW), or a delay warning.  The new
 * message is delivered before the run ends.  Returns 0 or -1.
 */
int	notice_bounce(struct qrun *, struct qmsg *, const int *which, size_t n);
int	notice_warn(struct qrun *, struct qmsg *);
/*
 * Queues RFC 3461 success notices for the targets in which[] (delivered
 * here, or relayed to a peer that does not do DSN).  Returns 0 or -1.
 */
int	notice_success(struct qrun *, struct qmsg *, const int *which,
	    size_t n);

#endif
