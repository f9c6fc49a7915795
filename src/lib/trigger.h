/*
 * The trigger: a unix socket in the spool that inetd serves with qrun -t.
 * A submitter writes the queue IDs it committed, one a line, and may read
 * qrun's progress lines back.
 */
#ifndef TRIGGER_H
#define TRIGGER_H

/*
 * Connects to the trigger at path, waiting at most timeout seconds.
 * Returns a connected socket, or -1 (no trigger: mail waits for a run).
 */
int	trigger_connect(const char *path, int timeout);
/*
 * Asks for delivery of one message and closes at once, without waiting
 * for qrun.  Returns 0 if the request was handed over, -1 if not.
 */
int	trigger_notify(const char *path, const char *qid);

#endif
