/*
 * qrun: the queue runner.  From cron, a full run; from inetd on the
 * trigger socket (-t), delivery of the queue IDs a submitter sends, with
 * progress lines streamed back.  Runs as root and gives each delivery its
 * owner's privileges; not started as root, runs entirely as the caller.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <err.h>
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "conf.h"
#include "dns.h"
#include "log.h"
#include "qrun.h"

#define QRUN_TRIGGER_IDS	1000	/* IDs one trigger connection may send */

static void
usage(void)
{
	fprintf(stderr, "usage: qrun [-ltv] [-C file] [-I id] [-R rcpt] "
	    "[-S sender]\n       qrun -b [-C file] address ...\n");
	exit(EX_USAGE);
}

/* -t: reads queue IDs (one a line) from the socket on stdin, then delivers. */
static int
qrun_trigger(struct qrun *qr)
{
	char		 buf[QRUN_TRIGGER_IDS * (QID_LEN + 1)], id[QID_LEN + 1];
	struct pollfd	 pfd = { STDIN_FILENO, POLLIN, 0 };
	size_t		 len = 0, i, start;
	ssize_t		 n;
	int		 r = 0;

	while (len < sizeof(buf) && poll(&pfd, 1, 5000) == 1) {
		if ((n = read(STDIN_FILENO, buf + len, sizeof(buf) - len)) <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '.', len) != NULL)
			break;		/* "." ends the list early */
	}
	qr->progress = STDOUT_FILENO;
	qr->trigger = 1;
	/* "-v" (qsend -v): deliver even to an expensive mailer, and show it */
	if (len >= 3 && memcmp(buf, "-v\n", 3) == 0)
		qr->nohold = qr->transcript = 1;
	if (qrun_slot(qr, 60) == -1) {
		qrun_say(qr, "all %lld delivery slots busy: the message waits "
		    "for the next queue run", qr->conf->max_deliveries);
		return 0;
	}
	for (start = 0, i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i - start == QID_LEN) {
			memcpy(id, buf + start, QID_LEN);
			id[QID_LEN] = '\0';
			if (qid_valid(id) && qrun_message(qr, id) == -1)
				r = -1;
		}
		start = i + 1;
	}
	remote_close(qr);
	return r;
}

/*
 * As root on a fresh install: lay the spool out owned by the spool user,
 * so that qsmtpd (which runs as that user) can write where qrun created.
 */
static void
qrun_prepare(const struct conf *c)
{
	static const char *const sub[] = { "", "/tmp", "/queue", "/state",
	    "/bad", "/lock" };
	struct passwd	*pw;
	struct stat	 st;
	char		 path[1200];
	size_t		 i;

	if (stat(c->spool, &st) == 0 || (pw = getpwnam(c->spool_user)) == NULL
	    || spool_layout(c->spool) == -1)
		return;
	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", c->spool, sub[i]);
		(void)chown(path, pw->pw_uid, pw->pw_gid);
	}
}

/* -b: prints how each address resolves, delivering nothing (qsend -bv). */
static int
qrun_verify(struct qrun *qr, char **addrs, int n)
{
	struct spool_rcpt	 r;
	struct qmsg		 m;
	struct target		*t;
	size_t			 i, done;
	int			 k, rc = EX_OK;

	for (k = 0; k < n; k++) {
		memset(&m, 0, sizeof(m));
		memset(&r, 0, sizeof(r));
		strlcpy(m.id, "verify", sizeof(m.id));
		m.fd = -1;
		if (strchr(addrs[k], '@') == NULL)
			snprintf(r.addr, sizeof(r.addr), "%s@%s", addrs[k],
			    qr->conf->hostname);
		else
			strlcpy(r.addr, addrs[k], sizeof(r.addr));
		m.env.rcpts = &r;
		m.env.nrcpt = 1;
		if (state_init(&m.st, &m.env) == -1)
			return EX_OSERR;
		do {
			done = 1;
			for (i = 0; i < m.st.n; i++)
				if (m.st.t[i].status == T_PENDING &&
				    m.st.t[i].kind == K_ADDR &&
				    m.st.t[i].error[0] == '\0') {
					deliver_resolve(qr, &m, i, 0);
					done = 0;
				}
		} while (!done);
		for (i = 0; i < m.st.n; i++) {
			t = &m.st.t[i];
			if (t->status == T_EXPANDED)
				continue;
			if (t->status == T_FAILED || t->kind == K_ADDR) {
				printf("%s... %s\n", t->addr, t->error[0] ?
				    t->error + 6 : "cannot resolve");
				rc = EX_NOUSER;
			} else if (t->kind == K_MBOX)
				printf("%s... deliverable: mailer local, user "
				    "%s\n", t->addr, t->owner);
			else if (t->kind == K_REMOTE)
				printf("%s... deliverable: mailer esmtp, host "
				    "%s\n", t->addr, strrchr(t->addr, '@') + 1);
			else
				printf("%s... deliverable: mailer %s, %s %s\n",
				    r.addr, t->kind == K_PROG ? "prog" : "file",
				    t->kind == K_PROG ? "command" : "file",
				    t->addr);
		}
		state_free(&m.st);
	}
	return rc;
}

int
main(int argc, char *argv[])
{
	struct conf	 conf;
	struct qrun	 qr;
	const char	*cfile = NULL, *only_id = NULL;
	char		 err[1200];
	int		 ch, trigger = 0, list = 0, verify = 0, r;

	memset(&qr, 0, sizeof(qr));
	qr.progress = qr.slotfd = -1;
	while ((ch = getopt(argc, argv, "C:I:R:S:bltv")) != -1) {
		switch (ch) {
		case 'b':
			verify = 1;
			break;
		case 'C':
			cfile = optarg;
			break;
		case 'I':
			only_id = optarg;
			qr.force = 1;
			break;
		case 'R':
			qr.only_rcpt = optarg;
			qr.force = 1;
			break;
		case 'S':
			qr.only_sender = optarg;
			qr.force = 1;
			break;
		case 'l':
			list = 1;
			break;
		case 't':
			trigger = 1;
			qr.force = 1;
			break;
		case 'v':
			qr.verbose = qr.transcript = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc && !verify)
		usage();
	signal(SIGPIPE, SIG_IGN);
	umask(007);
	if (conf_read(&conf, cfile, err, sizeof(err)) == -1) {
		log_init("qrun", NULL, 0);
		log_err("%s", err);
		errx(EX_CONFIG, "%s", err);
	}
	qr.conf = &conf;
	log_init("qrun", conf.log_file, trigger ? 0 : qr.verbose);
	tzset();
	if (dns_init(conf.resolver) == -1)
		errx(EX_CONFIG, "resolver %s: not usable", conf.resolver);
	if (verify)
		return qrun_verify(&qr, argv + optind, argc - optind);
	if (geteuid() == 0)
		qrun_prepare(&conf);
	if (list)
		return spool_list(&conf, stdout) == -1 ? EX_IOERR : EX_OK;
	if (trigger)
		return qrun_trigger(&qr) == -1 ? EX_TEMPFAIL : EX_OK;
	if (qrun_slot(&qr, 600) == -1)
		errx(EX_TEMPFAIL, "no delivery slot free (max_deliveries %lld)",
		    conf.max_deliveries);
	if (only_id != NULL) {
		if (!qid_valid(only_id))
			errx(EX_USAGE, "%s: not a queue ID", only_id);
		r = qrun_message(&qr, only_id);
		remote_close(&qr);
	} else
		r = qrun_all(&qr);
	return r == -1 ? EX_TEMPFAIL : EX_OK;
}
