/*
 * DATA and BDAT: the byte machine that turns the client's stream into the
 * spooled message.  Only CRLF.CRLF ends DATA; a bare CR or LF anywhere
 * refuses the whole message, so no sequence of them can split one message
 * into two (SMTP smuggling).  Runs as the spool user; input is hostile.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "compat.h"
#include "log.h"
#include "smtp.h"
#include "trigger.h"

#define DATA_OUTMAX	65536	/* drained after every feed */

void
data_init(struct data_machine *d, int dots, long long max)
{
	memset(d, 0, sizeof(*d));
	d->st = D_BOL;
	d->dots = dots;
	d->inhdr = 1;
	d->max = max;
	buf_init(&d->out, DATA_OUTMAX);
}

void
data_free(struct data_machine *d)
{
	buf_free(&d->out);
}

/* Notes a byte of the header section, to count Received: fields. */
static void
data_header(struct data_machine *d, char c)
{
	if (c == '\n') {
		if (d->hdrcol == 0)
			d->inhdr = 0;		/* the empty line */
		else if (d->hdrcol >= 9 &&
		    strncasecmp(d->hdrhead, "Received:", 9) == 0)
			d->received++;
		d->hdrcol = 0;
		return;
	}
	if (d->hdrcol < sizeof(d->hdrhead))
		d->hdrhead[d->hdrcol] = c;
	d->hdrcol++;
}

static void
data_emit(struct data_machine *d, char c)
{
	if (d->oversize)
		return;
	if (d->inhdr)
		data_header(d, c);
	(void)buf_append(&d->out, &c, 1);	/* the caller drains in time */
}

size_t
data_feed(struct data_machine *d, const char *p, size_t n)
{
	size_t	i;
	char	c;

	for (i = 0; i < n && d->st != D_END; i++) {
		c = p[i];
		/* the ending ".\r\n" of DATA does not count */
		if (d->max > 0 && ++d->wire - (d->dots ? 3 : 0) > d->max)
			d->oversize = 1;
		switch (d->st) {
		case D_BOL:
			if (c == '.' && d->dots) {
				d->st = D_DOT;
				break;
			}
			/* FALLTHROUGH */
		case D_MID:
			if (c == '\r')
				d->st = D_CR;
			else {
				if (c == '\n')
					d->barelf = 1;
				data_emit(d, c);
				d->st = D_MID;
			}
			break;
		case D_DOT:
			if (c == '\r')
				d->st = D_DOTCR;
			else {
				if (c == '\n')
					d->barelf = 1;
				data_emit(d, c);	/* the stuffed dot dropped */
				d->st = D_MID;
			}
			break;
		case D_DOTCR:
			if (c == '\n') {
				d->st = D_END;
				break;
			}
			d->barecr = 1;
			data_emit(d, '\r');
			d->st = c == '\r' ? D_CR : D_MID;
			if (c != '\r')
				data_emit(d, c);
			break;
		case D_CR:
			if (c == '\n') {
				data_emit(d, '\n');
				d->st = D_BOL;
			} else {
				d->barecr = 1;
				data_emit(d, '\r');
				if (c != '\r') {
					data_emit(d, c);
					d->st = D_MID;
				}
			}
			break;
		case D_END:
			break;
		}
		if (d->out.len == d->out.max)
			return i + 1;	/* full: let the caller drain it */
	}
	return i;
}

const char *
data_verdict(const struct data_machine *d, long long max_received)
{
	if (d->oversize)
		return "552 5.3.4 Message size exceeds fixed maximum message "
		    "size";
	if (d->barelf)
		return "554 5.6.0 Message contains a bare LF; lines must end "
		    "with CRLF";
	if (d->barecr)
		return "554 5.6.0 Message contains a bare CR; lines must end "
		    "with CRLF";
	if (max_received > 0 && d->received >= max_received)
		return "554 5.4.6 Too many hops (mail loop?)";
	return NULL;
}

/* The RFC 5321 4.4 trace field, ahead of the message. */
static int
smtp_received(struct smtp_session *s)
{
	struct buf	 b;
	char		 date[64];
	const char	*proto;
	time_t		 now = time(NULL);
	struct tm	 tm;
	int		 r;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	proto = s->smtputf8 ? "UTF8SMTP" : s->esmtp ? "ESMTP" : "SMTP";
	buf_init(&b, 4096);
	if (s->client_addr[0] != '\0')
		r = buf_printf(&b, "Received: from %s (%s%s[%s%s])\n", s->helo,
		    s->client_name, s->client_name[0] ? " " : "",
		    strchr(s->client_addr, ':') ? "IPv6:" : "", s->client_addr);
	else
		r = buf_printf(&b, "Received: from %s (localhost)\n", s->helo);
	if (r == 0)
		r = buf_printf(&b, "\tby %s (inetmail) with %s id %s", 
		    s->conf->hostname, proto, s->msg.id);
	if (r == 0 && s->nrcpt == 1)
		r = buf_printf(&b, "\n\tfor <%s>", s->rcpts[0].addr);
	if (r == 0)
		r = buf_printf(&b, "; %s\n", date);
	if (r == 0)
		r = spool_msg_write(&s->msg, b.data, b.len);
	buf_free(&b);
	return r;
}

/* Creates the queue file and writes envelope and trace header. */
static int
smtp_msg_start(struct smtp_session *s)
{
	struct spool_env	 e;
	const char		*errstr;

	if (spool_msg_open(s->conf->spool, &s->msg, &errstr) == -1) {
		log_err("cannot create queue file in %s: %s", s->conf->spool,
		    strerror(errno));
		smtp_reply(s, "451 4.3.0 Cannot create queue file; try later");
		return -1;
	}
	memset(&e, 0, sizeof(e));
	e.arrival = time(NULL);
	strlcpy(e.sender, s->sender, sizeof(e.sender));
	strlcpy(e.client_addr, s->client_addr, sizeof(e.client_addr));
	strlcpy(e.client_name, s->client_name, sizeof(e.client_name));
	strlcpy(e.helo, s->helo, sizeof(e.helo));
	strlcpy(e.proto, s->smtputf8 ? "UTF8SMTP" : s->esmtp ? "ESMTP" :
	    "SMTP", sizeof(e.proto));
	strlcpy(e.body, s->body, sizeof(e.body));
	strlcpy(e.envid, s->envid, sizeof(e.envid));
	strlcpy(e.ret, s->ret, sizeof(e.ret));
	e.smtputf8 = s->smtputf8;
	e.nrcpt = s->nrcpt;
	e.rcpts = s->rcpts;
	if (spool_msg_env(&s->msg, &e) == -1 || smtp_received(s) == -1) {
		log_err("cannot write queue file: %s", strerror(errno));
		spool_msg_abort(&s->msg);
		smtp_reply(s, "451 4.3.0 Cannot write queue file; try later");
		return -1;
	}
	return 0;
}

/* Moves normalised bytes into the queue file; remembers a write error. */
static void
smtp_drain(struct smtp_session *s, int *werr)
{
	if (s->dm.out.len > 0 && !*werr && spool_msg_write(&s->msg,
	    s->dm.out.data, s->dm.out.len) == -1)
		*werr = errno ? errno : EIO;
	buf_reset(&s->dm.out);
}

/* Commits and answers: the 250 goes out only after the commit. */
static void
smtp_msg_finish(struct smtp_session *s, int werr)
{
	const char	*verdict = data_verdict(&s->dm, s->conf->max_received);

	if (verdict != NULL) {
		spool_msg_abort(&s->msg);
		smtp_reply(s, "%s", verdict);
		log_info("NOQUEUE: relay=%s, from=<%s>, reject=%s",
		    smtp_relay_name(s), log_safe(s->sender), verdict);
	} else if (werr != 0 || spool_msg_commit(&s->msg) == -1) {
		if (werr == 0)
			werr = errno;
		spool_msg_abort(&s->msg);
		log_err("cannot commit message: %s", strerror(werr));
		smtp_reply(s, werr == ENOSPC || werr == EDQUOT ?
		    "452 4.3.1 Insufficient system storage" :
		    "451 4.3.0 Error writing queue file; try later");
	} else {
		log_info("%s: from=<%s>, size=%zu, nrcpts=%zu, proto=%s, "
		    "relay=%s", s->msg.id, log_safe(s->sender), s->msg.size,
		    s->nrcpt, s->smtputf8 ? "UTF8SMTP" : s->esmtp ? "ESMTP" :
		    "SMTP", smtp_relay_name(s));
		smtp_reply(s, "250 2.0.0 %s Message accepted for delivery",
		    s->msg.id);
		s->nmsgs++;
		(void)line_flush(&s->out);	/* the client need not wait */
		(void)trigger_notify(s->conf->trigger, s->msg.id);
	}
	data_free(&s->dm);
	smtp_reset(s);
}

int
smtp_data(struct smtp_session *s, char *arg)
{
	enum line_status	st;
	size_t			n;
	int			werr = 0;

	if (*arg != '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: DATA");
		return -1;
	}
	if (s->bdat) {
		smtp_reply(s, "503 5.5.1 DATA not allowed during BDAT");
		return -1;
	}
	if (smtp_msg_start(s) == -1)
		return -1;
	data_init(&s->dm, 1, s->conf->max_message_size);
	smtp_reply(s, "354 Enter mail, end with \".\" on a line by itself");
	s->in.timeout = (int)s->conf->data_timeout;
	while (s->dm.st != D_END) {
		if ((st = smtp_fill(s)) != LINE_OK) {
			spool_msg_abort(&s->msg);
			data_free(&s->dm);
			smtp_reset(s);
			log_info("%s during DATA from %s; nothing queued",
			    st == LINE_TIMEOUT ? "timeout" : "lost connection",
			    smtp_relay_name(s));
			if (st == LINE_TIMEOUT)
				smtp_reply(s, "421 4.4.2 %s Timeout during "
				    "DATA, closing connection", s->conf->hostname);
			s->quit = 1;
			return 0;
		}
		n = data_feed(&s->dm, line_peek(&s->in), line_pending(&s->in));
		line_take(&s->in, n);
		smtp_drain(s, &werr);
	}
	s->in.timeout = (int)s->conf->command_timeout;
	smtp_msg_finish(s, werr);
	return 0;
}

/* Reads and drops, or feeds, exactly size octets of a chunk. */
static enum line_status
smtp_chunk(struct smtp_session *s, long long size, int keep, int *werr)
{
	enum line_status	st;
	size_t			n;

	while (size > 0) {
		if ((st = smtp_fill(s)) != LINE_OK)
			return st;
		n = line_pending(&s->in);
		if ((long long)n > size)
			n = (size_t)size;
		if (keep) {
			n = data_feed(&s->dm, line_peek(&s->in), n);
			smtp_drain(s, werr);
		}
		line_take(&s->in, n);
		size -= (long long)n;
	}
	return LINE_OK;
}

int
smtp_bdat(struct smtp_session *s, char *arg)
{
	enum line_status st;
	char		*end;
	long long	 size;
	int		 last = 0, werr = 0, keep;

	errno = 0;
	size = strtoll(arg, &end, 10);
	if (*arg < '0' || *arg > '9' || errno != 0 || size > (1LL << 53)) {
		smtp_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		return -1;
	}
	while (*end == ' ')
		end++;
	if (strcasecmp(end, "LAST") == 0)
		last = 1;
	else if (*end != '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		return -1;
	}
	keep = !s->bdat_error && (s->state & S_RCPT);
	if (keep && !s->bdat) {
		if (smtp_msg_start(s) == -1)
			s->bdat_error = "451 4.3.0 Cannot create queue file";
		else {
			data_init(&s->dm, 0, s->conf->max_message_size);
			s->bdat = 1;
		}
		keep = s->bdat;
	}
	s->in.timeout = (int)s->conf->data_timeout;
	if ((st = smtp_chunk(s, size, keep, &werr)) != LINE_OK) {
		log_info("%s during BDAT from %s; nothing queued",
		    st == LINE_TIMEOUT ? "timeout" : "lost connection",
		    smtp_relay_name(s));
		if (st == LINE_TIMEOUT)
			smtp_reply(s, "421 4.4.2 %s Timeout during BDAT, "
			    "closing connection", s->conf->hostname);
		smtp_reset(s);
		s->quit = 1;
		return 0;
	}
	s->in.timeout = (int)s->conf->command_timeout;
	if (!(s->state & S_RCPT) && !s->bdat_error) {
		smtp_reply(s, s->state & S_MAIL && s->rcpt_tried ?
		    "554 5.5.1 No valid recipients" : s->state == S_GREET ?
		    "503 5.5.1 Polite people say HELO first" :
		    "503 5.5.1 Need MAIL and RCPT before BDAT");
		return -1;
	}
	if (s->bdat_error || werr != 0 || s->dm.oversize) {
		const char *why = s->bdat_error ? s->bdat_error :
		    s->dm.oversize ? data_verdict(&s->dm, 0) :
		    "451 4.3.0 Error writing queue file";
		smtp_reply(s, "%s", why);
		if (!s->bdat_error)
			log_info("NOQUEUE: relay=%s, from=<%s>, reject=%s",
			    smtp_relay_name(s), log_safe(s->sender), why);
		if (last)
			smtp_reset(s);
		else if (!s->bdat_error) {
			spool_msg_abort(&s->msg);
			data_free(&s->dm);
			s->bdat = 0;
			s->bdat_error = why;
		}
		return -1;
	}
	if (!last) {
		smtp_reply(s, "250 2.0.0 %lld octets received", size);
		return 0;
	}
	if (s->dm.st == D_CR)		/* a CR ended the last chunk */
		s->dm.barecr = 1;
	s->bdat = 0;
	smtp_msg_finish(s, werr);
	return 0;
}
