/*
 * qsend: sendmail-compatible submission and queue listing; also installed
 * as sendmail, mailq and newaliases.  Setgid to the spool group: a
 * non-root caller who names another configuration loses that first.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <err.h>
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "aliases.h"
#include "compat.h"
#include "conf.h"
#include "expand.h"
#include "log.h"
#include "qsend.h"
#include "smtp.h"
#include "spool.h"

#ifndef SBINDIR
#define SBINDIR "/usr/local/sbin"
#endif

static void
usage(void)
{
	fprintf(stderr, "usage: qsend [-itv] [-C file] [-F name] [-f sender] "
	    "[-od{b,i,q}] [-b{m,p,s,v,i}]\n"
	    "             [-d0] [-q[I id|R rcpt|S sender]] [address ...]\n");
	exit(EX_USAGE);
}

/* -d0: the system identity block, as sendmail prints it. */
static void
identity(const struct conf *c)
{
	struct utsname	 u;
	char		 shortname[256];
	const char	*dot = strchr(c->hostname, '.');

	snprintf(shortname, sizeof(shortname), "%.*s", dot ? (int)(dot -
	    c->hostname) : (int)strlen(c->hostname), c->hostname);
	if (uname(&u) == -1)
		strlcpy(u.nodename, shortname, sizeof(u.nodename));
	printf("Version inetmail " PACKAGE_VERSION "\n\n");
	printf("============ SYSTEM IDENTITY (after readcf) ============\n");
	printf("      (short domain name) $w = %s\n", shortname);
	printf("  (canonical domain name) $j = %s\n", c->hostname);
	printf("         (subdomain name) $m = %s\n", dot ? dot + 1 : "");
	printf("              (node name) $k = %s\n", u.nodename);
	printf("========================================================\n");
}

/* -bi: checks the aliases file and reports errors with line numbers. */
static int
check_aliases(const struct conf *c)
{
	struct alias_entry	 e;
	enum expand_kind	 k;
	const char		*errstr;
	char			*buf, item[1024];
	size_t			 len, off = 0, voff, longest = 0, total = 0;
	int			 lineno = 1, r, n = 0, bad = 0;

	if (aliases_slurp(c->aliases, ALIASES_FILEMAX, &buf, &len) == -1) {
		warn("%s", c->aliases);
		return EX_NOINPUT;
	}
	while ((r = aliases_next(buf, len, &off, &lineno, &e, &errstr)) != 0) {
		if (r == -1) {
			fprintf(stderr, "%s:%d: %s\n", c->aliases, e.lineno,
			    errstr);
			bad++;
			continue;
		}
		for (voff = 0; (r = expand_next(e.value, e.valuelen, &voff,
		    item, sizeof(item), &k)) != 0; )
			if (r == -1) {
				fprintf(stderr, "%s:%d: %.*s: bad item (an "
				    "unclosed quote, or too long)\n", c->aliases,
				    e.lineno, (int)e.namelen, e.name);
				bad++;
			}
		n++;
		total += e.valuelen;
		if (e.valuelen > longest)
			longest = e.valuelen;
	}
	free(buf);
	printf("%s: %d aliases, longest %zu bytes, %zu bytes total\n",
	    c->aliases, n, longest, total);
	return bad ? EX_DATAERR : EX_OK;
}

/* Runs qrun with the given flags (a queue run, a listing, a check). */
static void
run_qrun(const char *cfile, int verbose, const char *opt, const char *arg,
    char **addrs, int naddrs)
{
	char	*argv[64 + 8], self[1024], *slash;
	int	 n = 0, i;

	argv[n++] = "qrun";
	if (cfile != NULL) {
		argv[n++] = "-C";
		argv[n++] = (char *)cfile;
	}
	if (verbose)
		argv[n++] = "-v";
	if (opt != NULL)
		argv[n++] = (char *)opt;
	if (arg != NULL)
		argv[n++] = (char *)arg;
	for (i = 0; i < naddrs && i < 64; i++)
		argv[n++] = addrs[i];
	argv[n] = NULL;
	/* beside qsend first (an installed pair), then sbindir, then PATH */
	if ((i = (int)readlink("/proc/self/exe", self, sizeof(self) - 6)) > 0) {
		self[i] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			strlcpy(slash + 1, "qrun", sizeof(self) -
			    (size_t)(slash + 1 - self));
			execv(self, argv);
		}
	}
	execv(SBINDIR "/qrun", argv);
	execvp("qrun", argv);
	err(EX_UNAVAILABLE, "qrun");
}

/* Splits an argument holding "a, b" into recipients. */
static int
add_args(struct qsend *q, char *arg)
{
	char	*p;

	for (p = strtok(arg, ", \t"); p != NULL; p = strtok(NULL, ", \t")) {
		if (q->nrcpt >= QSEND_RCPTMAX)
			return -1;
		q->rcpts[q->nrcpt++] = p;
	}
	return 0;
}

/* Takes the value of -Xvalue or -X value. */
static char *
optval(char *rest, int *i, int argc, char **argv)
{
	if (*rest != '\0')
		return rest;
	if (*i + 1 >= argc)
		usage();
	return argv[++*i];
}

int
main(int argc, char *argv[])
{
	struct conf	 conf;
	struct qsend	 q;
	char		 errbuf[1200], mode = 'm', *a, *qopt = NULL, *qarg = NULL;
	char		*prog = basename(argv[0]);
	int		 i, d0 = 0, queue_run = 0;

	memset(&q, 0, sizeof(q));
	q.dot_ends = 1;
	q.deliver = 'b';
	if (strcmp(prog, "mailq") == 0)
		mode = 'p';
	else if (strcmp(prog, "newaliases") == 0)
		mode = 'i';
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		a = argv[i] + 1;
		if (strcmp(a, "-") == 0) {
			i++;
			break;
		}
		switch (*a++) {
		case 'b':
			if (strchr("mpsvi", *a) == NULL || a[0] == '\0' ||
			    a[1] != '\0')
				usage();
			mode = *a;
			break;
		case 'C':
			q.cfile = optval(a, &i, argc, argv);
			break;
		case 'd':
			if (strcmp(a, "0") != 0 && strncmp(a, "0.", 2) != 0)
				usage();
			d0 = 1;
			break;
		case 'F':
			q.fullname = optval(a, &i, argc, argv);
			break;
		case 'f':
		case 'r':
			q.sender = optval(a, &i, argc, argv);
			break;
		case 'i':
			if (*a != '\0')
				usage();
			q.dot_ends = 0;
			break;
		case 'o':
			if (*a == 'i' && a[1] == '\0')
				q.dot_ends = 0;
			else if (*a == 'd' && strchr("biq", a[1]) != NULL &&
			    a[1] != '\0' && a[2] == '\0')
				q.deliver = a[1];
			else if (*a == '\0')
				usage();
			break;			/* other -oX: accepted, ignored */
		case 'q':
			queue_run = 1;
			if (*a == 'I' || *a == 'R' || *a == 'S') {
				qopt = *a == 'I' ? "-I" : *a == 'R' ? "-R" : "-S";
				qarg = optval(a + 1, &i, argc, argv);
			} else if (*a != '\0' && strspn(a, "0123456789smhdw")
			    != strlen(a))
				usage();
			break;
		case 't':
			if (*a != '\0')
				usage();
			q.from_headers = 1;
			break;
		case 'v':
			if (*a != '\0')
				usage();
			q.verbose = 1;
			break;
		case 'L': case 'O': case 'B': case 'N': case 'R': case 'V':
			(void)optval(a, &i, argc, argv);
			break;			/* accepted for compatibility */
		case 'A':
			if (strcmp(a, "c") != 0 && strcmp(a, "m") != 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (q.cfile != NULL && getuid() != 0 && setgid(getgid()) == -1)
		err(EX_OSERR, "setgid");	/* another config: no spool group */
	signal(SIGPIPE, SIG_IGN);
	umask(007);
	if (conf_read(&conf, q.cfile, errbuf, sizeof(errbuf)) == -1)
		errx(EX_CONFIG, "%s", errbuf);
	q.conf = &conf;
	log_init("qsend", conf.log_file, 0);
	tzset();
	if (d0) {
		identity(&conf);
		if (isatty(STDIN_FILENO) == 0 && i >= argc)
			return EX_OK;
	}
	if (queue_run)
		run_qrun(q.cfile, q.verbose, qopt, qarg, NULL, 0);
	switch (mode) {
	case 'p':
		return spool_list(&conf, stdout) == -1 ? EX_IOERR : EX_OK;
	case 'i':
		return check_aliases(&conf);
	case 's':
		(void)smtp_session(&conf, STDIN_FILENO, STDOUT_FILENO, "");
		return EX_OK;
	case 'v':
		if (i >= argc)
			usage();
		run_qrun(q.cfile, 0, "-b", NULL, argv + i, argc - i);
		break;
	}
	for (; i < argc; i++)
		if (add_args(&q, argv[i]) == -1)
			errx(EX_USAGE, "too many recipients");
	return qsend_submit(&q);
}
