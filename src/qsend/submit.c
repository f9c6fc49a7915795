/*
 * Local submission: read the message from stdin, add what a local
 * message lacks (From, Date, Message-ID, a Received: field), commit it to
 * the spool and ask for delivery.  Runs as the caller with the spool
 * group; the message and the arguments are the caller's, not trusted.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "compat.h"
#include "header.h"
#include "log.h"
#include "qsend.h"
#include "spool.h"
#include "trigger.h"

/* Reads stdin into q->in: CR LF becomes LF; a lone "." ends it unless -i. */
static int
qsend_read(struct qsend *q)
{
	char	 chunk[65536];
	ssize_t	 n;
	size_t	 i, bol;
	int	 cr = 0;

	buf_init(&q->in, (size_t)q->conf->max_message_size > 0 ?
	    (size_t)q->conf->max_message_size : (size_t)1 << 40);
	while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return EX_IOERR;
		}
		for (i = 0; i < (size_t)n; i++) {
			if (cr && chunk[i] != '\n' &&
			    buf_append(&q->in, "\r", 1) == -1)
				return EX_DATAERR;
			cr = chunk[i] == '\r';
			if (cr)
				continue;
			if (buf_append(&q->in, chunk + i, 1) == -1)
				return EX_DATAERR;
			if (chunk[i] != '\n' || !q->dot_ends)
				continue;
			bol = q->in.len >= 2 ? q->in.len - 2 : 0;
			while (bol > 0 && q->in.data[bol - 1] != '\n')
				bol--;
			if (q->in.len - bol == 2 && q->in.data[bol] == '.') {
				q->in.len = bol;	/* the "." line ends it */
				return EX_OK;
			}
		}
	}
	return EX_OK;
}

/* Appends a recipient (qualified with hostname) after checking it. */
static int
qsend_add_rcpt(struct qsend *q, const char *s, char ***list, int *n)
{
	struct addr	 a;
	const char	*errstr;
	char		 out[ADDR_MAX + 1];
	size_t		 used;

	if (addr_parse(s, strlen(s), ADDR_F_RELAXED | ADDR_F_UTF8, &a, &used,
	    &errstr) == -1 || used != strlen(s) || a.null) {
		fprintf(stderr, "qsend: %s: bad address: %s\n", s,
		    a.null ? "null recipient" : errstr + 10);
		return -1;
	}
	if (a.domain[0] == '\0')
		strlcpy(a.domain, q->conf->hostname, sizeof(a.domain));
	(void)addr_format(&a, out, sizeof(out));
	if (*n >= QSEND_RCPTMAX || (long long)*n >= q->conf->max_recipients) {
		fprintf(stderr, "qsend: too many recipients\n");
		return -1;
	}
	if (((*list)[(*n)++] = strdup(out)) == NULL)
		return -1;
	return 0;
}

struct qsend_collect {
	struct qsend	*q;
	char		**list;
	int		*n;
	int		 bad;
};

static void
qsend_hdr_addr(const char *addr, void *arg)
{
	struct qsend_collect *c = arg;

	if (qsend_add_rcpt(c->q, addr, &c->list, c->n) == -1)
		c->bad = 1;
}

/* Which headers are there; with -t, the recipients from To, Cc and Bcc. */
struct qsend_hdrs {
	int	from, date, msgid;
	size_t	body;			/* where the header section ends */
};

static int
qsend_headers(struct qsend *q, struct qsend_hdrs *h, char **list, int *n)
{
	struct hdr_field	f;
	struct qsend_collect	c = { q, list, n, 0 };
	size_t			off = 0;
	int			r;

	memset(h, 0, sizeof(*h));
	while ((r = hdr_next(q->in.data, q->in.len, &off, &f)) == 1) {
		h->from |= hdr_is(&f, "From");
		h->date |= hdr_is(&f, "Date");
		h->msgid |= hdr_is(&f, "Message-ID");
		if (q->from_headers && (hdr_is(&f, "To") || hdr_is(&f, "Cc") ||
		    hdr_is(&f, "Bcc")) && hdr_addrlist(f.value, f.valuelen,
		    qsend_hdr_addr, &c) == -1) {
			fprintf(stderr, "qsend: bad address list in %.*s:\n",
			    (int)f.namelen, f.name);
			return EX_DATAERR;
		}
	}
	h->body = off;
	if (r == -1 && off > 0 && q->in.data[off - 1] != '\n')
		h->body = 0;
	return c.bad ? EX_DATAERR : EX_OK;
}

/* Copies the header section without Bcc fields. */
static int
qsend_copy_headers(struct qsend *q, struct spool_msg *m, size_t end)
{
	struct hdr_field	f;
	size_t			off = 0, last = 0;

	while (off < end && hdr_next(q->in.data, end, &off, &f) == 1) {
		if (hdr_is(&f, "Bcc")) {
			if (spool_msg_write(m, q->in.data + last, f.start - last)
			    == -1)
				return -1;
			last = f.end;
		}
	}
	return spool_msg_write(m, q->in.data + last, q->in.len - last);
}

/* Saves the input to ~/dead.letter, for a real user. */
static void
qsend_dead_letter(struct qsend *q)
{
	struct passwd	*pw;
	char		 path[1100];
	int		 fd;

	if (getuid() == 0 || (pw = getpwuid(getuid())) == NULL ||
	    snprintf(path, sizeof(path), "%s/dead.letter", pw->pw_dir) >=
	    (int)sizeof(path))
		return;
	/* as the user alone: no spool group for this file */
	if (setgid(getgid()) == -1)
		return;
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return;
	if (write(fd, q->in.data, q->in.len) == (ssize_t)q->in.len &&
	    fsync(fd) == 0)
		fprintf(stderr, "qsend: the message was saved in %s\n", path);
	close(fd);
}

/* Writes the Received: field and the headers a local message lacks. */
static int
qsend_trace(struct qsend *q, struct spool_msg *m, const struct qsend_hdrs *h,
    const char *login, const char *from)
{
	struct buf	 b;
	struct passwd	*pw = getpwuid(getuid());
	char		 date[64], name[256] = "";
	time_t		 now = time(NULL);
	struct tm	 tm;
	int		 r;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	if (q->fullname != NULL)
		strlcpy(name, q->fullname, sizeof(name));
	else if (pw != NULL && pw->pw_gecos != NULL)
		strlcpy(name, pw->pw_gecos, sizeof(name));
	name[strcspn(name, ",\"\\\n\r<>")] = '\0';
	buf_init(&b, 8192);
	r = buf_printf(&b, "Received: (from %s@localhost)\n\tby %s (inetmail) "
	    "id %s; %s\n", login, q->conf->hostname, m->id, date);
	if (r == 0 && !h->from)
		r = name[0] ? buf_printf(&b, "From: \"%s\" <%s>\n", name, from) :
		    buf_printf(&b, "From: <%s>\n", from);
	if (r == 0 && !h->date)
		r = buf_printf(&b, "Date: %s\n", date);
	if (r == 0 && !h->msgid)
		r = buf_printf(&b, "Message-ID: <%s@%s>\n", m->id,
		    q->conf->hostname);
	if (r == 0 && h->body == 0 && q->in.len > 0 && q->in.data[0] != '\n')
		r = buf_puts(&b, "\n");		/* no header section */
	if (r == 0)
		r = spool_msg_write(m, b.data, b.len);
	buf_free(&b);
	return r;
}

/*
 * The envelope sender from -f: "<>" for the null sender, else an address,
 * qualified with the hostname when it has no domain.  Returns 0 or -1.
 */
static int
qsend_sender(struct qsend *q, char *out, size_t len)
{
	struct addr	 a;
	const char	*errstr;
	size_t		 used;

	if (addr_parse(q->sender, strlen(q->sender), ADDR_F_RELAXED |
	    ADDR_F_UTF8, &a, &used, &errstr) == -1 ||
	    used != strlen(q->sender)) {
		fprintf(stderr, "qsend: %s: bad sender address\n", q->sender);
		return -1;
	}
	if (!a.null && a.domain[0] == '\0')
		strlcpy(a.domain, q->conf->hostname, sizeof(a.domain));
	return addr_format(&a, out, len) == -1 ? -1 : 0;
}

/* Asks qrun to deliver now; with -v prints what it reports. */
static void
qsend_trigger(struct qsend *q, const char *id)
{
	char	buf[4096], line[64];
	ssize_t	n;
	int	fd;

	if (q->deliver == 'q')
		return;
	if ((fd = trigger_connect(q->conf->trigger, 5)) == -1) {
		if (q->verbose)
			printf("%s: queued; no trigger is listening, so it waits "
			    "for the next queue run (qrun)\n", id);
		return;
	}
	/* -v: the conversation, and no hold for an expensive mailer */
	n = snprintf(line, sizeof(line), "%s%s\n", q->verbose ? "-v\n" : "",
	    id);
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
		close(fd);
		return;
	}
	(void)shutdown(fd, SHUT_WR);
	if (q->verbose || q->deliver == 'i')
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (q->verbose)
				fwrite(buf, 1, (size_t)n, stdout);
	close(fd);
	fflush(stdout);
}

/* Builds the envelope for the recipients in list and queues the message. */
static int
qsend_queue(struct qsend *q, char **list, int n, const struct qsend_hdrs *h)
{
	struct spool_msg	 m;
	struct spool_env	 e;
	struct passwd		*pw = getpwuid(getuid());
	const char		*errstr, *login = pw ? pw->pw_name : "nobody";
	char			 from[ADDR_MAX + 1];
	int			 i, saved;

	memset(&e, 0, sizeof(e));
	snprintf(from, sizeof(from), "%s@%s", login, q->conf->hostname);
	strlcpy(e.sender, from, sizeof(e.sender));
	if (q->sender != NULL && qsend_sender(q, e.sender, sizeof(e.sender))
	    == -1)
		return EX_DATAERR;
	if (e.sender[0] != '\0')
		strlcpy(from, e.sender, sizeof(from));
	e.arrival = time(NULL);
	strlcpy(e.proto, "local", sizeof(e.proto));
	if ((e.rcpts = calloc((size_t)n, sizeof(*e.rcpts))) == NULL)
		return EX_OSERR;
	for (i = 0; i < n; i++)
		strlcpy(e.rcpts[i].addr, list[i], sizeof(e.rcpts[i].addr));
	e.nrcpt = (size_t)n;
	if (spool_msg_open(q->conf->spool, &m, &errstr) == -1 ||
	    spool_msg_env(&m, &e) == -1 ||
	    qsend_trace(q, &m, h, login, from) == -1 ||
	    qsend_copy_headers(q, &m, h->body) == -1 ||
	    spool_msg_commit(&m) == -1) {
		saved = errno;
		spool_msg_abort(&m);
		free(e.rcpts);
		fprintf(stderr, "qsend: cannot queue the message: %s\n",
		    strerror(saved));
		qsend_dead_letter(q);
		return EX_TEMPFAIL;
	}
	free(e.rcpts);
	log_info("%s: from=<%s>, size=%zu, nrcpts=%d, proto=local, "
	    "relay=%s@localhost", m.id, log_safe(e.sender), m.size, n,
	    log_safe(login));
	qsend_trigger(q, m.id);
	return EX_OK;
}

int
qsend_submit(struct qsend *q)
{
	struct qsend_hdrs	 h;
	char			**list;
	int			  n = 0, i, rc;

	if ((rc = qsend_read(q)) != EX_OK) {
		fprintf(stderr, "qsend: %s\n", rc == EX_DATAERR ?
		    "message too large" : strerror(errno));
		qsend_dead_letter(q);
		buf_free(&q->in);
		return rc;
	}
	if ((list = calloc(QSEND_RCPTMAX, sizeof(char *))) == NULL)
		return EX_OSERR;
	rc = EX_OK;
	for (i = 0; rc == EX_OK && i < q->nrcpt; i++)
		if (qsend_add_rcpt(q, q->rcpts[i], &list, &n) == -1)
			rc = EX_DATAERR;
	if (rc == EX_OK)
		rc = qsend_headers(q, &h, list, &n);
	if (rc == EX_OK && n == 0) {
		fprintf(stderr, "qsend: no recipients\n");
		rc = EX_USAGE;
	}
	if (rc == EX_OK)
		rc = qsend_queue(q, list, n, &h);
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
	buf_free(&q->in);
	return rc;
}
