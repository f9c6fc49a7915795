/*
 * The SMTP command dialogue.  Runs as the spool user (or the caller when
 * not started as root); every byte from the client is hostile.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aliases.h"
#include "compat.h"
#include "dns.h"
#include "log.h"
#include "relay.h"
#include "smtp.h"
#include "users.h"

static int	smtp_helo(struct smtp_session *, char *);
static int	smtp_ehlo(struct smtp_session *, char *);
static int	smtp_mail(struct smtp_session *, char *);
static int	smtp_rcpt(struct smtp_session *, char *);
static int	smtp_rset(struct smtp_session *, char *);
static int	smtp_noop(struct smtp_session *, char *);
static int	smtp_quit(struct smtp_session *, char *);
static int	smtp_help(struct smtp_session *, char *);
static int	smtp_vrfy(struct smtp_session *, char *);
static int	smtp_expn(struct smtp_session *, char *);

/* progress: the command moves a transaction on, so it resets the junk count */
static const struct smtp_cmd {
	const char	*name;
	unsigned int	 states;		/* where the verb is legal */
	int		 progress;
	int		(*fn)(struct smtp_session *, char *);
} smtp_cmds[] = {
	{ "HELO",	S_ANY,			1, smtp_helo },
	{ "EHLO",	S_ANY,			1, smtp_ehlo },
	{ "MAIL",	S_HELO,			1, smtp_mail },
	{ "RCPT",	S_MAIL | S_RCPT,	1, smtp_rcpt },
	{ "DATA",	S_RCPT,			1, smtp_data },
	{ "BDAT",	S_ANY,			1, smtp_bdat },
	{ "RSET",	S_ANY,			0, smtp_rset },
	{ "NOOP",	S_ANY,			0, smtp_noop },
	{ "QUIT",	S_ANY,			1, smtp_quit },
	{ "HELP",	S_ANY,			0, smtp_help },
	{ "VRFY",	S_ANY,			0, smtp_vrfy },
	{ "EXPN",	S_ANY,			0, smtp_expn },
	{ NULL,		0,			0, NULL }
};

void
smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	(void)line_vreply(&s->out, fmt, ap);
	va_end(ap);
}

/* Flushes pending replies before waiting for input (RFC 2920 3.1). */
enum line_status
smtp_fill(struct smtp_session *s)
{
	if (line_pending(&s->in) == 0 && line_flush(&s->out) == -1)
		return LINE_ERROR;
	return line_fill(&s->in);
}

void
smtp_reset(struct smtp_session *s)
{
	free(s->rcpts);
	s->rcpts = NULL;
	s->nrcpt = 0;
	s->rcpt_tried = 0;
	s->sender[0] = s->body[0] = s->envid[0] = s->ret[0] = '\0';
	s->smtputf8 = 0;
	if (s->bdat) {
		spool_msg_abort(&s->msg);
		data_free(&s->dm);
		s->bdat = 0;
	}
	s->bdat_error = NULL;
	if (s->state & (S_MAIL | S_RCPT))
		s->state = S_HELO;
}

/* The relay= field of log lines: "name [addr]", "[addr]" or "localhost". */
const char *
smtp_relay_name(struct smtp_session *s)
{
	static char	out[400];

	if (s->client_addr[0] == '\0')
		return "localhost";
	snprintf(out, sizeof(out), "%s%s[%s]", log_safe(s->client_name),
	    s->client_name[0] ? " " : "", s->client_addr);
	return out;
}

/* Checks a HELO/EHLO argument: printable ASCII, one word. */
static int
smtp_greet(struct smtp_session *s, char *arg, int esmtp)
{
	size_t	i;

	if (*arg == '\0') {
		smtp_reply(s, "501 5.5.4 %s requires domain address",
		    esmtp ? "EHLO" : "HELO");
		return -1;
	}
	for (i = 0; arg[i] != '\0'; i++)
		if (arg[i] <= ' ' || arg[i] > '~' || i >= 255) {
			smtp_reply(s, "501 5.5.4 Invalid domain name");
			return -1;
		}
	smtp_reset(s);
	strlcpy(s->helo, arg, sizeof(s->helo));
	s->esmtp = esmtp;
	s->state = S_HELO;
	return 0;
}

static void
smtp_hello_line(struct smtp_session *s, char sep)
{
	if (s->client_addr[0] == '\0')
		smtp_reply(s, "250%c%s Hello %s, pleased to meet you", sep,
		    s->conf->hostname, s->helo);
	else
		smtp_reply(s, "250%c%s Hello %s [%s%s], pleased to meet you",
		    sep, s->conf->hostname, s->helo,
		    strchr(s->client_addr, ':') ? "IPv6:" : "", s->client_addr);
}

static int
smtp_helo(struct smtp_session *s, char *arg)
{
	if (smtp_greet(s, arg, 0) == -1)
		return -1;
	smtp_hello_line(s, ' ');
	return 0;
}

static int
smtp_ehlo(struct smtp_session *s, char *arg)
{
	if (smtp_greet(s, arg, 1) == -1)
		return -1;
	smtp_hello_line(s, '-');
	if (s->conf->max_message_size > 0)
		smtp_reply(s, "250-SIZE %lld", s->conf->max_message_size);
	else
		smtp_reply(s, "250-SIZE");
	smtp_reply(s, "250-8BITMIME");
	smtp_reply(s, "250-PIPELINING");
	smtp_reply(s, "250-ENHANCEDSTATUSCODES");
	smtp_reply(s, "250-CHUNKING");
	smtp_reply(s, "250-SMTPUTF8");
	smtp_reply(s, "250-DSN");
	smtp_reply(s, "250 HELP");
	return 0;
}

/* RFC 3461 4.1: NEVER alone, or a list of SUCCESS, FAILURE, DELAY */
static int
smtp_notify_ok(const char *v)
{
	char	tmp[40], *w, *save;

	if (strcasecmp(v, "NEVER") == 0)
		return 1;
	if (*v == '\0' || *v == ',' || strlcpy(tmp, v, sizeof(tmp)) >=
	    sizeof(tmp) || strstr(v, ",,") != NULL || v[strlen(v) - 1] == ',')
		return 0;
	for (w = strtok_r(tmp, ",", &save); w != NULL;
	    w = strtok_r(NULL, ",", &save))
		if (strcasecmp(w, "SUCCESS") != 0 && strcasecmp(w, "FAILURE")
		    != 0 && strcasecmp(w, "DELAY") != 0)
			return 0;
	return 1;
}

/* RFC 3461 4: xtext, with every byte printable ASCII */
static int
smtp_xtext_ok(const char *v)
{
	for (; *v != '\0'; v++)
		if (*v < '!' || *v > '~' || *v == '=')
			return 0;
	return 1;
}

/*
 * Splits "FROM:<path> params" or "TO:<path> params": checks the keyword,
 * parses the path, leaves *params at the parameters.  Replies on error.
 */
static int
smtp_path(struct smtp_session *s, char *arg, const char *kw, struct addr *a,
    char **params, char *echo, size_t echolen)
{
	const char	*errstr;
	size_t		 kl = strlen(kw), used, n;
	int		 flags = ADDR_F_RELAXED | ADDR_F_UTF8;

	if (strncasecmp(arg, kw, kl) != 0) {
		smtp_reply(s, "501 5.5.4 Syntax: %s %s<address>",
		    kl == 5 ? "MAIL" : "RCPT", kw);
		return -1;
	}
	arg += kl;
	while (*arg == ' ')
		arg++;
	if (addr_parse(arg, strlen(arg), flags, a, &used, &errstr) == -1) {
		smtp_reply(s, "%s", errstr);
		return -1;
	}
	n = used < echolen ? used : echolen - 1;
	memcpy(echo, arg, n);
	echo[n] = '\0';
	*params = arg + used;
	while (**params == ' ')
		(*params)++;
	return 0;
}

/* Returns the next "KEY[=VALUE]" word of params, or NULL at the end. */
static char *
smtp_param(char **params, char **val)
{
	char	*w = *params, *e;

	if (*w == '\0')
		return NULL;
	if ((e = strchr(w, ' ')) != NULL) {
		*e++ = '\0';
		while (*e == ' ')
			e++;
	} else
		e = w + strlen(w);
	*params = e;
	if ((*val = strchr(w, '=')) != NULL)
		*(*val)++ = '\0';
	return w;
}

static int
smtp_mail_params(struct smtp_session *s, char *params)
{
	char		*k, *v, *end;
	long long	 size;

	while ((k = smtp_param(&params, &v)) != NULL) {
		if (!s->esmtp) {
			smtp_reply(s, "555 5.5.4 Parameters need EHLO");
			return -1;
		}
		if (strcasecmp(k, "SIZE") == 0 && v != NULL) {
			errno = 0;
			size = strtoll(v, &end, 10);
			if (*v < '0' || *v > '9' || *end != '\0' || errno != 0) {
				smtp_reply(s, "501 5.5.4 Bad SIZE parameter");
				return -1;
			}
			if (s->conf->max_message_size > 0 &&
			    size > s->conf->max_message_size) {
				smtp_reply(s, "552 5.3.4 Message size exceeds "
				    "fixed maximum message size");
				return -1;
			}
		} else if (strcasecmp(k, "BODY") == 0 && v != NULL &&
		    (strcasecmp(v, "7BIT") == 0 ||
		    strcasecmp(v, "8BITMIME") == 0)) {
			strlcpy(s->body, v, sizeof(s->body));
			for (end = s->body; *end; end++)
				*end = (char)toupper((unsigned char)*end);
		} else if (strcasecmp(k, "SMTPUTF8") == 0 && v == NULL)
			s->smtputf8 = 1;
		else if (strcasecmp(k, "RET") == 0 && v != NULL &&
		    (strcasecmp(v, "FULL") == 0 || strcasecmp(v, "HDRS") == 0))
			strlcpy(s->ret, strcasecmp(v, "FULL") == 0 ? "FULL" :
			    "HDRS", sizeof(s->ret));
		else if (strcasecmp(k, "ENVID") == 0 && v != NULL &&
		    strlen(v) < sizeof(s->envid) && smtp_xtext_ok(v))
			strlcpy(s->envid, v, sizeof(s->envid));
		else if (strcasecmp(k, "AUTH") == 0 && v != NULL)
			;			/* RFC 4954 5: may be ignored */
		else {
			smtp_reply(s, "555 5.5.4 Unsupported parameter");
			return -1;
		}
	}
	return 0;
}

static int
smtp_mail(struct smtp_session *s, char *arg)
{
	struct addr	 a;
	char		*params, echo[ADDR_MAX + 3];

	if (s->state & (S_MAIL | S_RCPT)) {
		smtp_reply(s, "503 5.5.0 Sender already specified");
		return -1;
	}
	if (smtp_path(s, arg, "FROM:", &a, &params, echo, sizeof(echo)) == -1)
		return -1;
	if (smtp_mail_params(s, params) == -1) {
		smtp_reset(s);
		return -1;
	}
	if (a.utf8 && !s->smtputf8) {
		smtp_reset(s);
		smtp_reply(s, "553 5.6.7 Non-ASCII address requires SMTPUTF8");
		return -1;
	}
	if (!a.null && a.domain[0] == '\0')	/* "mail from: samt" */
		strlcpy(a.domain, s->conf->hostname, sizeof(a.domain));
	(void)addr_format(&a, s->sender, sizeof(s->sender));
	s->state = S_MAIL;
	smtp_reply(s, "250 2.1.0 %s... Sender ok", echo);
	return 0;
}

/* An alias or a user, as given or in lower case.  Returns 1, 0 or -1. */
static int
smtp_user_known(struct smtp_session *s, const char *name)
{
	struct user	u;
	int		r;

	if ((r = aliases_exists(s->conf->aliases, name)) != 0)
		return r;
	return users_lookup_fold(s->conf->users, name, &u);
}

/*
 * Is the local part a deliverable name?  postmaster, an alias, or a user
 * (also after dropping +detail).  Returns 1, 0, or -1 on a lookup failure.
 */
static int
smtp_local_user(struct smtp_session *s, const char *local)
{
	char	 name[ADDR_LOCALMAX + 1], *plus;
	int	 r;

	if (addr_unquote(local, name, sizeof(name)) == -1)
		return 0;
	if (strcasecmp(name, "postmaster") == 0)
		return 1;		/* RFC 5321 4.5.1 */
	if ((r = smtp_user_known(s, name)) != 0)
		return r;
	if ((plus = strchr(name, '+')) == NULL || plus == name)
		return 0;
	*plus = '\0';
	return smtp_user_known(s, name);
}

/* Returns 1 if the client may relay, 0 if not, -1 on a temporary failure. */
static int
smtp_client_relay(struct smtp_session *s)
{
	int	r;

	if (s->relay_ok != -1)
		return s->relay_ok;
	if (s->client_addr[0] == '\0' || s->loopback)
		return s->relay_ok = 1;
	if ((r = relay_file_match(s->conf->relay_domains, RELAY_IP,
	    s->client_addr)) == 1)
		return s->relay_ok = 1;
	if (!s->name_done) {
		r = dns_fcrdns(s->client_addr, s->client_name,
		    sizeof(s->client_name));
		if (r == -1)
			return -1;
		s->name_done = 1;
	}
	if (s->client_name[0] != '\0' && relay_file_match(
	    s->conf->relay_domains, RELAY_DOMAIN, s->client_name) == 1)
		return s->relay_ok = 1;
	return s->relay_ok = 0;
}

static int
smtp_rcpt_params(struct smtp_session *s, char *params, struct spool_rcpt *r)
{
	char	*k, *v;

	while ((k = smtp_param(&params, &v)) != NULL) {
		if (s->esmtp && strcasecmp(k, "NOTIFY") == 0 && v != NULL &&
		    strlen(v) < sizeof(r->notify) && smtp_notify_ok(v))
			strlcpy(r->notify, v, sizeof(r->notify));
		else if (s->esmtp && strcasecmp(k, "ORCPT") == 0 && v != NULL &&
		    strlen(v) < sizeof(r->orcpt) && strchr(v, ';') != NULL &&
		    smtp_xtext_ok(v))
			strlcpy(r->orcpt, v, sizeof(r->orcpt));
		else {
			smtp_reply(s, s->esmtp ? "555 5.5.4 Unsupported "
			    "parameter" : "555 5.5.4 Parameters need EHLO");
			return -1;
		}
	}
	return 0;
}

static void
smtp_reject_log(struct smtp_session *s, const char *to, const char *why)
{
	log_info("NOQUEUE: relay=%s, from=<%s>, to=<%s>, reject=%s",
	    smtp_relay_name(s), log_safe(s->sender), log_safe(to), why);
}

/* Decides whether the recipient may be accepted; replies when not. */
static int
smtp_rcpt_check(struct smtp_session *s, struct addr *a, const char *echo)
{
	char	to[ADDR_MAX + 1];
	int	r;

	if (a->domain[0] == '\0')
		strlcpy(a->domain, s->conf->hostname, sizeof(a->domain));
	(void)addr_format(a, to, sizeof(to));
	if ((r = relay_local_domain(s->conf, a->domain)) == 1) {
		if ((r = smtp_local_user(s, a->local)) == 1)
			return 0;
		if (r == -1) {
			smtp_reply(s, "451 4.3.0 %s... Temporary lookup "
			    "failure", echo);
			return -1;
		}
		smtp_reply(s, "550 5.1.1 %s... User unknown", echo);
		smtp_reject_log(s, to, "550 5.1.1 User unknown");
		return -1;
	}
	if (r == 0 && ((r = relay_file_match(s->conf->relay_domains,
	    RELAY_DOMAIN, a->domain)) == 1 || (r = smtp_client_relay(s)) == 1))
		return 0;
	if (r == -1) {
		smtp_reply(s, "451 4.4.3 %s... Temporary lookup failure", echo);
		return -1;
	}
	smtp_reply(s, "550 5.7.1 %s... Relaying denied", echo);
	smtp_reject_log(s, to, "550 5.7.1 Relaying denied");
	return -1;
}

static int
smtp_rcpt(struct smtp_session *s, char *arg)
{
	struct spool_rcpt	 r, *nr;
	struct addr		 a;
	char			*params, echo[ADDR_MAX + 3];
	size_t			 i;

	s->rcpt_tried = 1;
	memset(&r, 0, sizeof(r));
	if (smtp_path(s, arg, "TO:", &a, &params, echo, sizeof(echo)) == -1 ||
	    smtp_rcpt_params(s, params, &r) == -1)
		return -1;
	if (a.null) {
		smtp_reply(s, "501 5.1.3 Null recipient");
		return -1;
	}
	if (a.utf8 && !s->smtputf8) {
		smtp_reply(s, "553 5.6.7 Non-ASCII address requires SMTPUTF8");
		return -1;
	}
	if ((long long)s->nrcpt >= s->conf->max_recipients) {
		/* the client's normal way to learn the limit: not an error */
		smtp_reply(s, "452 4.5.3 Too many recipients");
		return 0;
	}
	if (smtp_rcpt_check(s, &a, echo) == -1)
		return -1;
	(void)addr_format(&a, r.addr, sizeof(r.addr));
	for (i = 0; i < s->nrcpt; i++)
		if (strcmp(s->rcpts[i].addr, r.addr) == 0)
			break;			/* a duplicate: keep one */
	if (i == s->nrcpt) {
		if ((nr = reallocarray(s->rcpts, s->nrcpt + 1, sizeof(*nr)))
		    == NULL) {
			smtp_reply(s, "452 4.3.0 Out of memory");
			return -1;
		}
		s->rcpts = nr;
		s->rcpts[s->nrcpt++] = r;
	}
	s->state = S_RCPT;
	smtp_reply(s, "250 2.1.5 %s... Recipient ok", echo);
	return 0;
}

static int
smtp_rset(struct smtp_session *s, char *arg)
{
	(void)arg;
	smtp_reset(s);
	smtp_reply(s, "250 2.0.0 Reset state");
	return 0;
}

static int
smtp_noop(struct smtp_session *s, char *arg)
{
	(void)arg;
	smtp_reply(s, "250 2.0.0 OK");
	return 0;
}

static int
smtp_quit(struct smtp_session *s, char *arg)
{
	(void)arg;
	smtp_reply(s, "221 2.0.0 %s closing connection", s->conf->hostname);
	s->quit = 1;
	return 0;
}

static int
smtp_help(struct smtp_session *s, char *arg)
{
	(void)arg;
	smtp_reply(s, "214-2.0.0 This is inetmail's qsmtpd");
	smtp_reply(s, "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT");
	smtp_reply(s, "214-2.0.0  RSET NOOP QUIT HELP VRFY EXPN");
	smtp_reply(s, "214 2.0.0 End of HELP info");
	return 0;
}

static int
smtp_vrfy(struct smtp_session *s, char *arg)
{
	if (*arg == '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: VRFY <address>");
		return -1;
	}
	smtp_reply(s, "252 2.5.2 Cannot VRFY user; try RCPT to attempt "
	    "delivery");
	return 0;
}

static int
smtp_expn(struct smtp_session *s, char *arg)
{
	(void)arg;
	smtp_reply(s, "502 5.5.1 EXPN not available");
	return -1;
}

/* Finds the verb and checks the state; replies and counts an error if bad. */
static void
smtp_dispatch(struct smtp_session *s, char *line)
{
	const struct smtp_cmd	*c;
	char			*arg;
	size_t			 vl;

	vl = strcspn(line, " ");
	arg = line + vl;
	while (*arg == ' ')
		arg++;
	for (c = smtp_cmds; c->name != NULL; c++)
		if (vl == 4 && strncasecmp(line, c->name, 4) == 0)
			break;
	if (c->name == NULL) {
		smtp_reply(s, "500 5.5.1 Command unrecognized");
		s->errors++;
		return;
	}
	if (!(c->states & s->state)) {
		if (s->state == S_GREET)
			smtp_reply(s, "503 5.5.1 Polite people say HELO first");
		else if (c->fn == smtp_mail)
			smtp_reply(s, "503 5.5.1 Sender already specified");
		else if (c->fn == smtp_data && s->state == S_HELO)
			smtp_reply(s, "503 5.5.1 Need MAIL before DATA");
		else if (c->fn == smtp_data && s->rcpt_tried)
			smtp_reply(s, "554 5.5.1 No valid recipients");
		else if (c->fn == smtp_data)
			smtp_reply(s, "503 5.5.1 Need RCPT (recipient)");
		else
			smtp_reply(s, "503 5.5.1 Need MAIL before RCPT");
		s->errors++;
		return;
	}
	if (c->fn(s, arg) == -1)
		s->errors++;
	else
		s->errors = 0;
	if (c->progress)
		s->junk = 0;
	else
		s->junk++;
}

/* Reads and handles one command line.  Returns 0 to go on, 1 to stop. */
static int
smtp_command(struct smtp_session *s)
{
	enum line_status	st;
	int			flags;

	st = line_read(&s->in, &s->line, &flags);
	switch (st) {
	case LINE_OK:
		break;
	case LINE_TOOLONG:
		smtp_reply(s, "500 5.5.2 Line too long");
		s->errors++;
		return 0;
	case LINE_TIMEOUT:
		smtp_reply(s, "421 4.4.2 %s Timeout waiting for command, "
		    "closing connection", s->conf->hostname);
		log_info("timeout waiting for command from %s",
		    smtp_relay_name(s));
		return 1;
	case LINE_EOF:
	case LINE_ERROR:
		s->quit = 1;		/* the client went away */
		return 1;
	}
	if (flags & (LINE_F_NUL | LINE_F_BARECR)) {
		smtp_reply(s, "500 5.5.2 Syntax error: NUL or bare CR in "
		    "command");
		s->errors++;
		return 0;
	}
	smtp_dispatch(s, s->line.data);
	return 0;
}

/* Sets up the client fields. */
static void
smtp_client(struct smtp_session *s, const char *client_addr)
{
	struct in_addr	a4;
	struct in6_addr	a6;

	strlcpy(s->client_addr, client_addr ? client_addr : "",
	    sizeof(s->client_addr));
	if (inet_pton(AF_INET, s->client_addr, &a4) == 1)
		s->loopback = (ntohl(a4.s_addr) >> 24) == 127;
	else if (inet_pton(AF_INET6, s->client_addr, &a6) == 1)
		s->loopback = IN6_IS_ADDR_LOOPBACK(&a6);
	s->relay_ok = -1;
}

int
smtp_session(const struct conf *conf, int in, int out, const char *client_addr)
{
	struct smtp_session	s;
	int			ended = 0;

	memset(&s, 0, sizeof(s));
	s.conf = conf;
	s.state = S_GREET;
	smtp_client(&s, client_addr);
	line_in_init(&s.in, in, SMTP_LINEMAX - 2, (int)conf->command_timeout);
	line_out_init(&s.out, out, (int)conf->command_timeout);
	buf_init(&s.line, SMTP_LINEMAX);
	smtp_reply(&s, "220 %s ESMTP inetmail", conf->hostname);
	while (!s.quit && !s.out.error) {
		if (line_pending(&s.in) == 0 && line_flush(&s.out) == -1)
			break;
		if (smtp_command(&s) == 1) {
			ended = !s.quit;
			break;
		}
		if (s.errors >= conf->max_errors || s.junk >= conf->max_junk) {
			smtp_reply(&s, "421 4.7.0 %s Too many %s, closing "
			    "connection", conf->hostname, s.errors >=
			    conf->max_errors ? "errors" :
			    "commands without progress");
			log_info("too many %s from %s", s.errors >=
			    conf->max_errors ? "errors" : "junk commands",
			    smtp_relay_name(&s));
			ended = 1;
			break;
		}
	}
	(void)line_flush(&s.out);
	smtp_reset(&s);
	buf_free(&s.line);
	line_out_free(&s.out);
	return ended;
}
