/*
 * Delivery status notifications (RFC 3464): bounces and delay warnings,
 * sent with the null sender.  A failing null-sender message goes to the
 * postmaster once; a failing one of those is only logged, so nothing
 * loops.  The original message is quoted from the queue file.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "log.h"
#include "qrun.h"

#define NOTICE_BODYMAX	(10 * 1024 * 1024)	/* more of the original is cut */

static void
notice_date(time_t t, char *out, size_t len)
{
	struct tm	tm;

	localtime_r(&t, &tm);
	strftime(out, len, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/* Does the recipient's NOTIFY ask for this kind of notice? */
static int
notice_wanted(const struct spool_rcpt *r, const char *what)
{
	if (r->notify[0] == '\0')
		return strcmp(what, "SUCCESS") != 0;	/* RFC 3461 default */
	return strcasestr(r->notify, what) != NULL;
}

/*
 * A remote peer's reply inside err ("... host NAME[IP] said: REPLY (in
 * reply to CMD)"): fills mta with NAME and diag with REPLY.  Returns 1 if
 * found.
 */
static int
notice_remote(const char *err, char *mta, size_t mtalen, char *diag,
    size_t diaglen)
{
	const char	*host, *said, *end;
	size_t		 n;

	if ((said = strstr(err, "] said: ")) == NULL ||
	    (host = strstr(err, "host ")) == NULL || host > said)
		return 0;
	host += 5;
	n = strcspn(host, "[");
	snprintf(mta, mtalen, "%.*s", (int)n, host);
	said += 8;
	end = strstr(said, " (in reply to ");
	n = end != NULL ? (size_t)(end - said) : strlen(said);
	snprintf(diag, diaglen, "%.*s", (int)n, said);
	return 1;
}

/* Writes the per-recipient part of message/delivery-status. */
static int
notice_rcpt(struct buf *b, struct qmsg *m, const struct target *t,
    const char *action, const char *date)
{
	const struct spool_rcpt	*r = &m->env.rcpts[t->rcpt];
	const char		*err = t->error[0] ? t->error : "4.0.0 deferred";
	char			 status[8], mta[256], diag[512];
	size_t			 sl = strspn(err, "0123456789.");
	int			 remote;

	if (sl < 5 || sl > 7 || (err[0] != '4' && err[0] != '5')) {
		strlcpy(status, action[0] == 'f' ? "5.0.0" : "4.0.0",
		    sizeof(status));
		sl = 0;
	} else
		snprintf(status, sizeof(status), "%.*s", (int)sl, err);
	if (strcmp(action, "relayed") == 0 || strcmp(action, "delivered") == 0)
		strlcpy(status, "2.0.0", sizeof(status));
	remote = notice_remote(err, mta, sizeof(mta), diag, sizeof(diag));
	if (buf_printf(b, "\n") == -1 ||
	    (r->orcpt[0] && buf_printf(b, "Original-Recipient: %s\n",
	    r->orcpt) == -1) ||
	    buf_printf(b, "Final-Recipient: rfc822; %s\nAction: %s\n"
	    "Status: %s\n", t->kind == K_MBOX || t->kind == K_REMOTE ||
	    t->kind == K_ADDR ? t->addr : r->addr, action, status) == -1 ||
	    (remote && buf_printf(b, "Remote-MTA: dns; %s\nDiagnostic-Code: "
	    "smtp; %s\n", mta, diag) == -1) ||
	    (!remote && status[0] != '2' &&
	    buf_printf(b, "Diagnostic-Code: X-inetmail; %s\n",
	    err + sl + (err[sl] == ' ')) == -1) ||
	    buf_printf(b, "Last-Attempt-Date: %s\n", date) == -1)
		return -1;
	return 0;
}

/* Copies the original message (or its header) into the notice. */
static int
notice_original(struct buf *b, struct qmsg *m, int headers_only)
{
	char	chunk[65536], *end;
	off_t	off = (off_t)m->hdrlen;
	ssize_t	n;

	while ((n = pread(m->fd, chunk, sizeof(chunk), off)) > 0) {
		if (headers_only && (end = memmem(chunk, (size_t)n, "\n\n", 2))
		    != NULL)
			return buf_append(b, chunk, (size_t)(end - chunk) + 1);
		if (b->len + (size_t)n > NOTICE_BODYMAX)
			return buf_puts(b, "\n[... the rest was cut ...]\n");
		if (buf_append(b, chunk, (size_t)n) == -1)
			return -1;
		off += n;
	}
	return n == -1 ? -1 : 0;
}

/*
 * Builds and queues a notice for the targets in which[]; action is
 * "failed" or "delayed".  Returns 0, or -1 (logged).
 */
static int
notice_send(struct qrun *qr, struct qmsg *m, const int *which, size_t n,
    const char *action)
{
	struct spool_msg	 sm;
	struct spool_env	 e;
	struct spool_rcpt	 r;
	struct buf		 b;
	const char		*errstr, *host = qr->conf->hostname;
	char			 date[64], arr[64], bnd[80], subj[80], span[32];
	size_t			 i;
	int			 rc = -1, failed = action[0] == 'f';
	int			 success, full;

	success = strcmp(action, "relayed") == 0 ||
	    strcmp(action, "delivered") == 0;
	/* RFC 3461 4.3: a bounce returns it all unless RET=HDRS; others FULL */
	full = failed ? strcmp(m->env.ret, "HDRS") != 0 :
	    success && strcmp(m->env.ret, "FULL") == 0;
	memset(&e, 0, sizeof(e));
	memset(&r, 0, sizeof(r));
	if (m->env.sender[0] != '\0') {
		strlcpy(r.addr, m->env.sender, sizeof(r.addr));
		strlcpy(e.notice, failed ? "bounce" : success ? "receipt" :
		    "warning", sizeof(e.notice));
	} else if (strcmp(m->env.notice, "double-bounce") != 0 && failed) {
		snprintf(r.addr, sizeof(r.addr), "postmaster@%s", host);
		strlcpy(e.notice, "double-bounce", sizeof(e.notice));
	} else {
		log_warn("%s: a notice about a notice is not sent", m->id);
		return 0;
	}
	if (spool_msg_open(qr->conf->spool, &sm, &errstr) == -1) {
		log_err("%s: cannot queue a notice: %s", m->id, errstr);
		return -1;
	}
	e.arrival = qr->now;
	strlcpy(e.proto, "local", sizeof(e.proto));
	e.nrcpt = 1;
	e.rcpts = &r;
	notice_date(qr->now, date, sizeof(date));
	notice_date(m->env.arrival, arr, sizeof(arr));
	snprintf(bnd, sizeof(bnd), "%s/%s", sm.id, host);
	conf_format_time(qr->conf->queuewarn, span, sizeof(span));
	if (failed)
		strlcpy(subj, "Returned mail: see transcript for details",
		    sizeof(subj));
	else if (success)
		strlcpy(subj, "Return receipt", sizeof(subj));
	else
		snprintf(subj, sizeof(subj), "Warning: could not send message "
		    "for past %s", span);
	buf_init(&b, NOTICE_BODYMAX + 65536);
	if (spool_msg_env(&sm, &e) == -1 ||
	    buf_printf(&b, "Received: by %s (inetmail) id %s; %s\n"
	    "From: Mail Delivery Subsystem <MAILER-DAEMON@%s>\n"
	    "To: <%s>\nSubject: %s\nDate: %s\nMessage-ID: <%s@%s>\n"
	    "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\n"
	    "\tboundary=\"%s\"\n\nThis is a MIME-encapsulated message.\n\n"
	    "--%s\nContent-Type: text/plain; charset=us-ascii\n\n"
	    "The original message %s was received at %s\nfrom %s\n\n"
	    "   ----- %s -----\n", host, sm.id, date, host, r.addr,
	    subj, date, sm.id,
	    host, bnd, bnd, m->id, arr, m->env.client_addr[0] ?
	    m->env.client_addr : "a local user", failed ?
	    "The following addresses had permanent fatal errors" : success ?
	    "The following addresses had successful delivery notifications" :
	    "Delivery to these addresses is delayed; still trying") == -1)
		goto out;
	for (i = 0; i < n; i++)
		if (buf_printf(&b, "<%s>\n    (%s)\n", m->st.t[which[i]].addr,
		    m->st.t[which[i]].error[0] ? m->st.t[which[i]].error :
		    success ? action : "deferred") == -1)
			goto out;
	if (buf_printf(&b, "\n--%s\nContent-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; %s\n", bnd, host) == -1 ||
	    (m->env.envid[0] && buf_printf(&b, "Original-Envelope-Id: %s\n",
	    m->env.envid) == -1) ||
	    buf_printf(&b, "Arrival-Date: %s\n", arr) == -1)
		goto out;
	for (i = 0; i < n; i++)
		if (notice_rcpt(&b, m, &m->st.t[which[i]], action, date) == -1)
			goto out;
	if (buf_printf(&b, "\n--%s\nContent-Type: %s\n\n", bnd,
	    full ? "message/rfc822" : "text/rfc822-headers") == -1 ||
	    notice_original(&b, m, !full)
	    == -1 || buf_printf(&b, "\n--%s--\n", bnd) == -1 ||
	    spool_msg_write(&sm, b.data, b.len) == -1 ||
	    spool_msg_commit(&sm) == -1)
		goto out;
	log_info("%s: %s: %s notice to <%s>", m->id, sm.id, failed ?
	    "delivery failure" : success ? "success" : "delay",
	    log_safe(r.addr));
	qrun_say(qr, "%s: %s notice %s queued for <%s>", m->id, failed ?
	    "failure" : success ? "success" : "delay", sm.id, r.addr);
	rc = 0;
	(void)qrun_message(qr, sm.id);
out:
	if (rc == -1) {
		log_err("%s: cannot queue a notice: %s", m->id, strerror(errno));
		spool_msg_abort(&sm);
	}
	buf_free(&b);
	return rc;
}

int
notice_bounce(struct qrun *qr, struct qmsg *m, const int *which, size_t n)
{
	int	*want;
	size_t	 i, k = 0;
	int	 r;

	if ((want = calloc(n, sizeof(int))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (notice_wanted(&m->env.rcpts[m->st.t[which[i]].rcpt],
		    "FAILURE") || m->env.sender[0] == '\0')
			want[k++] = which[i];
	r = k > 0 ? notice_send(qr, m, want, k, "failed") : 0;
	free(want);
	return r;
}

int
notice_warn(struct qrun *qr, struct qmsg *m)
{
	int	*want;
	size_t	 i, k = 0;
	int	 r;

	if (m->env.sender[0] == '\0')
		return 0;		/* no warnings about notices */
	if ((want = calloc(m->st.n, sizeof(int))) == NULL)
		return -1;
	for (i = 0; i < m->st.n; i++)
		if (m->st.t[i].status == T_PENDING &&
		    notice_wanted(&m->env.rcpts[m->st.t[i].rcpt], "DELAY"))
			want[k++] = (int)i;
	r = k > 0 ? notice_send(qr, m, want, k, "delayed") : 0;
	free(want);
	return r;
}

int
notice_success(struct qrun *qr, struct qmsg *m, const int *which, size_t n)
{
	int	*want;
	size_t	 i, k, pass;
	int	 r = 0;

	if (m->env.sender[0] == '\0' || n == 0)
		return 0;
	if ((want = calloc(n, sizeof(int))) == NULL)
		return -1;
	/* relayed to a peer without DSN, then delivered here */
	for (pass = 0; pass < 2; pass++) {
		for (i = k = 0; i < n; i++)
			if ((m->st.t[which[i]].kind == K_REMOTE) == (pass == 0))
				want[k++] = which[i];
		if (k > 0 && notice_send(qr, m, want, k, pass == 0 ?
		    "relayed" : "delivered") == -1)
			r = -1;
	}
	free(want);
	return r;
}
