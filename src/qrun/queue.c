/*
 * The queue run: one message at a time under its flock, its delivery
 * state saved before anything is reported done.  Runs as root or as the
 * caller; queue files are ours but parsed with suspicion.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "log.h"
#include "qrun.h"

#define QRUN_HDRMAX	(16 * 1024 * 1024)
#define QRUN_GRACE	(36 * 3600)	/* tmp files older than this go */

static void	qrun_track_fd(int, int);

void
qrun_say(struct qrun *qr, const char *fmt, ...)
{
	char	line[1200];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (qr->verbose)
		(void)!write(STDERR_FILENO, line, (size_t)n);
	if (qr->progress != -1 &&
	    send(qr->progress, line, (size_t)n, MSG_NOSIGNAL) == -1)
		qr->progress = -1;	/* the client went away: go on */
}

static int
qrun_path(char *out, size_t len, const struct conf *c, const char *sub,
    const char *id)
{
	int	n = snprintf(out, len, "%s/%s/%s", c->spool, sub, id);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int
qrun_syncdir(const struct conf *c, const char *sub)
{
	char	path[1200];
	int	fd, r;

	if (snprintf(path, sizeof(path), "%s/%s", c->spool, sub) >=
	    (int)sizeof(path) || (fd = open(path, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* Reads and parses the envelope of an open queue file. */
static int
qrun_read_env(struct qmsg *m, const char **errstr)
{
	struct stat	 st;
	char		*buf = NULL, *nb;
	size_t		 cap = 0, len = 0;
	ssize_t		 n;
	int		 r = -1;

	*errstr = "cannot read queue file";
	if (fstat(m->fd, &st) == -1)
		return -1;
	m->size = st.st_size;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 4 : 16384;
			if (cap > QRUN_HDRMAX || (nb = realloc(buf, cap)) == NULL)
				break;
			buf = nb;
		}
		n = pread(m->fd, buf + len, cap - len, (off_t)len);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memmem(buf, len, "\n\n", 2) != NULL) {
			r = spool_env_parse(buf, len, &m->env, &m->hdrlen,
			    errstr);
			break;
		}
	}
	if (r == -1 && len > 0 && memmem(buf, len, "\n\n", 2) == NULL)
		*errstr = "envelope not terminated";
	free(buf);
	return r;
}

/* Moves a queue entry we cannot read into bad/, so it is never lost. */
static void
qrun_bad(struct qrun *qr, const char *id, const char *why)
{
	char	from[1200], to[1200];

	(void)qrun_path(from, sizeof(from), qr->conf, "queue", id);
	(void)qrun_path(to, sizeof(to), qr->conf, "bad", id);
	if (rename(from, to) == 0) {
		(void)qrun_path(from, sizeof(from), qr->conf, "state", id);
		(void)strlcat(to, ".state", sizeof(to));
		(void)rename(from, to);
		log_err("%s: unreadable queue file moved to %s: %s", id, to, why);
	} else
		log_err("%s: unreadable queue file: %s; cannot move it "
		    "aside: %s", id, why, strerror(errno));
	qrun_say(qr, "%s: unreadable queue file moved aside: %s", id, why);
}

static const char *
qrun_mailer(enum target_kind k)
{
	switch (k) {
	case K_PROG:	return "prog";
	case K_FILE:	return "file";
	case K_REMOTE:	return "esmtp";
	default:	return "local";
	}
}

static void
qrun_delay(char *out, size_t len, time_t secs)
{
	if (secs < 0)
		secs = 0;
	if (secs >= 86400)
		snprintf(out, len, "%lld+%02lld:%02lld:%02lld",
		    (long long)secs / 86400, (long long)secs % 86400 / 3600,
		    (long long)secs % 3600 / 60, (long long)secs % 60);
	else
		snprintf(out, len, "%02lld:%02lld:%02lld",
		    (long long)secs / 3600, (long long)secs % 3600 / 60,
		    (long long)secs % 60);
}

/* One sendmail-style log line (and a progress line) per target outcome. */
static void
qrun_report(struct qrun *qr, struct qmsg *m, size_t i)
{
	struct target	*t = &m->st.t[i];
	const char	*orig = m->env.rcpts[t->rcpt].addr;
	char		 delay[32], to[STATE_ADDRMAX + 64], relay[400];

	qrun_delay(delay, sizeof(delay), qr->now - m->env.arrival);
	if (t->kind == K_MBOX || t->kind == K_REMOTE || t->kind == K_ADDR)
		snprintf(to, sizeof(to), "<%s>", log_safe(t->addr));
	else if (t->kind == K_PROG)
		snprintf(to, sizeof(to), "\"|%s\"", log_safe(t->addr));
	else
		snprintf(to, sizeof(to), "%s", log_safe(t->addr));
	relay[0] = '\0';
	if (t->kind == K_REMOTE && qr->relay[0] != '\0')
		snprintf(relay, sizeof(relay), "relay=%s, ",
		    log_safe(qr->relay));
	if (t->status == T_SENT) {
		log_info("%s: to=%s, %s%s%sdelay=%s, mailer=%s, %sstat=Sent%s%s%s",
		    m->id, to, strcmp(orig, t->addr) ? "orig_to=<" : "",
		    strcmp(orig, t->addr) ? log_safe(orig) : "",
		    strcmp(orig, t->addr) ? ">, " : "", delay,
		    qrun_mailer(t->kind), relay, qr->sent[0] ? " (" : "",
		    log_safe(qr->sent), qr->sent[0] ? ")" : "");
		qrun_say(qr, "%s... Sent%s%s%s", t->addr, qr->sent[0] ? " (" :
		    "", qr->sent, qr->sent[0] ? ")" : "");
	} else if (t->status == T_FAILED) {
		log_info("%s: to=%s, delay=%s, mailer=%s, %sdsn=%.5s, stat=%s",
		    m->id, to, delay, qrun_mailer(t->kind), relay, t->error,
		    log_safe(t->error + (strlen(t->error) > 6 ? 6 : 0)));
		qrun_say(qr, "%s... %s", t->addr, t->error);
	} else {
		log_info("%s: to=%s, delay=%s, mailer=%s, %sstat=Deferred: %s",
		    m->id, to, delay, qrun_mailer(t->kind), relay,
		    log_safe(t->error));
		qrun_say(qr, "%s... Deferred: %s", t->addr, t->error);
	}
}

static time_t
qrun_backoff(const struct conf *c, unsigned attempts)
{
	long long	d = c->retry_min;

	while (attempts-- > 1 && d < c->retry_max)
		d *= 2;
	return (time_t)(d < c->retry_max ? d : c->retry_max);
}

/*
 * One delivery per mailbox, file or program and message: a later target
 * naming the same one as an earlier target follows it.  Returns 1 if i is
 * a duplicate (and updated), else 0.
 */
static int
qrun_duplicate(struct qmsg *m, size_t i)
{
	struct target	*t = &m->st.t[i], *o;
	size_t		 j;

	for (j = 0; j < i; j++) {
		o = &m->st.t[j];
		if (o->kind != t->kind || strcmp(o->owner, t->owner) != 0 ||
		    (t->kind != K_MBOX && strcmp(o->addr, t->addr) != 0) ||
		    (o->status != T_SENT && o->status != T_PENDING))
			continue;
		if (o->status == T_SENT)
			t->status = T_SENT;
		else
			t->next = o->next;
		strlcpy(t->error, o->error, sizeof(t->error));
		return 1;
	}
	return 0;
}

int
qrun_due(struct qrun *qr, struct qmsg *m, size_t i, enum target_kind kind)
{
	const struct target	*t = &m->st.t[i];

	return t->status == T_PENDING && t->kind == kind &&
	    (qr->force || t->next <= qr->now);
}

/* Notes a success notice owed for target i (RFC 3461 NOTIFY=SUCCESS). */
static void
qrun_owe_success(struct qrun *qr, struct qmsg *m, size_t i)
{
	const char	*notify = m->env.rcpts[m->st.t[i].rcpt].notify;

	if (strcasestr(notify, "SUCCESS") == NULL || qr->dsn_passed ||
	    m->nsuccess >= STATE_TMAX)
		return;
	if (m->success == NULL &&
	    (m->success = calloc(STATE_TMAX, sizeof(int))) == NULL)
		return;
	m->success[m->nsuccess++] = (int)i;
}

int
qrun_outcome(struct qrun *qr, struct qmsg *m, size_t i, enum mbox_result r,
    const char *err)
{
	struct target	*t = &m->st.t[i];

	t->attempts++;
	strlcpy(t->error, r == MBOX_OK ? "" : err, sizeof(t->error));
	strlcpy(qr->sent, r == MBOX_OK && t->kind == K_REMOTE ? err : "",
	    sizeof(qr->sent));
	if (r == MBOX_OK) {
		t->status = T_SENT;
		qr->delivered++;
		qrun_owe_success(qr, m, i);
	} else if (r == MBOX_PERM) {
		t->status = T_FAILED;
		qr->failed++;
	} else {
		t->next = qr->now + qrun_backoff(qr->conf, t->attempts);
		qr->deferred++;
	}
	m->dirty = 1;
	qrun_report(qr, m, i);
	return r == MBOX_PERM ? 1 : r == MBOX_OK ? 2 : 0;
}

void
qrun_held(struct qrun *qr, struct qmsg *m, size_t i)
{
	struct target	*t = &m->st.t[i];

	snprintf(t->error, sizeof(t->error), "4.4.0 expensive mailer: held "
	    "for the next queue run (hold_expensive)");
	m->dirty = 1;
	log_info("%s: to=<%s>, mailer=esmtp, stat=queued (expensive mailer "
	    "held for a queue run)", m->id, log_safe(t->addr));
	qrun_say(qr, "%s... queued: expensive mailer, held for the next "
	    "queue run", t->addr);
}

void
qrun_checkpoint(struct qrun *qr, struct qmsg *m)
{
	/*
	 * Record each delivery before the next one starts, so a crash can
	 * repeat at most the delivery it interrupted.  The last one needs no
	 * record: the file goes.
	 */
	if (m->dirty && !state_done(&m->st)) {
		if (state_save(qr->conf->spool, m->id, &m->st) == 0)
			m->dirty = 0;
		else
			log_err("%s: cannot save delivery state: %s", m->id,
			    strerror(errno));
	}
}

/*
 * Delivers local target i if it is due (remote ones wait for
 * remote_deliver).  Returns 1 if it failed for good now, 2 if it was
 * delivered now, else 0.
 */
static int
qrun_target(struct qrun *qr, struct qmsg *m, size_t i)
{
	enum mbox_result	 r;
	char			 err[512];
	struct target		*t;

	t = &m->st.t[i];
	if (t->status != T_PENDING || (!qr->force && t->next > qr->now))
		return 0;
	if (t->kind == K_ADDR) {
		deliver_resolve(qr, m, i, 0);
		m->dirty = 1;
		t = &m->st.t[i];		/* the array may have moved */
		if (t->status == T_FAILED) {
			qrun_report(qr, m, i);
			return 1;
		}
		if (t->status != T_PENDING || t->kind == K_ADDR)
			return 0;
	}
	if (t->kind == K_REMOTE)
		return 0;
	if (qrun_duplicate(m, i)) {
		m->dirty = 1;
		return 0;
	}
	qrun_say(qr, "%s... Connecting to %s...", t->addr,
	    qrun_mailer(t->kind));
	r = deliver_local(qr, m, i, err, sizeof(err));
	return qrun_outcome(qr, m, i, r, err);
}

/* Gives up on pending targets past queuereturn. */
static size_t
qrun_expire(struct qrun *qr, struct qmsg *m, int *which, size_t n)
{
	struct target	*t;
	size_t		 i;
	char		 last[512], span[32];

	if (qr->now - m->env.arrival < qr->conf->queuereturn)
		return n;
	for (i = 0; i < m->st.n; i++) {
		t = &m->st.t[i];
		if (t->status != T_PENDING)
			continue;
		strlcpy(last, t->error[0] ? t->error + (strlen(t->error) > 6 ?
		    6 : 0) : "no attempt made", sizeof(last));
		conf_format_time(qr->conf->queuereturn, span, sizeof(span));
		snprintf(t->error, sizeof(t->error), "4.4.7 Could not deliver "
		    "for %s: %s", span, last);
		t->status = T_FAILED;
		m->dirty = 1;
		qrun_report(qr, m, i);
		if (n < STATE_TMAX)
			which[n++] = (int)i;
	}
	return n;
}

/* Is the message selected by -R / -S? */
static int
qrun_selected(struct qrun *qr, struct qmsg *m)
{
	size_t	i;

	if (qr->only_sender != NULL && strcasestr(m->env.sender,
	    qr->only_sender) == NULL)
		return 0;
	if (qr->only_rcpt == NULL)
		return 1;
	for (i = 0; i < m->env.nrcpt; i++)
		if (strcasestr(m->env.rcpts[i].addr, qr->only_rcpt) != NULL)
			return 1;
	return 0;
}

/* The message is finished: remove it for good. */
static int
qrun_remove(struct qrun *qr, struct qmsg *m)
{
	char	path[1200];

	if (qrun_path(path, sizeof(path), qr->conf, "queue", m->id) == -1 ||
	    unlink(path) == -1 || qrun_syncdir(qr->conf, "queue") == -1) {
		log_err("%s: cannot remove delivered message: %s", m->id,
		    strerror(errno));
		return -1;
	}
	(void)state_remove(qr->conf->spool, m->id);
	return 0;
}

static void
qrun_close(struct qmsg *m)
{
	spool_env_free(&m->env);
	state_free(&m->st);
	free(m->success);
	if (m->fd != -1) {
		qrun_track_fd(m->fd, 0);
		close(m->fd);
	}
}

/*
 * The queue files open (and locked) in this process: a message and the
 * notices about it delivered while it is open.  A child that must not
 * hold their locks closes them all (qrun_close_queue_fds).
 */
static int	open_fds[16];

static void
qrun_track_fd(int fd, int add)
{
	size_t	i;

	for (i = 0; i < sizeof(open_fds) / sizeof(open_fds[0]); i++)
		if (add ? open_fds[i] == 0 : open_fds[i] == fd + 1) {
			open_fds[i] = add ? fd + 1 : 0;
			return;
		}
}

void
qrun_close_queue_fds(void)
{
	size_t	i;

	for (i = 0; i < sizeof(open_fds) / sizeof(open_fds[0]); i++)
		if (open_fds[i] != 0) {
			close(open_fds[i] - 1);
			open_fds[i] = 0;
		}
}

static int
qrun_open(struct qrun *qr, struct qmsg *m, const char *id)
{
	struct stat	 st;
	const char	*errstr;
	char		 path[1200];
	int		 r;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (!qid_valid(id) || qrun_path(path, sizeof(path), qr->conf, "queue",
	    id) == -1)
		return -1;
	strlcpy(m->id, id, sizeof(m->id));
	if ((m->fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;	/* done by another run */
	if (flock(m->fd, LOCK_EX | LOCK_NB) == -1)
		return 0;		/* another qrun has it */
	/* finished and removed by another qrun between the open and the lock */
	if (fstat(m->fd, &st) == -1 || st.st_nlink == 0)
		return 0;
	qrun_track_fd(m->fd, 1);
	if (qrun_read_env(m, &errstr) == -1 || strcmp(m->env.id, id) != 0) {
		qrun_bad(qr, id, errstr);
		return 0;
	}
	if ((r = state_load(qr->conf->spool, id, m->env.nrcpt, &m->st,
	    &errstr)) == 0)
		r = state_init(&m->st, &m->env) == 0 ? 1 : -1;
	if (r == -1) {
		qrun_bad(qr, id, errstr);
		return 0;
	}
	return 1;
}

int
qrun_message(struct qrun *qr, const char *id)
{
	struct qmsg	 m;
	int		*failed;
	size_t		 i, nfailed = 0;
	int		 r;

	if ((r = qrun_open(qr, &m, id)) != 1) {
		qrun_close(&m);
		return r;
	}
	if (!qrun_selected(qr, &m)) {
		qrun_close(&m);
		return 0;
	}
	if ((failed = calloc(STATE_TMAX, sizeof(int))) == NULL) {
		qrun_close(&m);
		return -1;
	}
	qr->now = time(NULL);
	m.st.tried = 1;
	for (i = 0; i < m.st.n; i++) {
		switch (qrun_target(qr, &m, i)) {
		case 1:
			failed[nfailed++] = (int)i;
			break;
		case 2:
			qrun_checkpoint(qr, &m);
			break;
		}
	}
	remote_deliver(qr, &m, failed, &nfailed);
	if (m.nsuccess > 0)
		(void)notice_success(qr, &m, m.success, m.nsuccess);
	nfailed = qrun_expire(qr, &m, failed, nfailed);
	if (nfailed > 0 && notice_bounce(qr, &m, failed, nfailed) == -1) {
		/* no bounce could be queued: keep them, and try again later */
		for (i = 0; i < nfailed; i++) {
			m.st.t[failed[i]].status = T_PENDING;
			m.st.t[failed[i]].next = qr->now + qr->conf->retry_min;
		}
		m.dirty = 1;
	}
	else if (!state_done(&m.st) && !m.st.warned && qr->now -
	    m.env.arrival >= qr->conf->queuewarn) {
		if (notice_warn(qr, &m) == 0) {
			m.st.warned = 1;
			m.dirty = 1;
		}
	}
	r = 0;
	if (state_done(&m.st))
		r = qrun_remove(qr, &m);
	else if (m.dirty && state_save(qr->conf->spool, m.id, &m.st) == -1) {
		log_err("%s: cannot save delivery state: %s", m.id,
		    strerror(errno));
		r = -1;
	}
	free(failed);
	qrun_close(&m);
	return r;
}

static int
qrun_idsort(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Removes tmp/ leftovers and state files whose message is gone. */
static void
qrun_cleanup(struct qrun *qr)
{
	struct dirent	**ents;
	struct stat	  st;
	char		  path[1200], q[1200];
	int		  n, i;

	for (i = 0; i < 2; i++) {
		const char *sub = i == 0 ? "tmp" : "state";
		char dir[1100];

		snprintf(dir, sizeof(dir), "%s/%s", qr->conf->spool, sub);
		if ((n = scandir(dir, &ents, NULL, qrun_idsort)) == -1)
			continue;
		while (n-- > 0) {
			if (ents[n]->d_name[0] != '.' && qrun_path(path,
			    sizeof(path), qr->conf, sub, ents[n]->d_name) == 0 &&
			    lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
			    qr->now - st.st_mtime > QRUN_GRACE) {
				(void)qrun_path(q, sizeof(q), qr->conf,
				    "queue", ents[n]->d_name);
				if (i == 0 || access(q, F_OK) == -1) {
					log_info("removing stale %s",
					    log_safe(path));
					(void)unlink(path);
				}
			}
			free(ents[n]);
		}
		free(ents);
	}
}

/*
 * Worker k of n delivers the messages k, k + n, ... of the list, then
 * tries the rest (the flock sorts out who takes what).
 */
static int
qrun_worker(struct qrun *qr, struct dirent **ents, int count, int k, int n)
{
	int	i, r = 0;

	for (i = k; i < count; i += n)
		if (qrun_message(qr, ents[i]->d_name) == -1)
			r = -1;
	for (i = 0; n > 1 && i < count; i++)
		if (i % n != k && qrun_message(qr, ents[i]->d_name) == -1)
			r = -1;
	remote_close(qr);
	return r;
}

int
qrun_all(struct qrun *qr)
{
	struct dirent	**ents;
	char		  dir[1100];
	pid_t		  pid;
	int		  n, i, k, st, workers, r = 0;

	snprintf(dir, sizeof(dir), "%s/queue", qr->conf->spool);
	if ((n = qid_scandir(dir, &ents)) == -1)
		return errno == ENOENT ? 0 : -1;
	/* a long queue is split among queue_workers processes */
	workers = n >= 4 * qr->conf->queue_workers ?
	    (int)qr->conf->queue_workers : 1;
	for (k = 1; k < workers; k++) {
		if ((pid = fork()) == -1)
			break;
		if (pid == 0)
			_exit(qrun_worker(qr, ents, n, k, workers) == -1 ?
			    EX_TEMPFAIL : 0);
	}
	if (qrun_worker(qr, ents, n, 0, k) == -1)
		r = -1;
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			r = -1;
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	qr->now = time(NULL);
	qrun_cleanup(qr);
	return r;
}

int
qrun_slot(struct qrun *qr, int wait)
{
	char	path[1200];
	time_t	deadline = time(NULL) + wait;
	long	i;
	int	fd;

	if (spool_layout(qr->conf->spool) == -1)
		return -1;
	for (;;) {
		for (i = 0; i < qr->conf->max_deliveries; i++) {
			snprintf(path, sizeof(path), "%s/lock/slot.%ld",
			    qr->conf->spool, i);
			if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW |
			    O_CLOEXEC, 0600)) == -1)
				return -1;
			if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
				qr->slotfd = fd;
				return 0;
			}
			close(fd);
		}
		if (time(NULL) >= deadline)
			return -1;
		usleep(20000);
	}
}
