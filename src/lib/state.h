/*
 * Delivery state of one queued message: state/ID beside queue/ID.  It
 * lists the delivery targets (the envelope recipients, and what aliases
 * and .forward files expanded them to), each pending, delivered, failed
 * or expanded, with attempts, next retry and the last error.  It is
 * replaced whole by write-new, fsync, rename, so a reader sees either the
 * old or the new state.  Missing: every envelope recipient is pending.
 */
#ifndef STATE_H
#define STATE_H

#include <stddef.h>
#include <time.h>

#include "spool.h"

#define STATE_VERSION	"inetmail-state 1"
#define STATE_TMAX	10000	/* targets; expansion stops here */
#define STATE_ADDRMAX	1024	/* an address, a path or a command */

enum target_status { T_PENDING, T_SENT, T_FAILED, T_EXPANDED };
enum target_kind {
	K_ADDR,		/* an address still to resolve */
	K_MBOX,		/* a local user's mailbox */
	K_FILE,		/* a file named in aliases or .forward */
	K_PROG,		/* a |program */
	K_REMOTE	/* an address for another host */
};

struct target {
	enum target_status status;
	enum target_kind   kind;
	int		   parent;	/* index of the target it came from, or -1 */
	int		   rcpt;	/* envelope recipient it descends from */
	unsigned	   attempts;
	time_t		   next;	/* not before this time */
	char		   addr[STATE_ADDRMAX];
	char		   owner[256];	/* whose privileges: user or alias owner */
	char		   error[512];	/* last error, "" if none */
};

struct qstate {
	int		 warned;	/* a delay warning went out */
	int		 tried;		/* a queue run has tried it (HoldExpensive) */
	size_t		 n, cap;
	struct target	*t;
};

/* Makes the initial state: one K_ADDR target per envelope recipient. */
int	state_init(struct qstate *, const struct spool_env *);
void	state_free(struct qstate *);
/*
 * Appends a target (copying addr, owner) and returns its index, or -1 when
 * STATE_TMAX is reached or memory runs out.
 */
int	state_add(struct qstate *, enum target_kind, int parent, int rcpt,
	    const char *addr, const char *owner);
/*
 * Parses a state file.  Returns 0, or -1 with *errstr.  The result must
 * name only recipients that exist (nrcpt) and parents before children.
 */
int	state_parse(const char *buf, size_t len, size_t nrcpt,
	    struct qstate *, const char **errstr);
/* Reads spool/state/ID.  Returns 1 if read, 0 if absent, -1 on error. */
int	state_load(const char *spool, const char *id, size_t nrcpt,
	    struct qstate *, const char **errstr);
/* Writes spool/state/ID atomically and durably.  Returns 0 or -1 (errno). */
int	state_save(const char *spool, const char *id, const struct qstate *);
/* Removes the state file.  Returns 0 or -1. */
int	state_remove(const char *spool, const char *id);
/* Names for the log and the files. */
const char *state_status_name(enum target_status);
const char *state_kind_name(enum target_kind);
/* 1 when no target is pending any more. */
int	state_done(const struct qstate *);

#endif
