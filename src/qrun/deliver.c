/*
 * Local delivery: resolving addresses through aliases, .forward files and
 * user+detail, and delivering to mailboxes, files and programs in a child
 * that runs with the owner's privileges (never root).  Alias and .forward
 * text belongs to the administrator and users; the message to the peer.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "aliases.h"
#include "compat.h"
#include "expand.h"
#include "log.h"
#include "mailbox.h"
#include "qrun.h"
#include "relay.h"
#include "users.h"

#define DELIVER_DEPTH	20		/* alias and .forward nesting */
#define DELIVER_FILEMAX	(1024 * 1024)	/* a .forward or :include: file */
#define DELIVER_STALE	300		/* a foreign dotlock older than this */

static void
deliver_fail(struct target *t, const char *err)
{
	t->status = T_FAILED;
	strlcpy(t->error, err, sizeof(t->error));
}

/* Privileges for files and programs named by a file: its owner, never root. */
static void
deliver_file_owner(struct qrun *qr, const struct stat *st, char *out,
    size_t len)
{
	if (st->st_uid != 0)
		snprintf(out, len, "#%ld:%ld", (long)st->st_uid,
		    (long)st->st_gid);
	else
		strlcpy(out, qr->conf->default_user, len);
}

/* Finds who owner names: "#uid:gid", a user of the users source, or a system user. */
static int
deliver_who(struct qrun *qr, const char *owner, struct user *u)
{
	struct passwd	*pw;
	long		 uid, gid;
	char		*e;

	memset(u, 0, sizeof(*u));
	if (owner[0] == '#') {
		uid = strtol(owner + 1, &e, 10);
		if (*e != ':' || uid < 0)
			return -1;
		gid = strtol(e + 1, &e, 10);
		if (*e != '\0' || gid < 0)
			return -1;
		u->uid = (uid_t)uid;
		u->gid = (gid_t)gid;
		strlcpy(u->name, owner, sizeof(u->name));
		strlcpy(u->home, "/", sizeof(u->home));
		if ((pw = getpwuid(u->uid)) != NULL) {
			strlcpy(u->name, pw->pw_name, sizeof(u->name));
			strlcpy(u->home, pw->pw_dir, sizeof(u->home));
		}
		return 0;
	}
	if (users_lookup(qr->conf->users, owner, u) == 1)
		return 0;
	if ((pw = getpwnam(owner)) == NULL)
		return -1;
	strlcpy(u->name, pw->pw_name, sizeof(u->name));
	strlcpy(u->home, pw->pw_dir, sizeof(u->home));
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	return 0;
}

/* Adds a mailbox target for user name under parent. */
static void
deliver_add_mbox(struct qrun *qr, struct qmsg *m, size_t parent,
    const char *name, const char *addr)
{
	struct user	u;
	int		c, r;

	r = users_lookup_fold(qr->conf->users, name, &u);
	c = state_add(&m->st, K_MBOX, (int)parent, m->st.t[parent].rcpt, addr,
	    r == 1 ? u.name : "");
	if (c != -1 && r != 1)
		deliver_fail(&m->st.t[c], r == 0 ? "5.1.1 User unknown" :
		    "4.3.0 Cannot look the user up");
	if (c != -1 && r == -1) {
		m->st.t[c].status = T_PENDING;	/* try again later */
		m->st.t[c].kind = K_ADDR;
	}
}

/* Reads a .forward or :include: file that its owner alone can change. */
static char *
deliver_readfile(const char *path, struct stat *st, uid_t want, int any)
{
	char	*buf;
	size_t	 len;

	if (lstat(path, st) == -1 || !S_ISREG(st->st_mode) ||
	    (st->st_mode & 022) != 0 ||
	    (!any && st->st_uid != want && st->st_uid != 0))
		return NULL;
	if (aliases_slurp(path, DELIVER_FILEMAX, &buf, &len) == -1)
		return NULL;
	return buf;
}

static int deliver_expand(struct qrun *, struct qmsg *, size_t, const char *,
    const char *, const char *, int);

/* Does item name self: "samt", or "samt@" one of our domains? */
static int
deliver_is_self(struct qrun *qr, const char *item, const char *self)
{
	const char	*at = strrchr(item, '@');
	size_t		 sl = strlen(self);

	if (at == NULL)
		return strcasecmp(item, self) == 0;
	return (size_t)(at - item) == sl && strncasecmp(item, self, sl) == 0 &&
	    relay_local_domain(qr->conf, at + 1) == 1;
}

/* Adds the targets that one item of an alias or .forward names. */
static void
deliver_item(struct qrun *qr, struct qmsg *m, size_t i, enum expand_kind k,
    const char *item, const char *owner, const char *self, int depth)
{
	struct stat	 st;
	char		 addr[STATE_ADDRMAX], inc_owner[64], *text;
	int		 rcpt = m->st.t[i].rcpt;

	switch (k) {
	case E_PROG:
		(void)state_add(&m->st, K_PROG, (int)i, rcpt, item + 1, owner);
		return;
	case E_FILE:
		(void)state_add(&m->st, K_FILE, (int)i, rcpt, item, owner);
		return;
	case E_NOFORWARD:
		snprintf(addr, sizeof(addr), "%s@%s", item + 1,
		    qr->conf->hostname);
		deliver_add_mbox(qr, m, i, item + 1, addr);
		return;
	case E_INCLUDE:
		item += 9;
		while (*item == ' ')
			item++;
		if ((text = deliver_readfile(item, &st, 0, 1)) == NULL) {
			log_warn("%s: cannot use :include:%s", m->id,
			    log_safe(item));
			return;
		}
		deliver_file_owner(qr, &st, inc_owner, sizeof(inc_owner));
		(void)deliver_expand(qr, m, i, text, inc_owner, self, depth + 1);
		free(text);
		return;
	case E_ADDR:
		break;
	}
	if (self != NULL && deliver_is_self(qr, item, self)) {
		/* "samt: samt, ..." or a .forward naming its owner */
		snprintf(addr, sizeof(addr), "%s@%s", self, qr->conf->hostname);
		deliver_add_mbox(qr, m, i, self, addr);
		return;
	}
	if (strchr(item, '@') == NULL)
		snprintf(addr, sizeof(addr), "%s@%s", item, qr->conf->hostname);
	else
		strlcpy(addr, item, sizeof(addr));
	(void)state_add(&m->st, K_ADDR, (int)i, rcpt, addr, "");
}

/* Expands text into targets under i.  Returns 0, or -1 if it named none. */
static int
deliver_expand(struct qrun *qr, struct qmsg *m, size_t i, const char *text,
    const char *owner, const char *self, int depth)
{
	enum expand_kind	 k;
	char			 item[STATE_ADDRMAX];
	size_t			 off = 0, len = strlen(text), before = m->st.n;
	int			 r;

	if (depth > 5)
		return -1;
	while ((r = expand_next(text, len, &off, item, sizeof(item), &k)) != 0)
		if (r == 1)
			deliver_item(qr, m, i, k, item, owner, self, depth);
	return m->st.n > before ? 0 : -1;
}

/* Is addr already among the ancestors of i (an alias loop)? */
static int
deliver_loop(struct qmsg *m, size_t i, int *depth)
{
	const char	*addr = m->st.t[i].addr;
	int		 p = m->st.t[i].parent;

	*depth = 0;
	for (; p >= 0; p = m->st.t[p].parent) {
		if (++*depth > DELIVER_DEPTH)
			return 1;
		if (m->st.t[p].kind == K_ADDR && strcasecmp(m->st.t[p].addr,
		    addr) == 0)
			return 1;
	}
	return 0;
}

/* Tries the aliases file; returns 1 if it expanded i, 0 if no alias, -1 on error. */
static int
deliver_alias(struct qrun *qr, struct qmsg *m, size_t i, const char *name)
{
	struct stat	 st;
	char		*value, owner[64];
	int		 r;

	if ((r = aliases_lookup(qr->conf->aliases, name, &value)) != 1)
		return r;
	if (stat(qr->conf->aliases, &st) == -1) {
		free(value);
		return -1;
	}
	deliver_file_owner(qr, &st, owner, sizeof(owner));
	m->st.t[i].status = T_EXPANDED;
	if (deliver_expand(qr, m, i, value, owner, name, 0) == -1)
		deliver_fail(&m->st.t[i], "5.1.1 Alias expands to nothing");
	free(value);
	return 1;
}

/* Tries ~/.forward; returns 1 if it expanded i, else 0. */
static int
deliver_forward(struct qrun *qr, struct qmsg *m, size_t i, struct user *u)
{
	struct stat	 st;
	char		 path[1100], *text;

	if (snprintf(path, sizeof(path), "%s/.forward", u->home) >=
	    (int)sizeof(path) || u->home[0] != '/')
		return 0;
	if ((text = deliver_readfile(path, &st, u->uid, 0)) == NULL)
		return 0;
	m->st.t[i].status = T_EXPANDED;
	if (deliver_expand(qr, m, i, text, u->name, u->name, 0) == -1) {
		m->st.t[i].status = T_PENDING;	/* empty: the mailbox */
		free(text);
		return 0;
	}
	free(text);
	return 1;
}

void
deliver_resolve(struct qrun *qr, struct qmsg *m, size_t i, int depth)
{
	struct user	 u;
	char		 addr[STATE_ADDRMAX], name[ADDR_LOCALMAX + 1], *at, *plus;
	char		 lname[ADDR_LOCALMAX + 1];
	const char	*domain;
	size_t		 k;
	int		 r;

	(void)depth;
	strlcpy(addr, m->st.t[i].addr, sizeof(addr));
	at = strrchr(addr, '@');
	domain = at ? at + 1 : qr->conf->hostname;
	if (at != NULL)
		*at = '\0';
	if ((r = relay_local_domain(qr->conf, domain)) == 0) {
		m->st.t[i].kind = K_REMOTE;
		return;
	}
	if (r == -1 || addr_unquote(addr, name, sizeof(name)) == -1) {
		if (r == -1)
			strlcpy(m->st.t[i].error, "4.3.0 cannot read "
			    "local-host-names", sizeof(m->st.t[i].error));
		else
			deliver_fail(&m->st.t[i], "5.1.3 Bad address");
		return;
	}
	if (deliver_loop(m, i, &r)) {
		deliver_fail(&m->st.t[i], r > DELIVER_DEPTH ?
		    "5.4.6 Alias nesting too deep" : "5.4.6 Alias loop");
		return;
	}
	for (k = 0; name[k] != '\0'; k++)
		lname[k] = (char)tolower((unsigned char)name[k]);
	lname[k] = '\0';
	if ((r = deliver_alias(qr, m, i, lname)) == 0 &&
	    (plus = strchr(lname, '+')) != NULL && plus != lname) {
		*plus = '\0';
		r = deliver_alias(qr, m, i, lname);
	}
	if (r == 0 && strcmp(lname, "postmaster") == 0) {
		/* RFC 5321 4.5.1: postmaster exists; without an alias, root's */
		strlcpy(name, "root", sizeof(name));
		r = deliver_alias(qr, m, i, name);
	}
	if (r != 0) {
		if (r == -1)
			strlcpy(m->st.t[i].error, "4.3.0 cannot read the "
			    "aliases file", sizeof(m->st.t[i].error));
		return;
	}
	if ((plus = strchr(name, '+')) != NULL && plus != name)
		*plus = '\0';
	if ((r = users_lookup_fold(qr->conf->users, name, &u)) != 1) {
		if (r == 0)
			deliver_fail(&m->st.t[i], "5.1.1 User unknown");
		else
			strlcpy(m->st.t[i].error, "4.3.0 cannot look the user "
			    "up", sizeof(m->st.t[i].error));
		return;
	}
	if (deliver_forward(qr, m, i, &u))
		return;
	m->st.t[i].kind = K_MBOX;
	strlcpy(m->st.t[i].owner, u.name, sizeof(m->st.t[i].owner));
}

/*
 * Becomes the owner in the delivery child.  Programs and files never run
 * as root; root's own mailbox is written as root, like mail.local does.
 */
static int
deliver_become(struct qrun *qr, struct user *u, gid_t extra, int mailbox)
{
	if (geteuid() == 0 && u->uid == 0 && mailbox)
		return 0;
	if (geteuid() == 0 && u->uid == 0 &&
	    deliver_who(qr, qr->conf->default_user, u) == -1)
		return -1;
	return mailbox_become(u->uid, u->gid, extra);
}

/*
 * Feeds the program its input and collects its output (printable, at most
 * outlen - 1 bytes kept) without ever blocking past the deadline: a
 * program that reads nothing, or writes much, cannot hang the delivery.
 * Returns 0 when the program closed its output, -1 at the deadline.
 */
static int
deliver_feed(struct qmsg *m, int in, int outfd, const char *headers,
    time_t deadline, char *out, size_t outlen)
{
	struct pollfd	 pfd[2];
	char		 buf[65536], rd[4096];
	size_t		 have, sent = 0, got = 0, hl = strlen(headers);
	off_t		 off = (off_t)m->hdrlen;
	ssize_t		 r;
	int		 nfd, i;

	(void)fcntl(in, F_SETFL, fcntl(in, F_GETFL) | O_NONBLOCK);
	memcpy(buf, headers, hl < sizeof(buf) ? hl : sizeof(buf));
	have = hl < sizeof(buf) ? hl : sizeof(buf);
	for (;;) {
		if (in != -1 && sent == have) {
			r = pread(m->fd, buf, sizeof(buf), off);
			if (r <= 0) {
				close(in);	/* all sent: EOF for the program */
				in = -1;
			} else {
				off += r;
				have = (size_t)r;
				sent = 0;
			}
		}
		nfd = 0;
		pfd[nfd].fd = outfd;
		pfd[nfd++].events = POLLIN;
		if (in != -1) {
			pfd[nfd].fd = in;
			pfd[nfd++].events = POLLOUT;
		}
		if (time(NULL) >= deadline || poll(pfd, (nfds_t)nfd, 1000 *
		    (int)(deadline - time(NULL))) <= 0) {
			if (in != -1)
				close(in);
			return -1;
		}
		if (nfd == 2 && (pfd[1].revents & (POLLOUT | POLLERR |
		    POLLHUP))) {
			r = write(in, buf + sent, have - sent);
			if (r > 0)
				sent += (size_t)r;
			else if (r == -1 && errno != EAGAIN && errno != EINTR) {
				close(in);	/* the program stopped reading */
				in = -1;
			}
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if ((r = read(outfd, rd, sizeof(rd))) <= 0)
				break;
			for (i = 0; i < r && got < outlen - 1; i++)
				out[got++] = rd[i] >= ' ' && rd[i] <= '~' ?
				    rd[i] : ' ';
		}
	}
	while (got > 0 && out[got - 1] == ' ')
		got--;
	out[got] = '\0';
	if (in != -1)
		close(in);
	close(outfd);
	return 0;
}

/* Runs a |program with the message on stdin; in the delivery child. */
static enum mbox_result
deliver_prog(struct qrun *qr, struct qmsg *m, struct target *t,
    struct user *u, const char *headers, char *err, size_t errlen)
{
	char		 out[512], env[8][1200];
	char		*envp[9];
	const char	*rcpt = m->env.rcpts[t->rcpt].addr, *at;
	int		 in[2], outp[2], status, i;
	pid_t		 pid;
	time_t		 deadline = time(NULL) + qr->conf->program_timeout;

	at = strrchr(rcpt, '@');
	snprintf(env[0], sizeof(env[0]), "SENDER=%s", m->env.sender);
	snprintf(env[1], sizeof(env[1]), "RECIPIENT=%s", rcpt);
	snprintf(env[2], sizeof(env[2]), "USER=%s", u->name);
	snprintf(env[3], sizeof(env[3]), "HOME=%s", u->home);
	snprintf(env[4], sizeof(env[4]), "LOCAL=%.*s", at ? (int)(at - rcpt) :
	    (int)strlen(rcpt), rcpt);
	snprintf(env[5], sizeof(env[5]), "DOMAIN=%s", at ? at + 1 : "");
	snprintf(env[6], sizeof(env[6]), "PATH=/usr/bin:/bin");
	snprintf(env[7], sizeof(env[7]), "SHELL=/bin/sh");
	for (i = 0; i < 8; i++)
		envp[i] = env[i];
	envp[8] = NULL;
	if (pipe(in) == -1 || pipe(outp) == -1) {
		snprintf(err, errlen, "4.3.0 pipe: %s", strerror(errno));
		return MBOX_TEMP;
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "4.3.0 fork: %s", strerror(errno));
		return MBOX_TEMP;
	}
	if (pid == 0) {
		(void)setsid();
		dup2(in[0], 0);
		dup2(outp[1], 1);
		dup2(outp[1], 2);
		close(in[1]);
		close(outp[0]);
		if (chdir(u->home) == -1)
			(void)chdir("/");
		execle("/bin/sh", "sh", "-c", t->addr, (char *)NULL, envp);
		_exit(127);
	}
	close(in[0]);
	close(outp[1]);
	signal(SIGPIPE, SIG_IGN);
	if (deliver_feed(m, in[1], outp[0], headers, deadline, out,
	    sizeof(out)) == -1) {
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		snprintf(err, errlen, "4.4.1 program timed out after %llds",
		    (long long)qr->conf->program_timeout);
		return MBOX_TEMP;
	}
	/* a program that closed its output may still run: the deadline holds */
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (time(NULL) >= deadline) {
			kill(-pid, SIGKILL);
			waitpid(pid, NULL, 0);
			snprintf(err, errlen, "4.4.1 program timed out after "
			    "%llds", (long long)qr->conf->program_timeout);
			return MBOX_TEMP;
		}
		usleep(10000);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return MBOX_OK;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 75) {
		snprintf(err, errlen, "4.3.0 program asked to try again: %s",
		    out);
		return MBOX_TEMP;
	}
	snprintf(err, errlen, "5.3.0 program %s %d: %s", WIFEXITED(status) ?
	    "exited with status" : "killed by signal", WIFEXITED(status) ?
	    WEXITSTATUS(status) : WTERMSIG(status), out);
	return MBOX_PERM;
}

/* The delivery child's work; returns the result for the parent. */
static enum mbox_result
deliver_child(struct qrun *qr, struct qmsg *m, struct target *t,
    char *err, size_t errlen)
{
	struct mbox_msg	 msg;
	struct user	 u;
	char		 path[1100], headers[ADDR_MAX + 64];
	gid_t		 extra = (gid_t)-1;
	int		 flags = MBOX_F_CREATE;

	if (deliver_who(qr, t->owner, &u) == -1) {
		snprintf(err, errlen, "4.3.0 cannot find user %s", t->owner);
		return MBOX_TEMP;
	}
	msg.fd = m->fd;
	msg.off = (off_t)m->hdrlen;
	msg.sender = m->env.sender;
	msg.group = (gid_t)-1;
	snprintf(headers, sizeof(headers), "Return-Path: <%s>\n",
	    m->env.sender);
	msg.headers = headers;
	if (t->kind == K_MBOX) {
		if (mailbox_path(qr->conf, &u, path, sizeof(path)) == -1) {
			snprintf(err, errlen, "4.3.0 bad mailbox setting");
			return MBOX_TEMP;
		}
		flags |= MBOX_F_OWNED;
		/* /var/mail root:mail 2775: create mailboxes group mail, 0660 */
		msg.group = extra = mailbox_dir_group(path, u.gid);
	} else {
		strlcpy(path, t->addr, sizeof(path));
		if (t->kind == K_FILE && strcmp(path, "/dev/null") == 0)
			return MBOX_OK;		/* "nobody: /dev/null" */
		flags |= MBOX_F_NODOTLOCK;
	}
	if (deliver_become(qr, &u, extra, t->kind == K_MBOX) == -1) {
		snprintf(err, errlen, "4.3.0 cannot become %s", u.name);
		return MBOX_TEMP;
	}
	if (t->kind == K_PROG) {
		char from[ADDR_MAX + 128];
		time_t now = time(NULL);

		snprintf(from, sizeof(from), "From %s %s%s", m->env.sender[0] ?
		    m->env.sender : "MAILER-DAEMON", ctime(&now), headers);
		return deliver_prog(qr, m, t, &u, from, err, errlen);
	}
	return mbox_append(path, &msg, flags, (int)qr->conf->lock_timeout,
	    DELIVER_STALE, err, errlen);
}

enum mbox_result
deliver_local(struct qrun *qr, struct qmsg *m, size_t i, char *err,
    size_t errlen)
{
	enum mbox_result r;
	char		 buf[600];
	int		 p[2], status;
	ssize_t		 n;
	size_t		 got = 0;
	pid_t		 pid;

	if (pipe(p) == -1 || (pid = fork()) == -1) {
		snprintf(err, errlen, "4.3.0 cannot start delivery: %s",
		    strerror(errno));
		return MBOX_TEMP;
	}
	if (pid == 0) {
		close(p[0]);
		buf[0] = (char)deliver_child(qr, m, &m->st.t[i], buf + 1,
		    sizeof(buf) - 1);
		(void)!write(p[1], buf, 1 + strlen(buf + 1));
		_exit(0);
	}
	close(p[1]);
	while (got < sizeof(buf) - 1 && (n = read(p[0], buf + got,
	    sizeof(buf) - 1 - got)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;
		got += (size_t)n;
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	buf[got] = '\0';
	if (got == 0 || buf[0] < MBOX_OK || buf[0] > MBOX_PERM) {
		snprintf(err, errlen, "4.3.0 delivery process died");
		return MBOX_TEMP;
	}
	r = (enum mbox_result)buf[0];
	if (r == MBOX_TEMP && strncmp(buf + 1, "4.", 2) != 0)
		snprintf(err, errlen, "4.2.0 %s", buf + 1);
	else
		strlcpy(err, buf + 1, errlen);
	return r;
}
