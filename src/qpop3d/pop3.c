/*
 * POP3 commands.  Before login this runs as an unprivileged user and all
 * input is hostile; after login it runs as the mailbox owner.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "base64.h"
#include "compat.h"
#include "log.h"
#include "pop3.h"

void
pop3_reply(struct pop3 *s, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	(void)line_vreply(&s->out, fmt, ap);
	va_end(ap);
}

void
pop3_banner(const struct conf *c, char *out, size_t len)
{
	snprintf(out, len, "<%ld.%lld@%s>", (long)getpid(),
	    (long long)time(NULL), c->hostname);
}

void
pop3_init(struct pop3 *s, const struct conf *c, int in, int out,
    const char *client)
{
	memset(s, 0, sizeof(*s));
	s->conf = c;
	s->auth_fd = -1;
	s->st.fd = -1;
	strlcpy(s->client, client[0] ? client : "localhost", sizeof(s->client));
	line_in_init(&s->in, in, POP3_LINEMAX - 2, (int)c->pop3_timeout);
	line_out_init(&s->out, out, (int)c->pop3_timeout);
	buf_init(&s->line, POP3_LINEMAX);
}

/*
 * Reads one command line.  Returns 1 with the line in s->line, 0 when it
 * was refused (and answered), -1 when the session is over.
 */
static int
pop3_read(struct pop3 *s)
{
	enum line_status	st;
	int			flags;

	if (line_pending(&s->in) == 0 && line_flush(&s->out) == -1)
		return -1;
	st = line_read(&s->in, &s->line, &flags);
	switch (st) {
	case LINE_OK:
		if (flags & (LINE_F_NUL | LINE_F_BARECR)) {
			pop3_reply(s, "-ERR Syntax error: NUL or bare CR");
			return 0;
		}
		return 1;
	case LINE_TOOLONG:
		pop3_reply(s, "-ERR Line too long");
		return 0;
	case LINE_TIMEOUT:
		pop3_reply(s, "-ERR Autologout; idle for too long");
		log_info("autologout: user=%s, client=%s", s->user[0] ?
		    log_safe(s->user) : "-", s->client);
		return -1;
	default:
		return -1;
	}
}

/* Splits the verb off; returns it upper-cased in verb, the rest in *arg. */
static void
pop3_split(char *line, char *verb, size_t vlen, char **arg)
{
	size_t	i;

	for (i = 0; line[i] != '\0' && line[i] != ' ' && i < vlen - 1; i++)
		verb[i] = (char)toupper((unsigned char)line[i]);
	verb[i] = '\0';
	while (line[i] != '\0' && line[i] != ' ')
		i++;			/* a verb too long for verb: unknown */
	while (line[i] == ' ')
		i++;
	*arg = line + i;
}

static void
pop3_capa(struct pop3 *s, int authorized)
{
	pop3_reply(s, "+OK Capability list follows");
	pop3_reply(s, "TOP");
	if (!authorized && strcmp(s->conf->allow_plaintext, "yes") == 0) {
		pop3_reply(s, "USER");
		pop3_reply(s, "SASL PLAIN");
	}
	pop3_reply(s, "UIDL");
	pop3_reply(s, "RESP-CODES");
	pop3_reply(s, "AUTH-RESP-CODE");
	pop3_reply(s, "PIPELINING");
	pop3_reply(s, "IMPLEMENTATION inetmail");
	pop3_reply(s, ".");
}

/*
 * Asks whether user and pass (or, for kind 'a', an APOP digest) are good:
 * the root parent, or ourselves.
 */
static int
pop3_check(struct pop3 *s, char kind, const char *user, const char *pass)
{
	struct pop3_auth_req	req;
	char			ans = 0;
	int			r;

	if (s->auth_fd == -1)
		return kind == 'a' ? auth_apop(s->conf->apop_secrets, user,
		    s->banner, pass) == 1 :
		    auth_check(s->conf->users, user, pass) == 1;
	memset(&req, 0, sizeof(req));
	req.kind = kind;
	strlcpy(req.banner, s->banner, sizeof(req.banner));
	strlcpy(req.user, user, sizeof(req.user));
	strlcpy(req.pass, pass, sizeof(req.pass));
	r = write(s->auth_fd, &req, sizeof(req)) == (ssize_t)sizeof(req) &&
	    read(s->auth_fd, &ans, 1) == 1 && ans == 'y';
	explicit_bzero(&req, sizeof(req));
	return r;
}

/* A login attempt; returns 1 on success.  Failures wait, then may end it. */
static int
pop3_login(struct pop3 *s, char kind, const char *user, const char *pass)
{
	unsigned	delay;
	int		i;

	if (user[0] != '\0' && strlen(user) < sizeof(s->user) &&
	    pop3_check(s, kind, user, pass)) {
		strlcpy(s->user, user, sizeof(s->user));
		return 1;
	}
	s->failures++;
	log_info("authentication failed: user=%s, client=%s",
	    log_safe(user), s->client);
	delay = (unsigned)s->conf->auth_delay;
	for (i = 1; i < s->failures && delay < 30; i++)
		delay *= 2;		/* 1, 2, 4 ... seconds */
	if (line_flush(&s->out) == 0 && delay > 0)
		sleep(delay);
	if (s->failures >= s->conf->max_auth_failures) {
		pop3_reply(s, "-ERR [AUTH] Authentication failed; too many "
		    "failures, closing");
		s->quit = 1;
	} else
		pop3_reply(s, "-ERR [AUTH] Authentication failed");
	return 0;
}

/* AUTH PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd. */
static int
pop3_auth_plain(struct pop3 *s, char *ir)
{
	unsigned char	 dec[POP3_LINEMAX];
	const char	*authz, *authc, *pass;
	long		 n;
	size_t		 a, b;
	int		 r;

	if (ir[0] == '\0') {
		pop3_reply(s, "+ ");
		if ((r = pop3_read(s)) != 1)
			return r == -1 ? (s->quit = 1, 0) : 0;
		ir = s->line.data;
	}
	if (strcmp(ir, "*") == 0) {
		pop3_reply(s, "-ERR Authentication cancelled");
		return 0;
	}
	if (strcmp(ir, "=") == 0)
		ir[0] = '\0';
	if ((n = base64_decode(ir, strlen(ir), dec, sizeof(dec) - 1)) < 0 ||
	    (authz = (char *)dec, a = strnlen(authz, (size_t)n)) >= (size_t)n ||
	    (authc = authz + a + 1, b = strnlen(authc, (size_t)n - a - 1)) >=
	    (size_t)n - a - 1) {
		pop3_reply(s, "-ERR Bad SASL response");
		explicit_bzero(dec, sizeof(dec));
		return 0;
	}
	dec[n] = '\0';
	pass = authc + b + 1;
	if (authz[0] != '\0' && strcmp(authz, authc) != 0) {
		explicit_bzero(dec, sizeof(dec));
		pop3_reply(s, "-ERR [AUTH] Cannot act for another user");
		return 0;
	}
	r = pop3_login(s, 'p', authc, pass);
	explicit_bzero(dec, sizeof(dec));
	return r;
}

int
pop3_authorize(struct pop3 *s)
{
	char	 verb[8], *arg;
	int	 r, plain = strcmp(s->conf->allow_plaintext, "yes") == 0;

	if (s->conf->apop_secrets[0] != '\0') {
		/* RFC 1939 7: a timestamp unique to this greeting */
		if (s->banner[0] == '\0')
			pop3_banner(s->conf, s->banner, sizeof(s->banner));
		pop3_reply(s, "+OK %s", s->banner);
	} else
		pop3_reply(s, "+OK");
	while (!s->quit && !s->out.error) {
		if ((r = pop3_read(s)) == -1) {
			(void)line_flush(&s->out);	/* the autologout reply */
			return 0;
		}
		if (r == 0)
			continue;
		pop3_split(s->line.data, verb, sizeof(verb), &arg);
		if (strcmp(verb, "QUIT") == 0) {
			pop3_reply(s, "+OK");
			s->quit = 1;
		} else if (strcmp(verb, "CAPA") == 0)
			pop3_capa(s, 0);
		else if (strcmp(verb, "NOOP") == 0)
			pop3_reply(s, "+OK");
		else if (!plain && (strcmp(verb, "USER") == 0 ||
		    strcmp(verb, "PASS") == 0 || strcmp(verb, "AUTH") == 0))
			pop3_reply(s, "-ERR [AUTH] Plaintext authentication "
			    "is disabled without TLS");
		else if (strcmp(verb, "USER") == 0) {
			if (arg[0] == '\0' || strlen(arg) >= sizeof(s->user)) {
				pop3_reply(s, "-ERR Syntax: USER name");
				continue;
			}
			strlcpy(s->user, arg, sizeof(s->user));
			s->have_user = 1;
			pop3_reply(s, "+OK");
		} else if (strcmp(verb, "PASS") == 0) {
			if (!s->have_user) {
				pop3_reply(s, "-ERR USER first");
				continue;
			}
			s->have_user = 0;
			/* RFC 1939 7: the password may contain spaces */
			if (pop3_login(s, 'p', s->user, arg))
				return 1;
			s->user[0] = '\0';
		} else if (strcmp(verb, "APOP") == 0 && s->banner[0] != '\0') {
			char *digest = arg + strcspn(arg, " ");

			if (*digest == ' ')
				*digest++ = '\0';
			if (arg[0] == '\0' || strlen(digest) != 32 ||
			    strspn(digest, "0123456789abcdef") != 32) {
				pop3_reply(s, "-ERR Syntax: APOP name digest");
				continue;
			}
			if (pop3_login(s, 'a', arg, digest))
				return 1;
		} else if (strcmp(verb, "AUTH") == 0) {
			char *mech = arg, *ir = arg + strcspn(arg, " ");

			if (*ir != '\0')
				*ir++ = '\0';
			if (mech[0] == '\0') {
				pop3_reply(s, "+OK");
				pop3_reply(s, "PLAIN");
				pop3_reply(s, ".");
			} else if (strcasecmp(mech, "PLAIN") != 0)
				pop3_reply(s, "-ERR Unsupported mechanism");
			else if (pop3_auth_plain(s, ir))
				return 1;
		} else if (strcmp(verb, "STAT") == 0 || strcmp(verb, "LIST") == 0
		    || strcmp(verb, "RETR") == 0 || strcmp(verb, "DELE") == 0 ||
		    strcmp(verb, "RSET") == 0 || strcmp(verb, "TOP") == 0 ||
		    strcmp(verb, "UIDL") == 0)
			pop3_reply(s, "-ERR Not logged in");
		else
			pop3_reply(s, "-ERR Unknown command");
	}
	(void)line_flush(&s->out);
	return 0;
}

/* Parses a message number: 1..n, digits only.  Returns the index or -1. */
static long
pop3_msgno(struct pop3 *s, const char *arg, char **rest)
{
	char		*e;
	unsigned long	 v;

	if (!isdigit((unsigned char)arg[0]) || strspn(arg, "0123456789") > 9) {
		pop3_reply(s, "-ERR No such message");
		return -1;
	}
	v = strtoul(arg, &e, 10);
	if ((*e != '\0' && *e != ' ') || (rest == NULL && *e != '\0') ||
	    v == 0 || v > s->st.n) {
		pop3_reply(s, "-ERR No such message");
		return -1;
	}
	if (s->st.m[v - 1].deleted) {
		pop3_reply(s, "-ERR Message %lu is deleted", v);
		return -1;
	}
	if (rest != NULL)
		*rest = e + strspn(e, " ");
	return (long)v - 1;
}

static int
pop3_out(void *arg, const char *p, size_t n)
{
	struct pop3	*s = arg;

	s->bytes += n;
	return line_write(&s->out, p, n);
}

/* The totals of messages not deleted. */
static void
pop3_totals(struct pop3 *s, size_t *count, unsigned long long *octets)
{
	size_t	i;

	*count = 0;
	*octets = 0;
	for (i = 0; i < s->st.n; i++)
		if (!s->st.m[i].deleted) {
			(*count)++;
			*octets += s->st.m[i].size;
		}
}

/* LIST and UIDL stream: the output is written every POP3_FLUSH bytes. */
#define POP3_FLUSH	65536

static void
pop3_list(struct pop3 *s, const char *arg, int uidl)
{
	char	uid[MSTORE_UIDSIZE];
	size_t	i;
	long	k;

	if (arg[0] != '\0') {
		if ((k = pop3_msgno(s, arg, NULL)) == -1)
			return;
		mstore_uid(&s->st.m[k], uid);
		if (uidl)
			pop3_reply(s, "+OK %ld %s", k + 1, uid);
		else
			pop3_reply(s, "+OK %ld %zu", k + 1, s->st.m[k].size);
		return;
	}
	pop3_reply(s, "+OK");
	for (i = 0; i < s->st.n && !s->out.error; i++) {
		if (s->st.m[i].deleted)
			continue;
		if (uidl) {
			mstore_uid(&s->st.m[i], uid);
			pop3_reply(s, "%zu %s", i + 1, uid);
		} else
			pop3_reply(s, "%zu %zu", i + 1, s->st.m[i].size);
		if (s->out.b.len >= POP3_FLUSH)
			(void)line_flush(&s->out);
	}
	pop3_reply(s, ".");
}

static void
pop3_retr(struct pop3 *s, const char *arg, int top)
{
	char	*rest = NULL;
	char	*e;
	long	 k, lines = -1;

	if ((k = pop3_msgno(s, arg, top ? &rest : NULL)) == -1)
		return;
	if (top) {
		if (!isdigit((unsigned char)rest[0]) || strspn(rest,
		    "0123456789") > 9 || (lines = strtol(rest, &e, 10), *e)) {
			pop3_reply(s, "-ERR Syntax: TOP msg lines");
			return;
		}
	}
	pop3_reply(s, "+OK");
	if (mstore_send(&s->st, (size_t)k, lines, pop3_out, s) == -1) {
		log_err("%s: cannot read message %ld: %s", s->st.path, k + 1,
		    strerror(errno));
		s->quit = 1;		/* a half-sent message: end it here */
		s->out.error = 1;
		return;
	}
	pop3_reply(s, ".");
	if (!top)
		s->retrieved++;
}

/* The UPDATE state (RFC 1939 6). */
static void
pop3_update(struct pop3 *s)
{
	char	err[600];
	int	r;

	r = mstore_commit(&s->st, (int)s->conf->lock_timeout, err, sizeof(err));
	if (r == -1) {
		log_err("user=%s: deletions not done: %s", log_safe(s->user),
		    err);
		pop3_reply(s, "-ERR [SYS/TEMP] Messages not deleted; the "
		    "mailbox is as it was");
		return;
	}
	s->deleted = r;
	pop3_reply(s, "+OK");
}

int
pop3_transact(struct pop3 *s, const char *path)
{
	unsigned long long	octets;
	size_t			count, i;
	char			err[600], verb[8], *arg;
	long			k;
	int			r;

	if ((r = mstore_open(&s->st, path, (int)s->conf->lock_timeout, err,
	    sizeof(err))) != 0) {
		if (r == 1) {
			log_info("in use: user=%s, client=%s", log_safe(s->user),
			    s->client);
			pop3_reply(s, "-ERR [IN-USE] Maildrop is in use by "
			    "another session");
		} else {
			log_err("user=%s: %s", log_safe(s->user), err);
			pop3_reply(s, "-ERR [SYS/TEMP] Cannot open the "
			    "maildrop");
		}
		(void)line_flush(&s->out);
		mstore_close(&s->st);
		return 0;
	}
	pop3_totals(s, &count, &octets);
	log_info("login: user=%s, client=%s, messages=%zu, octets=%llu, "
	    "index=%s", log_safe(s->user), s->client, count, octets,
	    s->st.ix_status != NULL ? s->st.ix_status : "none");
	pop3_reply(s, "+OK");
	while (!s->quit && !s->out.error) {
		if ((r = pop3_read(s)) == -1)
			break;
		if (r == 0)
			continue;
		pop3_split(s->line.data, verb, sizeof(verb), &arg);
		if (strcmp(verb, "STAT") == 0) {
			pop3_totals(s, &count, &octets);
			pop3_reply(s, "+OK %zu %llu", count, octets);
		} else if (strcmp(verb, "LIST") == 0)
			pop3_list(s, arg, 0);
		else if (strcmp(verb, "UIDL") == 0)
			pop3_list(s, arg, 1);
		else if (strcmp(verb, "RETR") == 0)
			pop3_retr(s, arg, 0);
		else if (strcmp(verb, "TOP") == 0)
			pop3_retr(s, arg, 1);
		else if (strcmp(verb, "DELE") == 0) {
			if ((k = pop3_msgno(s, arg, NULL)) != -1) {
				s->st.m[k].deleted = 1;
				pop3_reply(s, "+OK");
			}
		} else if (strcmp(verb, "RSET") == 0) {
			for (i = 0; i < s->st.n; i++)
				s->st.m[i].deleted = 0;
			pop3_reply(s, "+OK");
		} else if (strcmp(verb, "NOOP") == 0)
			pop3_reply(s, "+OK");
		else if (strcmp(verb, "CAPA") == 0)
			pop3_capa(s, 1);
		else if (strcmp(verb, "QUIT") == 0) {
			pop3_update(s);
			s->quit = 1;
		} else if (strcmp(verb, "USER") == 0 || strcmp(verb, "PASS") ==
		    0 || strcmp(verb, "AUTH") == 0)
			pop3_reply(s, "-ERR Already logged in");
		else
			pop3_reply(s, "-ERR Unknown command");
	}
	(void)line_flush(&s->out);
	pop3_totals(s, &count, &octets);
	log_info("logout: user=%s, client=%s, retrieved=%ld, deleted=%ld, "
	    "bytes=%llu, left=%zu", log_safe(s->user), s->client, s->retrieved,
	    s->deleted, s->bytes, s->st.n - (size_t)s->deleted);
	mstore_close(&s->st);
	buf_free(&s->line);
	line_out_free(&s->out);
	return 0;
}
