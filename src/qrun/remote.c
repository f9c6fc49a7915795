/*
 * Remote delivery: qrun's SMTP client (RFC 5321).  A message's remote
 * recipients are grouped by destination (their domain, or the smart
 * host); one transaction carries a group, and a connection stays open for
 * the next message to the same destination.  Routing by MX (preference
 * order, ties shuffled, A/AAAA when there is no MX, null MX bounces), every
 * address tried in turn.  STARTTLS with libtls when offered; AUTH to a
 * smart host from a root-only secrets file.
 *
 * Everything a peer sends is bounded and kept only escaped (smtpc.c).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_LIBTLS
#include <tls.h>
#endif

#include "addr.h"
#include "base64.h"
#include "compat.h"
#include "dns.h"
#include "log.h"
#include "priv.h"
#include "qrun.h"
#include "smtpc.h"

#define RC_CACHE	4		/* connections kept open in one run */
#define RC_INMAX	(SMTPC_LINEMAX * 4)
#define RC_OUTMAX	(256 * 1024)
#define RC_GROUPMAX	1000		/* recipients in one transaction */
#define RC_HOSTMAX	(DNS_MXMAX)
#define RC_TRIES	8		/* addresses tried for one group */

enum tls_mode { TLS_NONE, TLS_MAY, TLS_ENCRYPT, TLS_VERIFY };

struct rconn {
	int		 fd;
#ifdef HAVE_LIBTLS
	struct tls	*tls;
#endif
	int		 tls_on;
	char		 key[CONF_NAMEMAX + 8];	/* the destination it serves */
	char		 name[DNS_NAMEMAX];	/* the peer's host name */
	char		 ip[INET6_ADDRSTRLEN];
	char		 relay[DNS_NAMEMAX + INET6_ADDRSTRLEN + 4];
	char		 peername[DNS_NAMEMAX];	/* as its EHLO reply says */
	int		 starttls_failed;	/* opportunistic TLS broke */
	struct smtpc_caps caps;
	unsigned long	 msgs;			/* transactions carried */
	char		 in[RC_INMAX];
	size_t		 inlen;
	struct buf	 out;
};

struct remote {
	struct rconn	*cache[RC_CACHE];
};

/* One destination: where a group of recipients goes. */
struct rdest {
	char		 key[CONF_NAMEMAX + 8];	/* domain, or the smart host */
	char		 domain[DNS_NAMEMAX];
	int		 port;
	int		 nomx;			/* [host]: no MX lookup */
	enum tls_mode	 tls;
	char		 user[256], pass[256];	/* AUTH, "" for none */
};

/* What happened to a session or a command. */
struct rres {
	int	 code;			/* reply code, 0 for no reply */
	int	 dsn;			/* the peer took the DSN parameters */
	char	 err[512];		/* "4.4.1 ..." for the target */
};

static struct remote remote_state;
static struct rdest	remote_last;	/* see remote_dest_once() */

/*
 * Destinations that failed for now in this run: later messages for them
 * are deferred with the same reason at once, not tried again (a dead
 * smart host costs one round of timeouts a run, not one a message).
 */
#define RC_DEAD		16
static struct {
	char		key[CONF_NAMEMAX + 8];
	struct rres	res;
}		remote_dead[RC_DEAD];
static int	remote_ndead;

/* ---- I/O ---- */

static void
rc_free(struct rconn *c)
{
	if (c == NULL)
		return;
#ifdef HAVE_LIBTLS
	if (c->tls != NULL) {
		(void)tls_close(c->tls);
		tls_free(c->tls);
	}
#endif
	if (c->fd != -1)
		close(c->fd);
	buf_free(&c->out);
	free(c);
}

static int
rc_poll(int fd, short events, time_t deadline)
{
	struct pollfd	pfd = { fd, events, 0 };
	time_t		left;
	int		r;

	for (;;) {
		left = deadline - time(NULL);
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = poll(&pfd, 1, left > 86400 ? 86400000 : (int)left * 1000);
		if (r > 0)
			return 0;
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

/* Reads what is there (waiting until deadline) into c->in. */
static int
rc_fill(struct rconn *c, time_t deadline)
{
	ssize_t	n;

	if (c->inlen >= sizeof(c->in)) {
		errno = EPROTO;
		return -1;
	}
	for (;;) {
#ifdef HAVE_LIBTLS
		if (c->tls_on) {
			n = tls_read(c->tls, c->in + c->inlen,
			    sizeof(c->in) - c->inlen);
			if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
				if (rc_poll(c->fd, n == TLS_WANT_POLLIN ?
				    POLLIN : POLLOUT, deadline) == -1)
					return -1;
				continue;
			}
			if (n == -1)
				errno = EPROTO;
		} else
#endif
		{
			n = read(c->fd, c->in + c->inlen,
			    sizeof(c->in) - c->inlen);
			if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
				if (rc_poll(c->fd, POLLIN, deadline) == -1)
					return -1;
				continue;
			}
		}
		if (n == 0)
			errno = ECONNRESET;
		if (n <= 0)
			return -1;
		c->inlen += (size_t)n;
		return 0;
	}
}

/* Writes c->out whole. */
static int
rc_flush(struct rconn *c, time_t deadline)
{
	size_t	off = 0;
	ssize_t	n;

	while (off < c->out.len) {
#ifdef HAVE_LIBTLS
		if (c->tls_on) {
			n = tls_write(c->tls, c->out.data + off,
			    c->out.len - off);
			if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
				if (rc_poll(c->fd, n == TLS_WANT_POLLIN ?
				    POLLIN : POLLOUT, deadline) == -1)
					return -1;
				continue;
			}
			if (n == -1)
				errno = EPROTO;
		} else
#endif
		{
			n = send(c->fd, c->out.data + off, c->out.len - off,
			    MSG_NOSIGNAL);
			if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
				if (rc_poll(c->fd, POLLOUT, deadline) == -1)
					return -1;
				continue;
			}
		}
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	buf_reset(&c->out);
	return 0;
}

/* Queues a command line; with -v it is shown as sendmail shows it. */
static int
rc_cmd(struct qrun *qr, struct rconn *c, const char *shown, const char *fmt,
    ...)
{
	va_list	ap;
	char	line[2048];
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		return -1;
	if (qr->transcript)
		qrun_say(qr, ">>> %s", shown != NULL ? shown : line);
	memcpy(line + n, "\r\n", 2);
	return buf_append(&c->out, line, (size_t)n + 2);
}

/*
 * Reads one reply, waiting at most timeout seconds.  Returns the code, or
 * 0 on a timeout, a closed connection or bytes that are not a reply.
 */
static int
rc_reply(struct qrun *qr, struct rconn *c, struct smtpc_reply *r,
    long long timeout)
{
	time_t		 deadline = time(NULL) + (time_t)timeout;
	const char	*p, *nl;
	size_t		 used;
	int		 k;

	for (;;) {
		k = smtpc_reply_parse(c->in, c->inlen, r, &used);
		if (k == 1)
			break;
		if (k == -1) {
			errno = EPROTO;		/* not SMTP, or too long */
			return 0;
		}
		if (rc_fill(c, deadline) == -1)
			return 0;
	}
	memmove(c->in, c->in + used, c->inlen - used);
	c->inlen -= used;
	if (qr->transcript)
		for (p = r->text, k = 1; k <= r->nlines; k++, p = nl + 1) {
			nl = p + strcspn(p, "\n");
			qrun_say(qr, "%03d%c%.*s", r->code, k < r->nlines ? '-' :
			    ' ', (int)(nl - p), p);
			if (*nl == '\0')
				break;
		}
	return r->code;
}

/* Fills res for a reply that went wrong: "4.x.x HOST said: 450 ...". */
static void
rc_said(struct rres *res, const struct rconn *c, const struct smtpc_reply *r,
    const char *cmd)
{
	char	status[16], text[400];

	/*
	 * A failure, whatever the reply: a 2xx or 3xx where it does not
	 * belong (250 to DATA, 250 as the greeting) must never read as
	 * "delivered", so it becomes a temporary failure.
	 */
	if (r->code < 400 || !smtpc_reply_status(r, status, sizeof(status)))
		snprintf(status, sizeof(status), "%c.0.0", r->code >= 500 ?
		    '5' : '4');
	smtpc_reply_line(r, text, sizeof(text));
	res->code = r->code >= 400 ? r->code : 0;
	snprintf(res->err, sizeof(res->err), "%s host %s said: %s (in reply "
	    "to %s)", status, c->relay, text, cmd);
}

/* Fills res for a lost connection or a timeout. */
static void
rc_lost(struct rres *res, const struct rconn *c, const char *when)
{
	res->code = 0;
	snprintf(res->err, sizeof(res->err), "4.4.2 lost connection with "
	    "%s %s: %s", c->relay, when, errno == ETIMEDOUT ? "timed out" :
	    strerror(errno));
}

/* ---- sessions ---- */

static struct rconn *
rc_connect(struct qrun *qr, const struct sockaddr_storage *ss,
    const char *name, struct rres *res)
{
	struct rconn	*c;
	socklen_t	 len = ss->ss_family == AF_INET6 ?
			    sizeof(struct sockaddr_in6) :
			    sizeof(struct sockaddr_in);
	int		 err = 0, one = 1;
	socklen_t	 el = sizeof(err);

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(res->err, sizeof(res->err), "4.3.0 out of memory");
		return NULL;
	}
	buf_init(&c->out, RC_OUTMAX);
	strlcpy(c->name, name, sizeof(c->name));
	if (getnameinfo((const struct sockaddr *)ss, len, c->ip, sizeof(c->ip),
	    NULL, 0, NI_NUMERICHOST) != 0)
		strlcpy(c->ip, "?", sizeof(c->ip));
	snprintf(c->relay, sizeof(c->relay), "%s[%s]", name, c->ip);
	if (qr->transcript)
		qrun_say(qr, "Connecting to %s port %d via esmtp...", c->relay,
		    ntohs(((const struct sockaddr_in *)ss)->sin_port));
	if ((c->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		goto fail;
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (const struct sockaddr *)ss, len) == -1) {
		if (errno != EINPROGRESS)
			goto fail;
		if (rc_poll(c->fd, POLLOUT, time(NULL) +
		    (time_t)qr->conf->smtp_connect_timeout) == -1)
			goto fail;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) == -1 ||
		    err != 0) {
			errno = err;
			goto fail;
		}
	}
	return c;
fail:
	snprintf(res->err, sizeof(res->err), "4.4.1 connect to %s: %s",
	    c->relay, errno == ETIMEDOUT ? "timed out" : strerror(errno));
	res->code = 0;
	if (qr->transcript)
		qrun_say(qr, "%s", res->err + 6);
	rc_free(c);
	return NULL;
}

/* EHLO, falling back to HELO.  Returns 0, or -1 with res set. */
static int
rc_ehlo(struct qrun *qr, struct rconn *c, struct rres *res)
{
	struct smtpc_reply	r;
	int			code;

	if (rc_cmd(qr, c, NULL, "EHLO %s", qr->conf->hostname) == -1 ||
	    rc_flush(c, time(NULL) + qr->conf->smtp_timeout) == -1 ||
	    (code = rc_reply(qr, c, &r, qr->conf->smtp_timeout)) == 0) {
		rc_lost(res, c, "after EHLO");
		return -1;
	}
	if (code / 100 == 2) {
		smtpc_ehlo_caps(&r, &c->caps);
		snprintf(c->peername, sizeof(c->peername), "%.*s",
		    (int)strcspn(r.text, " \n"), r.text);
		return 0;
	}
	memset(&c->caps, 0, sizeof(c->caps));
	if (rc_cmd(qr, c, NULL, "HELO %s", qr->conf->hostname) == -1 ||
	    rc_flush(c, time(NULL) + qr->conf->smtp_timeout) == -1 ||
	    (code = rc_reply(qr, c, &r, qr->conf->smtp_timeout)) == 0) {
		rc_lost(res, c, "after HELO");
		return -1;
	}
	if (code / 100 != 2) {
		rc_said(res, c, &r, "HELO");
		return -1;
	}
	return 0;
}

#ifdef HAVE_LIBTLS
/* STARTTLS and the handshake.  Returns 0, or -1 with res set. */
static int
rc_starttls(struct qrun *qr, struct rconn *c, const struct rdest *d,
    struct rres *res)
{
	struct tls_config	*cfg;
	struct smtpc_reply	 r;
	time_t			 deadline;
	int			 code, k;

	if (rc_cmd(qr, c, NULL, "STARTTLS") == -1 ||
	    rc_flush(c, time(NULL) + qr->conf->smtp_timeout) == -1 ||
	    (code = rc_reply(qr, c, &r, qr->conf->smtp_timeout)) == 0) {
		rc_lost(res, c, "after STARTTLS");
		return -1;
	}
	if (code != 220) {
		rc_said(res, c, &r, "STARTTLS");
		return -1;
	}
	if (c->inlen > 0) {
		/* sent before the handshake: never read as protected */
		log_warn("%s: discarded %zu bytes sent before the TLS "
		    "handshake", c->relay, c->inlen);
		c->inlen = 0;
	}
	if ((cfg = tls_config_new()) == NULL ||
	    (c->tls = tls_client()) == NULL) {
		tls_config_free(cfg);
		snprintf(res->err, sizeof(res->err), "4.7.0 TLS set-up failed");
		return -1;
	}
	if (d->tls == TLS_VERIFY) {
		if (qr->conf->tls_ca_file[0] != '\0')
			(void)tls_config_set_ca_file(cfg, qr->conf->tls_ca_file);
	} else {
		/* opportunistic: any TLS beats none (RFC 7435) */
		tls_config_insecure_noverifycert(cfg);
		tls_config_insecure_noverifyname(cfg);
		(void)tls_config_set_protocols(cfg, TLS_PROTOCOLS_ALL);
		(void)tls_config_set_ciphers(cfg, "compat");
	}
	k = tls_configure(c->tls, cfg);
	tls_config_free(cfg);
	if (k == -1 || tls_connect_socket(c->tls, c->fd, c->name) == -1)
		goto fail;
	deadline = time(NULL) + qr->conf->smtp_timeout;
	while ((k = tls_handshake(c->tls)) != 0) {
		if (k == -1 || rc_poll(c->fd, k == TLS_WANT_POLLIN ? POLLIN :
		    POLLOUT, deadline) == -1)
			goto fail;
	}
	c->tls_on = 1;
	log_info("%s: TLS %s, cipher %s, certificate %s", c->relay,
	    tls_conn_version(c->tls), tls_conn_cipher(c->tls),
	    d->tls == TLS_VERIFY ? "verified" : "not verified");
	if (qr->transcript)
		qrun_say(qr, "TLS started with %s: %s, cipher %s, certificate "
		    "%s", c->relay, tls_conn_version(c->tls),
		    tls_conn_cipher(c->tls), d->tls == TLS_VERIFY ?
		    "verified" : "not verified");
	return 0;
fail:
	snprintf(res->err, sizeof(res->err), "4.7.5 TLS handshake with %s "
	    "failed: %s", c->relay, log_safe(tls_error(c->tls) ?
	    tls_error(c->tls) : "unknown error"));
	res->code = 0;
	return -1;
}
#endif

/* AUTH PLAIN or LOGIN with the destination's secret.  Returns 0 or -1. */
static int
rc_auth(struct qrun *qr, struct rconn *c, const struct rdest *d,
    struct rres *res)
{
	struct smtpc_reply	r;
	unsigned char		plain[600];
	char			b64[900], b64p[400];
	size_t			ul = strlen(d->user), pl = strlen(d->pass);
	int			code;

	if (c->caps.flags & SMTPC_AUTH_PLAIN) {
		plain[0] = '\0';
		memcpy(plain + 1, d->user, ul);
		plain[ul + 1] = '\0';
		memcpy(plain + ul + 2, d->pass, pl);
		if (base64_encode(plain, ul + pl + 2, b64, sizeof(b64)) == -1 ||
		    rc_cmd(qr, c, "AUTH PLAIN (credentials hidden)",
		    "AUTH PLAIN %s", b64) == -1)
			return -1;
		explicit_bzero(plain, sizeof(plain));
		explicit_bzero(b64, sizeof(b64));
	} else {
		if (base64_encode((const unsigned char *)d->user, ul, b64,
		    sizeof(b64)) == -1 || base64_encode((const unsigned char *)
		    d->pass, pl, b64p, sizeof(b64p)) == -1 ||
		    rc_cmd(qr, c, NULL, "AUTH LOGIN") == -1 ||
		    rc_flush(c, time(NULL) + qr->conf->smtp_timeout) == -1 ||
		    (code = rc_reply(qr, c, &r, qr->conf->smtp_timeout)) == 0)
			goto lost;
		if (code != 334)
			goto said;
		if (rc_cmd(qr, c, "(user name hidden)", "%s", b64) == -1 ||
		    rc_flush(c, time(NULL) + qr->conf->smtp_timeout) == -1 ||
		    (code = rc_reply(qr, c, &r, qr->conf->smtp_timeout)) == 0)
			goto lost;
		if (code != 334)
			goto said;
		if (rc_cmd(qr, c, "(password hidden)", "%s", b64p) == -1)
			return -1;
		explicit_bzero(b64p, sizeof(b64p));
	}
	if (rc_flush(c, time(NULL) + qr->conf->smtp_timeout) == -1 ||
	    (code = rc_reply(qr, c, &r, qr->conf->smtp_timeout)) == 0)
		goto lost;
	if (code == 235)
		return 0;
said:
	rc_said(res, c, &r, "AUTH");
	/* a refused login is the administrator's to fix: keep the mail */
	res->err[0] = '4';
	res->code = 0;
	return -1;
lost:
	rc_lost(res, c, "during AUTH");
	return -1;
}

static int
rc_loopback(const struct rconn *c)
{
	return strncmp(c->ip, "127.", 4) == 0 || strcmp(c->ip, "::1") == 0;
}

/* Greeting, EHLO, STARTTLS, AUTH.  Returns 0, or -1 with res set. */
static int
rc_session(struct qrun *qr, struct rconn *c, const struct rdest *d,
    struct rres *res)
{
	struct smtpc_reply	r;
	int			code;

	if ((code = rc_reply(qr, c, &r, qr->conf->smtp_timeout)) == 0) {
		rc_lost(res, c, "while receiving the initial greeting");
		return -1;
	}
	if (code != 220) {
		rc_said(res, c, &r, "the initial greeting");
		return -1;
	}
	if (rc_ehlo(qr, c, res) == -1)
		return -1;
	if (!d->nomx && qr->conf->smarthost[0] == '\0' &&
	    strcasecmp(c->peername, qr->conf->hostname) == 0) {
		/* RFC 5321 5.1: an MX or address that leads back here */
		snprintf(res->err, sizeof(res->err), "5.4.6 mail for %s loops "
		    "back to myself (%s greets as %s)", d->domain, c->relay,
		    qr->conf->hostname);
		return -1;
	}
	if ((c->caps.flags & SMTPC_STARTTLS) && d->tls != TLS_NONE) {
#ifdef HAVE_LIBTLS
		if (rc_starttls(qr, c, d, res) == -1) {
			c->starttls_failed = 1;
			return -1;
		}
		if (rc_ehlo(qr, c, res) == -1)
			return -1;
#endif
	}
	if (!c->tls_on && d->tls >= TLS_ENCRYPT) {
		snprintf(res->err, sizeof(res->err), "4.7.4 TLS is required "
		    "for %s but %s does not offer it", d->key, c->relay);
		return -1;
	}
	if (d->user[0] != '\0' && (c->caps.flags & (SMTPC_AUTH_PLAIN |
	    SMTPC_AUTH_LOGIN))) {
		if (!c->tls_on && !rc_loopback(c)) {
			snprintf(res->err, sizeof(res->err), "4.7.0 not sending "
			    "the AUTH secret for %s without TLS", d->key);
			return -1;
		}
		if (rc_auth(qr, c, d, res) == -1)
			return -1;
	}
	return 0;
}

static void
rc_quit(struct qrun *qr, struct rconn *c)
{
	struct smtpc_reply	r;

	if (qr->transcript)
		qrun_say(qr, "Closing connection to %s", c->relay);
	buf_reset(&c->out);
	if (rc_cmd(qr, c, NULL, "QUIT") == 0 &&
	    rc_flush(c, time(NULL) + 5) == 0)
		(void)rc_reply(qr, c, &r, qr->conf->smtp_timeout < 5 ?
		    qr->conf->smtp_timeout : 5);
	rc_free(c);
}

/* ---- the transaction ---- */

/* Does the message have bytes with the high bit set? */
static int
rc_8bit(struct qmsg *m)
{
	char	chunk[65536];
	off_t	off = (off_t)m->hdrlen;
	ssize_t	n, i;

	while (off < m->size && (n = pread(m->fd, chunk, sizeof(chunk), off))
	    > 0) {
		for (i = 0; i < n; i++)
			if (chunk[i] & 0x80)
				return 1;
		off += n;
	}
	return 0;
}

/* The length of the run of bytes before the first LF or CR. */
static size_t
strcspn_n(const char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (p[i] == '\n' || p[i] == '\r')
			break;
	return i;
}

/* Sends the message: CRLF line ends, dot-stuffed, the final dot. */
static int
rc_body(struct qrun *qr, struct rconn *c, struct qmsg *m)
{
	char		 chunk[65536];
	const char	*p, *nl, *end;
	off_t		 off = (off_t)m->hdrlen;
	ssize_t		 n;
	int		 bol = 1;

	while (off < m->size) {
		if ((n = pread(m->fd, chunk, sizeof(chunk), off)) <= 0)
			return -1;
		off += n;
		for (p = chunk, end = chunk + n; p < end; p = nl + 1) {
			if (bol && *p == '.' && buf_append(&c->out, ".", 1) == -1)
				return -1;
			/* a bare CR ends a line too (RFC 5321 2.3.8) */
			nl = p + strcspn_n(p, (size_t)(end - p));
			if (nl == end) {
				if (buf_append(&c->out, p, (size_t)(end - p))
				    == -1)
					return -1;
				bol = 0;
				break;
			}
			if (buf_append(&c->out, p, (size_t)(nl - p)) == -1 ||
			    buf_append(&c->out, "\r\n", 2) == -1)
				return -1;
			bol = 1;
		}
		if (c->out.len > RC_OUTMAX - 2 * sizeof(chunk) &&
		    rc_flush(c, time(NULL) + qr->conf->smtp_timeout) == -1)
			return -1;
	}
	if ((!bol && buf_append(&c->out, "\r\n", 2) == -1) ||
	    buf_append(&c->out, ".\r\n", 3) == -1)
		return -1;
	if (qr->transcript)
		qrun_say(qr, ">>> .");
	return rc_flush(c, time(NULL) + qr->conf->smtp_timeout);
}

/* MAIL FROM with the parameters the peer understands. */
static int
rc_mail(struct qrun *qr, struct rconn *c, struct qmsg *m)
{
	char	params[300];
	size_t	pl = 0;

	params[0] = '\0';
	if (c->caps.flags & SMTPC_SIZE)
		pl += (size_t)snprintf(params + pl, sizeof(params) - pl,
		    " SIZE=%lld", (long long)(m->size - (off_t)m->hdrlen));
	if ((c->caps.flags & SMTPC_8BITMIME) &&
	    strcasecmp(m->env.body, "8BITMIME") == 0)
		pl += (size_t)snprintf(params + pl, sizeof(params) - pl,
		    " BODY=8BITMIME");
	if ((c->caps.flags & SMTPC_SMTPUTF8) && m->env.smtputf8)
		pl += (size_t)snprintf(params + pl, sizeof(params) - pl,
		    " SMTPUTF8");
	if ((c->caps.flags & SMTPC_DSN) && m->env.ret[0])
		pl += (size_t)snprintf(params + pl, sizeof(params) - pl,
		    " RET=%s", m->env.ret);
	if ((c->caps.flags & SMTPC_DSN) && m->env.envid[0])
		(void)snprintf(params + pl, sizeof(params) - pl, " ENVID=%s",
		    m->env.envid);
	return rc_cmd(qr, c, NULL, "MAIL From:<%s>%s", m->env.sender, params);
}

static int
rc_rcpt(struct qrun *qr, struct rconn *c, struct qmsg *m, size_t i)
{
	const struct spool_rcpt	*r = &m->env.rcpts[m->st.t[i].rcpt];
	char			 params[ADDR_MAX + 80];

	params[0] = '\0';
	if ((c->caps.flags & SMTPC_DSN) && r->notify[0])
		snprintf(params, sizeof(params), " NOTIFY=%s", r->notify);
	if ((c->caps.flags & SMTPC_DSN) && r->orcpt[0])
		(void)strlcat(params, " ORCPT=", sizeof(params)),
		(void)strlcat(params, r->orcpt, sizeof(params));
	return rc_cmd(qr, c, NULL, "RCPT To:<%s>%s", m->st.t[i].addr, params);
}

/*
 * What no peer of these capabilities can take: too big, 8-bit to a 7-bit
 * peer (RFC 6152: we return it rather than convert it), SMTPUTF8 to a peer
 * without it (RFC 6531 3.4).  Returns 1 with res set.
 */
static int
rc_refuse(struct rconn *c, struct qmsg *m, struct rres *res)
{
	long long	size = (long long)(m->size - (off_t)m->hdrlen);

	res->code = 0;
	if (c->caps.maxsize > 0 && size > c->caps.maxsize) {
		snprintf(res->err, sizeof(res->err), "5.3.4 message is %lld "
		    "bytes, more than %s accepts (%lld)", size, c->relay,
		    c->caps.maxsize);
		return 1;
	}
	if (m->env.smtputf8 && !(c->caps.flags & SMTPC_SMTPUTF8)) {
		snprintf(res->err, sizeof(res->err), "5.6.7 %s does not "
		    "support SMTPUTF8, which this message needs", c->relay);
		return 1;
	}
	if (!(c->caps.flags & SMTPC_8BITMIME) && rc_8bit(m)) {
		snprintf(res->err, sizeof(res->err), "5.6.3 %s does not "
		    "support 8BITMIME and the message has 8-bit data",
		    c->relay);
		return 1;
	}
	return 0;
}

/*
 * After a 4xx or 5xx to a pipelined MAIL: reads the replies to the RCPTs
 * and DATA that followed.  Returns 0, or -1 if the connection is no good
 * (gone, or the peer took DATA anyway and had to be given an empty one).
 */
static int
rc_drain(struct qrun *qr, struct rconn *c, size_t n)
{
	struct smtpc_reply	r;
	long long		to = qr->conf->smtp_timeout;
	size_t			k;
	int			code;

	for (k = 0; k <= n; k++) {
		if ((code = rc_reply(qr, c, &r, to)) == 0)
			return -1;
		if (code == 354) {
			if (rc_cmd(qr, c, NULL, ".") == 0 &&
			    rc_flush(c, time(NULL) + to) == 0)
				(void)rc_reply(qr, c, &r, 2 * to);
			return -1;
		}
	}
	return 0;
}

/* MAIL, and with PIPELINING the RCPTs and DATA too, written out. */
static int
rc_envelope(struct qrun *qr, struct rconn *c, struct qmsg *m,
    const size_t *idx, size_t n)
{
	time_t	deadline = time(NULL) + qr->conf->smtp_timeout;
	size_t	k;

	if (rc_mail(qr, c, m) == -1)
		return -1;
	if (!(c->caps.flags & SMTPC_PIPELINING))
		return rc_flush(c, deadline);
	for (k = 0; k < n; k++)
		if (rc_rcpt(qr, c, m, idx[k]) == -1 || (c->out.len >
		    RC_OUTMAX / 2 && rc_flush(c, deadline) == -1))
			return -1;
	if (rc_cmd(qr, c, NULL, "DATA") == -1)
		return -1;
	return rc_flush(c, deadline);
}

/*
 * The RCPT replies (without PIPELINING each RCPT is sent first): out[k]
 * gets code 2xx for an accepted recipient (its err stays empty until the
 * data is taken) or the refusal.  Returns 0, or -1 if the connection is
 * lost.
 */
static int
rc_rcpts(struct qrun *qr, struct rconn *c, struct qmsg *m, const size_t *idx,
    size_t n, struct rres *out, size_t *accepted)
{
	struct smtpc_reply	r;
	long long		to = qr->conf->smtp_timeout;
	size_t			k;
	int			code;

	for (k = 0; k < n; k++) {
		if (!(c->caps.flags & SMTPC_PIPELINING) &&
		    (rc_rcpt(qr, c, m, idx[k]) == -1 ||
		    rc_flush(c, time(NULL) + to) == -1))
			return -1;
		if ((code = rc_reply(qr, c, &r, to)) == 0)
			return -1;
		if (code / 100 == 2) {
			out[k].code = code;
			(*accepted)++;
		} else
			rc_said(&out[k], c, &r, "RCPT TO");
	}
	return 0;
}

/*
 * DATA was not answered 354, or no recipient was accepted: the accepted
 * ones get the DATA reply, and RSET readies the connection for the next
 * message.  Returns 0, or -1 if the connection is no good.
 */
static int
rc_nodata(struct qrun *qr, struct rconn *c, struct smtpc_reply *r, int code,
    size_t accepted, size_t n, struct rres *out, struct rres *res)
{
	long long	to = qr->conf->smtp_timeout;
	size_t		k;

	if (accepted == 0 && code == 354) {
		/* RFC 2920: the peer wants data we cannot give: end it empty */
		if (rc_cmd(qr, c, NULL, ".") == 0 &&
		    rc_flush(c, time(NULL) + to) == 0)
			(void)rc_reply(qr, c, r, 2 * to);
		return -1;
	}
	if (accepted > 0) {
		rc_said(res, c, r, "DATA");
		for (k = 0; k < n; k++)
			if (out[k].code / 100 == 2)
				out[k] = *res;
	}
	if (rc_cmd(qr, c, NULL, "RSET") == -1 ||
	    rc_flush(c, time(NULL) + to) == -1 ||
	    rc_reply(qr, c, r, to) / 100 != 2)
		return -1;
	return 0;
}

/* The message, then the reply to the final dot for the accepted ones. */
static int
rc_data(struct qrun *qr, struct rconn *c, struct qmsg *m, size_t n,
    struct rres *out, struct rres *res)
{
	struct smtpc_reply	r;
	size_t			k;
	int			code;

	if (rc_body(qr, c, m) == -1 || (code = rc_reply(qr, c, &r,
	    2 * qr->conf->smtp_timeout)) == 0) {
		rc_lost(res, c, "while sending the message");
		return -1;
	}
	c->msgs++;
	for (k = 0; k < n; k++) {
		if (out[k].code / 100 != 2)
			continue;
		if (code / 100 == 2) {
			smtpc_reply_line(&r, out[k].err, sizeof(out[k].err));
			out[k].code = code;
			out[k].dsn = (c->caps.flags & SMTPC_DSN) != 0;
		} else
			rc_said(&out[k], c, &r, "end of DATA");
	}
	return 0;
}

/*
 * One transaction for the targets idx[0..n-1] on an open session.  Sets
 * out[k] for each target it settles (err non-empty).  Returns 0 when every
 * target has its result, 1 when the session failed before any recipient
 * was settled (try another host; res says why), -1 when the connection is
 * unusable afterwards (rc_transaction settles what is left with res).
 */
static int
rc_xact(struct qrun *qr, struct rconn *c, struct qmsg *m,
    const size_t *idx, size_t n, struct rres *out, struct rres *res)
{
	struct smtpc_reply	r;
	size_t			k, accepted = 0;
	int			code, broken, pipe = c->caps.flags &
				    SMTPC_PIPELINING;
	long long		to = qr->conf->smtp_timeout;

	if (rc_refuse(c, m, res)) {
		for (k = 0; k < n; k++)
			out[k] = *res;
		return 0;
	}
	if (rc_envelope(qr, c, m, idx, n) == -1 ||
	    (code = rc_reply(qr, c, &r, to)) == 0)
		goto lost;
	if (code / 100 != 2) {
		rc_said(res, c, &r, "MAIL FROM");
		broken = pipe && rc_drain(qr, c, n) == -1;
		if (code / 100 != 5)
			return 1;		/* another host, or later */
		for (k = 0; k < n; k++)
			out[k] = *res;
		return broken ? -1 : 0;
	}
	if (rc_rcpts(qr, c, m, idx, n, out, &accepted) == -1 ||
	    (!pipe && accepted > 0 && (rc_cmd(qr, c, NULL, "DATA") == -1 ||
	    rc_flush(c, time(NULL) + to) == -1)))
		goto lost;
	code = 0;
	if ((pipe || accepted > 0) && (code = rc_reply(qr, c, &r, to)) == 0)
		goto lost;
	if (accepted == 0 || code != 354)
		return rc_nodata(qr, c, &r, code, accepted, n, out, res);
	return rc_data(qr, c, m, n, out, res);
lost:
	rc_lost(res, c, accepted > 0 ? "during the transaction" :
	    "before the transaction");
	return accepted > 0 ? -1 : 1;
}

static int
rc_transaction(struct qrun *qr, struct rconn *c, struct qmsg *m,
    const size_t *idx, size_t n, struct rres *out, struct rres *res)
{
	size_t	k;
	int	r;

	res->err[0] = '\0';
	res->code = 0;
	if ((r = rc_xact(qr, c, m, idx, n, out, res)) != -1)
		return r;
	if (res->err[0] == '\0')
		rc_lost(res, c, "during the transaction");
	for (k = 0; k < n; k++)		/* not settled: accepted, not sent */
		if (out[k].err[0] == '\0')
			out[k] = *res;
	return -1;
}

/* ---- routing ---- */

/* Reads the destination's line of a "key value..." file; 1 if found. */
static int
remote_lookup(const char *path, const char *key, char *line, size_t len,
    int secret)
{
	struct stat	 st;
	FILE		*fp;
	char		*p, iobuf[4096];
	size_t		 kl = strlen(key);
	int		 found = 0;

	if (path[0] == '\0' || (fp = fopen(path, "re")) == NULL)
		return 0;
	/* our own buffer, wiped after: no secret left in freed memory */
	(void)setvbuf(fp, iobuf, _IOFBF, sizeof(iobuf));
	if (secret && (fstat(fileno(fp), &st) == -1 || st.st_uid !=
	    geteuid() || (st.st_mode & 077) != 0)) {
		log_err("%s: not used: must be owned by uid %ld and not "
		    "readable by others", path, (long)geteuid());
		fclose(fp);
		explicit_bzero(iobuf, sizeof(iobuf));
		return 0;
	}
	while (!found && fgets(line, (int)len, fp) != NULL) {
		p = line + strspn(line, " \t");
		if (*p == '#' || strncasecmp(p, key, kl) != 0 ||
		    (p[kl] != ' ' && p[kl] != '\t'))
			continue;
		p[strcspn(p, "\r\n")] = '\0';
		memmove(line, p + kl + strspn(p + kl, " \t"),
		    strlen(p + kl + strspn(p + kl, " \t")) + 1);
		found = 1;
	}
	fclose(fp);
	explicit_bzero(iobuf, sizeof(iobuf));
	if (!found)
		explicit_bzero(line, len);
	return found;
}

/* The destination key of a domain: itself (lower case), or the smart host. */
static void
remote_key(struct qrun *qr, const char *domain, char *key, size_t len)
{
	char	*p;

	strlcpy(key, qr->conf->smarthost[0] ? qr->conf->smarthost : domain,
	    len);
	for (p = key; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

/* Fills d for the domain of a target: the smart host, or MX routing. */
static void
remote_dest(struct qrun *qr, const char *domain, struct rdest *d)
{
	const char	*sh = qr->conf->smarthost;
	char		 line[1100], *p;
	size_t		 n;

	memset(d, 0, sizeof(*d));
	d->port = (int)qr->conf->smtp_port;
	d->tls = TLS_MAY;
	remote_key(qr, domain, d->key, sizeof(d->key));
	if (sh[0] == '\0' && domain[0] == '[') {
		/* an address literal: [192.0.2.1] or [IPv6:2001:db8::1] */
		d->nomx = 1;
		n = strcspn(domain + 1, "]");
		p = (char *)domain + 1;
		if (n > 5 && strncasecmp(p, "IPv6:", 5) == 0) {
			p += 5;
			n -= 5;
		}
		snprintf(d->domain, sizeof(d->domain), "%.*s", (int)n, p);
	} else if (sh[0] == '\0')
		strlcpy(d->domain, domain, sizeof(d->domain));
	else {
		d->nomx = sh[0] == '[';
		n = d->nomx ? strcspn(sh + 1, "]") : strcspn(sh, ":");
		if (n >= sizeof(d->domain))
			n = sizeof(d->domain) - 1;
		memcpy(d->domain, sh + d->nomx, n);
		d->domain[n] = '\0';
		if (strncasecmp(d->domain, "IPv6:", 5) == 0)
			memmove(d->domain, d->domain + 5, strlen(d->domain) - 4);
		if ((p = strrchr(sh, ':')) != NULL && (!d->nomx ||
		    p > strchr(sh, ']')))
			d->port = atoi(p + 1);
	}
	if (remote_lookup(qr->conf->tls_policy, d->key, line, sizeof(line),
	    0)) {
		if (strncmp(line, "none", 4) == 0)
			d->tls = TLS_NONE;
		else if (strncmp(line, "encrypt", 7) == 0)
			d->tls = TLS_ENCRYPT;
		else if (strncmp(line, "verify", 6) == 0)
			d->tls = TLS_VERIFY;
	}
	if (remote_lookup(qr->conf->smtp_secrets, d->key, line, sizeof(line),
	    1)) {
		n = strcspn(line, " \t");
		if (n < sizeof(d->user) && line[n] != '\0') {
			memcpy(d->user, line, n);
			d->user[n] = '\0';
			strlcpy(d->pass, line + n + strspn(line + n, " \t"),
			    sizeof(d->pass));
		}
		explicit_bzero(line, sizeof(line));
	}
}

/* The hosts to try, best first.  Returns how many, or -1 with res set. */
static int
remote_hosts(struct qrun *qr, const struct rdest *d, struct dns_mx *mx,
    struct rres *res)
{
	int	n, i, self = -1;

	if (d->nomx || qr->conf->smarthost[0] != '\0') {
		/* the smart host, or an address literal */
		strlcpy(mx[0].name, d->domain, sizeof(mx[0].name));
		mx[0].pref = 0;
		if (d->nomx || (n = dns_mx(d->domain, mx, DNS_MXMAX)) == 0 ||
		    n == DNS_NULLMX) {
			strlcpy(mx[0].name, d->domain, sizeof(mx[0].name));
			mx[0].pref = 0;
			return 1;
		}
		if (n == -1) {
			snprintf(res->err, sizeof(res->err), "4.4.3 host map: "
			    "lookup (%s): deferred", d->domain);
			return -1;
		}
		return n;
	}
	n = dns_mx(d->domain, mx, DNS_MXMAX);
	if (n == -1) {
		snprintf(res->err, sizeof(res->err), "4.4.3 host map: lookup "
		    "(%s): deferred", d->domain);
		return -1;
	}
	if (n == DNS_NULLMX) {
		snprintf(res->err, sizeof(res->err), "5.1.10 %s does not "
		    "accept mail (null MX)", d->domain);
		return -1;
	}
	if (n == 0) {
		strlcpy(mx[0].name, d->domain, sizeof(mx[0].name));
		mx[0].pref = 0;
		return 1;
	}
	/* RFC 5321 5.1: not to ourselves, nor to those behind us */
	for (i = 0; i < n; i++)
		if (strcasecmp(mx[i].name, qr->conf->hostname) == 0) {
			self = mx[i].pref;
			break;
		}
	if (self != -1) {
		for (i = 0; i < n && mx[i].pref < self; i++)
			;
		if ((n = i) == 0) {
			snprintf(res->err, sizeof(res->err), "5.4.6 mail for "
			    "%s loops back to myself", d->domain);
			return -1;
		}
	}
	return n;
}

/* The addresses of one host: a literal, or DNS. */
static int
remote_addrs(struct qrun *qr, const char *name, int port,
    struct sockaddr_storage *ss, int max)
{
	struct addrinfo	 hints, *ai, *a;
	char		 ps[8];
	int		 n = 0, e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(ps, sizeof(ps), "%d", port);
	/* a literal; or, with the system's resolver, /etc/hosts too */
	if (qr->conf->resolver[0] == '\0')
		hints.ai_flags &= ~AI_NUMERICHOST;
	if ((e = getaddrinfo(name, ps, &hints, &ai)) == 0) {
		for (a = ai; a != NULL && n < max; a = a->ai_next) {
			if (a->ai_addrlen > sizeof(*ss))
				continue;
			memset(&ss[n], 0, sizeof(ss[n]));
			memcpy(&ss[n++], a->ai_addr, a->ai_addrlen);
		}
		freeaddrinfo(ai);
		if (n > 0)
			return n;
	}
	if (qr->conf->resolver[0] != '\0')
		return dns_addrs(name, port, ss, max);
	/* getaddrinfo asked DNS already: only "no such name" is final */
	return e == 0 || e == EAI_NONAME || e == EAI_NODATA ||
	    e == EAI_ADDRFAMILY ? 0 : -1;
}

static struct rconn *
remote_cached(struct qrun *qr, const char *key)
{
	struct rconn	*c;
	int		 i;

	for (i = 0; i < RC_CACHE; i++) {
		c = remote_state.cache[i];
		if (c == NULL || strcmp(c->key, key) != 0)
			continue;
		remote_state.cache[i] = NULL;
		if (c->msgs >= (unsigned long)qr->conf->smtp_reuse) {
			rc_quit(qr, c);
			return NULL;
		}
		return c;
	}
	return NULL;
}

static void
remote_keep(struct qrun *qr, struct rconn *c)
{
	int	i;

	for (i = 0; i < RC_CACHE; i++)
		if (remote_state.cache[i] == NULL) {
			remote_state.cache[i] = c;
			return;
		}
	rc_quit(qr, remote_state.cache[0]);
	memmove(remote_state.cache, remote_state.cache + 1,
	    (RC_CACHE - 1) * sizeof(remote_state.cache[0]));
	remote_state.cache[RC_CACHE - 1] = c;
}

static void remote_reap(void);

void
remote_close(struct qrun *qr)
{
	int	i;

	remote_reap();		/* the child says QUIT to its peers */
	explicit_bzero(&remote_last, sizeof(remote_last));
	for (i = 0; i < RC_CACHE; i++)
		if (remote_state.cache[i] != NULL) {
			rc_quit(qr, remote_state.cache[i]);
			remote_state.cache[i] = NULL;
		}
}

/*
 * Tries one connection for the group.  Returns 0 when the targets have
 * their results, 1 to try the next address (res says why).
 */
static int
remote_try(struct qrun *qr, struct rconn *c, const struct rdest *d,
    struct qmsg *m, const size_t *idx, size_t n, struct rres *out,
    struct rres *res)
{
	int	r;

	strlcpy(c->key, d->key, sizeof(c->key));
	memset(out, 0, n * sizeof(*out));
	r = rc_transaction(qr, c, m, idx, n, out, res);
	strlcpy(qr->relay, c->relay, sizeof(qr->relay));
	if (r == -1) {
		rc_free(c);
		return 0;
	}
	if (r == 1) {
		rc_free(c);
		return 1;
	}
	remote_keep(qr, c);
	return 0;
}

/*
 * One address: connect, the session, the transaction.  Returns 0 when the
 * targets have their results, 1 to go on to the next address, 2 when the
 * address leads back here (res says so: settle every target).  With
 * opportunistic TLS, a STARTTLS that fails is tried once more without it.
 */
static int
remote_address(struct qrun *qr, struct qmsg *m, const struct rdest *d,
    const struct sockaddr_storage *ss, const char *name, const size_t *idx,
    size_t n, struct rres *out, struct rres *res)
{
	struct rdest	 plain;
	struct rconn	*c;
	int		 again;

	do {
		again = 0;
		if ((c = rc_connect(qr, ss, name, res)) == NULL)
			return 1;
		strlcpy(qr->relay, c->relay, sizeof(qr->relay));
		if (rc_session(qr, c, d, res) == 0)
			return remote_try(qr, c, d, m, idx, n, out, res);
		/*
		 * A host that will not talk (554 greeting, EHLO refused) is
		 * skipped; when none will, the mail waits rather than
		 * bounces.  A loop back here is final.
		 */
		if (res->err[0] == '5' && strncmp(res->err, "5.4.6", 5) != 0)
			res->err[0] = '4';
		if (qr->transcript)
			qrun_say(qr, "%s", res->err);
		if (c->starttls_failed && d->tls == TLS_MAY) {
			plain = *d;
			plain.tls = TLS_NONE;
			d = &plain;
			again = 1;
			log_info("%s: STARTTLS failed: trying again without "
			    "TLS", c->relay);
		}
		if (res->code != 0 && !c->starttls_failed)
			rc_quit(qr, c);		/* it still talks */
		else
			rc_free(c);
		if (strncmp(res->err, "5.4.6", 5) == 0)
			return 2;
	} while (again);
	return 1;
}

/* Delivers one group: the connection, then the transaction. */
static void
remote_group(struct qrun *qr, struct qmsg *m, const struct rdest *d,
    const size_t *idx, size_t n, struct rres *out)
{
	struct dns_mx		 mx[DNS_MXMAX];
	struct sockaddr_storage	 ss[DNS_ADDRMAX];
	struct rres		 res;
	struct rconn		*c;
	size_t			 k;
	int			 nh, na, h, a, looked = 0, tempdns = 0;
	int			 tries = 0;

	memset(&res, 0, sizeof(res));
	qr->relay[0] = '\0';
	if ((c = remote_cached(qr, d->key)) != NULL) {
		if (qr->transcript)
			qrun_say(qr, "Using cached connection to %s", c->relay);
		if (remote_try(qr, c, d, m, idx, n, out, &res) == 0)
			return;
	}
	for (h = 0; h < remote_ndead; h++)
		if (strcmp(remote_dead[h].key, d->key) == 0) {
			res = remote_dead[h].res;
			if (qr->transcript)
				qrun_say(qr, "%s: not tried again in this run: %s",
				    d->key, res.err);
			goto all;
		}
	if ((nh = remote_hosts(qr, d, mx, &res)) == -1)
		goto all;
	snprintf(res.err, sizeof(res.err), "4.4.1 no host of %s answered",
	    d->domain);
	for (h = 0; h < nh; h++) {
		if (!d->nomx && !addr_domain_ok(mx[h].name, strlen(mx[h].name),
		    0))
			continue;	/* not a host name: skipped */
		if ((na = remote_addrs(qr, mx[h].name, d->port, ss,
		    DNS_ADDRMAX)) <= 0) {
			if (na == -1) {
				tempdns = 1;
				snprintf(res.err, sizeof(res.err), "4.4.3 host "
				    "map: lookup (%s): deferred", mx[h].name);
			}
			continue;
		}
		looked = 1;
		for (a = 0; a < na; a++) {
			if (++tries > RC_TRIES)
				goto all;	/* enough for one run */
			switch (remote_address(qr, m, d, &ss[a], mx[h].name,
			    idx, n, out, &res)) {
			case 0:
				return;
			case 2:
				goto all;
			}
		}
	}
	if (!looked && !tempdns)
		snprintf(res.err, sizeof(res.err), "5.1.2 host %s not found",
		    d->domain);
	if (res.err[0] == '4' && remote_ndead < RC_DEAD) {
		strlcpy(remote_dead[remote_ndead].key, d->key,
		    sizeof(remote_dead[0].key));
		remote_dead[remote_ndead++].res = res;
	}
all:
	for (k = 0; k < n; k++)
		out[k] = res;
}


/* ---- privilege separation ---- */

/*
 * Run as root, qrun does not speak SMTP itself: a child that has become
 * the spool user does, keeping the connection cache, and the root side
 * hands it one group at a time (the queue file as a descriptor, the
 * envelope, the destination with its secret) and reads back a result per
 * recipient.  What the child sends back is checked like network input.
 */
struct rreq {
	struct rdest	 d;
	size_t		 hdrlen;
	off_t		 size;
	char		 sender[ADDR_MAX + 1];
	char		 body[16], ret[8], envid[101];
	int		 smtputf8, transcript;
	size_t		 n;
};

struct rreq_rcpt {
	char	addr[STATE_ADDRMAX];
	char	notify[40];
	char	orcpt[ADDR_MAX + 16];
};

struct rresp {
	char	relay[320];
	size_t	n;
};

static int	remote_fd = -1;		/* the root side's end */
static pid_t	remote_pid = -1;

static int
rp_write(int s, const void *p, size_t n)
{
	const char	*c = p;
	ssize_t		 k;

	while (n > 0) {
		if ((k = send(s, c, n, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

static int
rp_read(int s, void *p, size_t n)
{
	char	*c = p;
	ssize_t	 k;

	while (n > 0) {
		if ((k = read(s, c, n)) == -1 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Sends the request header with fd attached. */
static int
rp_sendfd(int s, int fd, const struct rreq *q)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cm;
	struct cmsghdr	*c;
	ssize_t		 k;

	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = (void *)(uintptr_t)q;
	iov.iov_len = sizeof(*q);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	while ((k = sendmsg(s, &msg, MSG_NOSIGNAL)) == -1 && errno == EINTR)
		;
	if (k <= 0)
		return -1;
	return (size_t)k == sizeof(*q) ? 0 :
	    rp_write(s, (const char *)q + k, sizeof(*q) - (size_t)k);
}

/* Receives a request header and its descriptor.  Returns 0 or -1. */
static int
rp_recvfd(int s, struct rreq *q, int *fd)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cm;
	struct cmsghdr	*c;
	ssize_t		 k;

	*fd = -1;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = q;
	iov.iov_len = sizeof(*q);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	while ((k = recvmsg(s, &msg, MSG_CMSG_CLOEXEC)) == -1 && errno == EINTR)
		;
	if (k <= 0)
		return -1;
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	if (*fd == -1)
		return -1;
	return (size_t)k == sizeof(*q) ? 0 :
	    rp_read(s, (char *)q + k, sizeof(*q) - (size_t)k);
}

/* The child: one request at a time until the root side hangs up. */
static void __attribute__((noreturn))
remote_child(struct qrun *qr, int s)
{
	struct rreq		 q;
	struct rreq_rcpt	*rc = NULL;
	struct rres		*out = NULL;
	struct rresp		 resp;
	struct qmsg		 m;
	size_t			*idx = NULL, k;
	int			 fd;

	if ((rc = calloc(RC_GROUPMAX, sizeof(*rc))) == NULL ||
	    (out = calloc(RC_GROUPMAX, sizeof(*out))) == NULL ||
	    (idx = calloc(RC_GROUPMAX, sizeof(*idx))) == NULL)
		_exit(1);
	while (rp_recvfd(s, &q, &fd) == 0) {
		if (q.n == 0 || q.n > RC_GROUPMAX ||
		    rp_read(s, rc, q.n * sizeof(*rc)) == -1)
			break;
		memset(&m, 0, sizeof(m));
		m.fd = fd;
		m.hdrlen = q.hdrlen;
		m.size = q.size;
		memcpy(m.env.sender, q.sender, sizeof(m.env.sender));
		memcpy(m.env.body, q.body, sizeof(m.env.body));
		memcpy(m.env.ret, q.ret, sizeof(m.env.ret));
		memcpy(m.env.envid, q.envid, sizeof(m.env.envid));
		m.env.smtputf8 = q.smtputf8;
		m.env.nrcpt = m.st.n = q.n;
		if ((m.env.rcpts = calloc(q.n, sizeof(*m.env.rcpts))) == NULL ||
		    (m.st.t = calloc(q.n, sizeof(*m.st.t))) == NULL)
			_exit(1);
		for (k = 0; k < q.n; k++) {
			memcpy(m.env.rcpts[k].notify, rc[k].notify,
			    sizeof(rc[k].notify));
			memcpy(m.env.rcpts[k].orcpt, rc[k].orcpt,
			    sizeof(rc[k].orcpt));
			memcpy(m.st.t[k].addr, rc[k].addr, sizeof(rc[k].addr));
			m.st.t[k].rcpt = (int)k;
			m.st.t[k].kind = K_REMOTE;
			idx[k] = k;
		}
		qr->transcript = q.transcript;
		remote_group(qr, &m, &q.d, idx, q.n, out);
		explicit_bzero(&q.d, sizeof(q.d));
		memset(&resp, 0, sizeof(resp));
		strlcpy(resp.relay, qr->relay, sizeof(resp.relay));
		resp.n = q.n;
		close(fd);
		free(m.env.rcpts);
		free(m.st.t);
		if (rp_write(s, &resp, sizeof(resp)) == -1 ||
		    rp_write(s, out, q.n * sizeof(*out)) == -1)
			break;
	}
	remote_close(qr);
	_exit(0);
}

/* Starts the child as the spool user.  Returns 0 or -1. */
static int
remote_spawn(struct qrun *qr, struct qmsg *m)
{
	const char	*errstr;
	int		 sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	if ((remote_pid = fork()) == -1) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (remote_pid == 0) {
		close(sv[0]);
		(void)m;
		qrun_close_queue_fds();	/* the messages' locks stay with root */
		if (qr->slotfd != -1)
			close(qr->slotfd);
		if (priv_drop_to(qr->conf->spool_user, &errstr) == -1) {
			log_err("SMTP client: %s", errstr);
			_exit(1);
		}
		remote_child(qr, sv[1]);
	}
	close(sv[1]);
	remote_fd = sv[0];
	return 0;
}

static void
remote_reap(void)
{
	int	st;

	if (remote_fd != -1)
		close(remote_fd);
	remote_fd = -1;
	if (remote_pid > 0)
		while (waitpid(remote_pid, &st, 0) == -1 && errno == EINTR)
			;
	remote_pid = -1;
}

/* Has the child deliver the group; any failure defers it. */
static void
remote_run(struct qrun *qr, struct qmsg *m, const struct rdest *d,
    const size_t *idx, size_t n, struct rres *out)
{
	struct rreq		 q;
	struct rreq_rcpt	*rc;
	struct rresp		 resp;
	const struct spool_rcpt	*r;
	size_t			 k;

	if (geteuid() != 0) {
		remote_group(qr, m, d, idx, n, out);
		return;
	}
	if ((rc = calloc(n, sizeof(*rc))) == NULL)
		goto fail;
	memset(&q, 0, sizeof(q));
	q.d = *d;
	q.hdrlen = m->hdrlen;
	q.size = m->size;
	memcpy(q.sender, m->env.sender, sizeof(q.sender));
	memcpy(q.body, m->env.body, sizeof(q.body));
	memcpy(q.ret, m->env.ret, sizeof(q.ret));
	memcpy(q.envid, m->env.envid, sizeof(q.envid));
	q.smtputf8 = m->env.smtputf8;
	q.transcript = qr->transcript;
	q.n = n;
	for (k = 0; k < n; k++) {
		r = &m->env.rcpts[m->st.t[idx[k]].rcpt];
		strlcpy(rc[k].addr, m->st.t[idx[k]].addr, sizeof(rc[k].addr));
		strlcpy(rc[k].notify, r->notify, sizeof(rc[k].notify));
		strlcpy(rc[k].orcpt, r->orcpt, sizeof(rc[k].orcpt));
	}
	if ((remote_fd == -1 && remote_spawn(qr, m) == -1) ||
	    rp_sendfd(remote_fd, m->fd, &q) == -1 ||
	    rp_write(remote_fd, rc, n * sizeof(*rc)) == -1 ||
	    rp_read(remote_fd, &resp, sizeof(resp)) == -1 || resp.n != n ||
	    rp_read(remote_fd, out, n * sizeof(*out)) == -1) {
		explicit_bzero(&q, sizeof(q));
		free(rc);
		remote_reap();
		goto fail;
	}
	explicit_bzero(&q, sizeof(q));
	free(rc);
	resp.relay[sizeof(resp.relay) - 1] = '\0';
	strlcpy(qr->relay, resp.relay, sizeof(qr->relay));
	for (k = 0; k < n; k++)
		out[k].err[sizeof(out[k].err) - 1] = '\0';
	return;
fail:
	log_err("%s: the SMTP client process failed", m->id);
	for (k = 0; k < n; k++) {
		memset(&out[k], 0, sizeof(out[k]));
		strlcpy(out[k].err, "4.3.0 the SMTP client process failed",
		    sizeof(out[k].err));
	}
}

/* The domain of target i, lower case. */
static const char *
remote_domain(const struct target *t)
{
	const char	*at = strrchr(t->addr, '@');

	return at != NULL ? at + 1 : "";
}

int
remote_held(const struct qrun *qr)
{
	return qr->trigger && !qr->nohold &&
	    strcmp(qr->conf->expensive, "yes") == 0 &&
	    strcmp(qr->conf->hold_expensive, "yes") == 0;
}

/*
 * Is a remote target's address one mailbox, local@domain, as RFC 5321
 * writes it?  Aliases, .forward and :include: files are user input: an
 * address with a CR or a '>' in it must never reach a RCPT command.
 */
static int
remote_addr_ok(const char *s)
{
	struct addr	 a;
	const char	*errstr;
	size_t		 len = strlen(s), used;

	return addr_parse(s, len, ADDR_F_UTF8 | ADDR_F_RELAXED, &a, &used,
	    &errstr) == 0 && used == len && !a.null && a.domain[0] != '\0' &&
	    strpbrk(s, "<> \t\r\n") == NULL;
}

/* Settles target i with the result out (held, sent, deferred, failed). */
static void
remote_settle(struct qrun *qr, struct qmsg *m, size_t i,
    const struct rres *out, int *failed, size_t *nfailed)
{
	enum mbox_result	r;

	/* delivered: a 2xx to the final dot, whose text is kept */
	r = out->code / 100 == 2 && out->err[0] == '2' ? MBOX_OK :
	    out->err[0] == '5' ? MBOX_PERM : MBOX_TEMP;
	qr->dsn_passed = out->dsn;
	if (qrun_outcome(qr, m, i, r, out->err) == 1 && *nfailed < STATE_TMAX)
		failed[(*nfailed)++] = (int)i;
	qr->dsn_passed = 0;
}

/*
 * Collects the group of target i: every due remote target for the same
 * destination, an address named twice riding once (dup[j] = its first).
 */
static size_t
remote_collect(struct qrun *qr, struct qmsg *m, size_t i, char *done,
    size_t *idx, long *dup)
{
	const char	*domain = remote_domain(&m->st.t[i]);
	size_t		 n = 0, j, k;

	for (j = i; j < m->st.n && n < RC_GROUPMAX; j++) {
		if (done[j] || !qrun_due(qr, m, j, K_REMOTE))
			continue;
		/* one smart host takes all; else one domain is one group */
		if (qr->conf->smarthost[0] == '\0' &&
		    strcasecmp(remote_domain(&m->st.t[j]), domain) != 0)
			continue;
		done[j] = 1;
		dup[j] = -1;
		for (k = 0; k < n; k++)	/* the same address, the same DSN */
			if (strcmp(m->st.t[idx[k]].addr, m->st.t[j].addr) == 0 &&
			    m->st.t[idx[k]].rcpt == m->st.t[j].rcpt)
				dup[j] = (long)k;
		if (dup[j] == -1)
			idx[n++] = j;
	}
	return n;
}

/*
 * remote_dest() for the last destination is kept for the run: a queue of
 * mail for one smart host reads tls_policy and smtp_secrets once, not once
 * a message.  Root's memory only: the child exists before it is filled.
 */
static void
remote_dest_once(struct qrun *qr, const char *domain, struct rdest *d)
{
	char	key[sizeof(remote_last.key)];

	remote_key(qr, domain, key, sizeof(key));
	if (remote_last.key[0] == '\0' || strcmp(key, remote_last.key) != 0)
		remote_dest(qr, domain, &remote_last);
	*d = remote_last;
}

void
remote_deliver(struct qrun *qr, struct qmsg *m, int *failed, size_t *nfailed)
{
	struct rdest	 d;
	struct rres	*out = NULL;
	size_t		*idx = NULL, i, j, n, max;
	long		*dup = NULL;
	char		*done = NULL;

	for (i = 0; i < m->st.n && !qrun_due(qr, m, i, K_REMOTE); i++)
		;
	if (i == m->st.n)
		return;			/* nothing remote: the common case */
	max = m->st.n < RC_GROUPMAX ? m->st.n : RC_GROUPMAX;
	if ((idx = calloc(max, sizeof(*idx))) == NULL ||
	    (out = calloc(max, sizeof(*out))) == NULL ||
	    (dup = calloc(m->st.n, sizeof(*dup))) == NULL ||
	    (done = calloc(m->st.n, 1)) == NULL)
		goto out;
	for (i = 0; i < m->st.n; i++)
		if (qrun_due(qr, m, i, K_REMOTE) &&
		    !remote_addr_ok(m->st.t[i].addr)) {
			memset(&out[0], 0, sizeof(out[0]));
			strlcpy(out[0].err, "5.1.3 Bad recipient address syntax",
			    sizeof(out[0].err));
			qr->relay[0] = '\0';
			remote_settle(qr, m, i, &out[0], failed, nfailed);
		}
	for (i = 0; i < m->st.n; i++) {
		if (done[i] || !qrun_due(qr, m, i, K_REMOTE))
			continue;
		j = i;
		n = remote_collect(qr, m, i, done, idx, dup);
		if (remote_held(qr)) {
			for (; j < m->st.n; j++)
				if (done[j] == 1) {
					qrun_held(qr, m, j);
					done[j] = 2;
				}
			continue;
		}
		/* the child first: it must never see a secret it is not given */
		if (geteuid() == 0 && remote_fd == -1)
			(void)remote_spawn(qr, m);
		remote_dest_once(qr, remote_domain(&m->st.t[i]), &d);
		remote_run(qr, m, &d, idx, n, out);
		explicit_bzero(&d, sizeof(d));
		for (j = 0; j < n; j++)
			remote_settle(qr, m, idx[j], &out[j], failed, nfailed);
		for (j = i; j < m->st.n; j++)
			if (done[j] == 1 && dup[j] >= 0)
				remote_settle(qr, m, j, &out[dup[j]], failed,
				    nfailed);
		for (j = i; j < m->st.n; j++)
			if (done[j] == 1)
				done[j] = 2;
		qrun_checkpoint(qr, m);
	}
out:
	free(done);
	free(dup);
	free(out);
	free(idx);
}
