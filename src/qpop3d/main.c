/*
 * qpop3d: the POP3 server inetd starts for one connection.  Started as
 * root, it splits: a child as default_user speaks POP3 until a login
 * succeeds, the root parent checks passwords (it alone can read shadow)
 * and then becomes the mailbox owner for the rest of the session.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "compat.h"
#include "conf.h"
#include "log.h"
#include "mailbox.h"
#include "pop3.h"
#include "priv.h"
#include "users.h"

/* The APOP timestamp, made by the root parent before the split. */
static char	apop_banner[128];

static void
usage(void)
{
	fprintf(stderr, "usage: qpop3d [-C file]\n");
	exit(EX_USAGE);
}

static void
client_address(char *out, size_t len)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	const char		*env;

	out[0] = '\0';
	if (getpeername(STDIN_FILENO, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->
			    sin_addr, out, len);
		else if (ss.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(
		    &((struct sockaddr_in6 *)&ss)->sin6_addr))
			inet_ntop(AF_INET, &((struct sockaddr_in6 *)&ss)->
			    sin6_addr.s6_addr[12], out, len);
		else if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->
			    sin6_addr, out, len);
	} else if ((env = getenv("TCPREMOTEIP")) != NULL &&
	    strspn(env, "0123456789abcdefABCDEF.:") == strlen(env))
		strlcpy(out, env, len);
}

/* After login: become the user, open the maildrop, serve the session. */
static int
session(struct pop3 *s)
{
	struct user	u;
	char		path[1100];

	if (users_lookup(s->conf->users, s->user, &u) != 1 ||
	    mailbox_path(s->conf, &u, path, sizeof(path)) == -1 ||
	    mailbox_become(u.uid, u.gid, mailbox_dir_group(path, u.gid))
	    == -1) {
		log_err("user=%s: cannot become the user or find the mailbox",
		    log_safe(s->user));
		pop3_reply(s, "-ERR [SYS/PERM] Cannot open the maildrop");
		(void)line_flush(&s->out);
		return EX_OK;
	}
	return pop3_transact(s, path) == 0 ? EX_OK : 1;
}

/* The unprivileged side: POP3 until a login; then hands over and exits. */
static void
child(const struct conf *c, int fd, const char *client)
{
	struct pop3	s;
	const char	*errstr;
	uint32_t	n;

	if (priv_drop_to(c->default_user, &errstr) == -1) {
		log_err("%s: %s", c->default_user, errstr);
		printf("-ERR [SYS/TEMP] Server configuration error\r\n");
		fflush(stdout);
		_exit(EX_CONFIG);
	}
	pop3_init(&s, c, STDIN_FILENO, STDOUT_FILENO, client);
	strlcpy(s.banner, apop_banner, sizeof(s.banner));
	s.auth_fd = fd;
	if (pop3_authorize(&s) == 1 && line_flush(&s.out) == 0) {
		/* pipelined commands after PASS belong to the session */
		n = (uint32_t)line_pending(&s.in);
		if (write(fd, &n, sizeof(n)) == (ssize_t)sizeof(n))
			(void)!write(fd, line_peek(&s.in), n);
	}
	_exit(EX_OK);
}

/* Reads exactly len bytes. */
static int
readall(int fd, void *p, size_t len)
{
	ssize_t	r;
	size_t	got = 0;

	while (got < len) {
		if ((r = read(fd, (char *)p + got, len - got)) == -1 &&
		    errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* The root side: checks passwords until one is right, then serves. */
static int
parent(const struct conf *c, int fd, pid_t pid, const char *client)
{
	struct pop3_auth_req	 req;
	struct pop3		 s;
	uint32_t		 n;
	long long		 tries = 0;
	char			 ok;

	for (;;) {
		if (readall(fd, &req, sizeof(req)) == -1) {
			waitpid(pid, NULL, 0);
			return EX_OK;	/* the client left before a login */
		}
		req.user[sizeof(req.user) - 1] = '\0';
		req.pass[sizeof(req.pass) - 1] = '\0';
		req.banner[sizeof(req.banner) - 1] = '\0';
		/* the limit holds here too, should the child be subverted */
		if (++tries > c->max_auth_failures) {
			log_warn("too many login attempts from %s", client);
			return EX_OK;
		}
		if (req.kind == 'a' && c->apop_secrets[0] != '\0')
			ok = auth_apop(c->apop_secrets, req.user, apop_banner,
			    req.pass) == 1 ? 'y' : 'n';
		else if (req.kind == 'p')
			ok = auth_check(c->users, req.user, req.pass) == 1 ?
			    'y' : 'n';
		else
			ok = 'n';
		explicit_bzero(req.pass, sizeof(req.pass));
		if (write(fd, &ok, 1) != 1)
			return EX_OK;
		if (ok == 'y')
			break;
	}
	pop3_init(&s, c, STDIN_FILENO, STDOUT_FILENO, client);
	strlcpy(s.user, req.user, sizeof(s.user));
	if (readall(fd, &n, sizeof(n)) == -1 || n > sizeof(s.in.data) ||
	    (n > 0 && readall(fd, s.in.data, n) == -1)) {
		waitpid(pid, NULL, 0);
		return EX_OK;
	}
	s.in.len = n;
	close(fd);
	waitpid(pid, NULL, 0);
	return session(&s);
}

int
main(int argc, char *argv[])
{
	struct conf	 conf;
	struct pop3	 s;
	const char	*cfile = NULL;
	char		 err[1200], client[64];
	int		 ch, sv[2];
	pid_t		 pid;

	while ((ch = getopt(argc, argv, "C:")) != -1) {
		if (ch != 'C')
			usage();
		cfile = optarg;
	}
	if (optind != argc)
		usage();
	signal(SIGPIPE, SIG_IGN);
	umask(077);
	if (conf_read(&conf, cfile, err, sizeof(err)) == -1) {
		log_init("qpop3d", NULL, 0);
		log_err("%s", err);
		printf("-ERR [SYS/TEMP] Configuration error\r\n");
		return EX_CONFIG;
	}
	log_init("qpop3d", conf.log_file, 0);
	tzset();
	client_address(client, sizeof(client));
	if (geteuid() != 0) {		/* a private instance: all as the caller */
		pop3_init(&s, &conf, STDIN_FILENO, STDOUT_FILENO, client);
		return pop3_authorize(&s) == 1 ? session(&s) : EX_OK;
	}
	if (conf.apop_secrets[0] != '\0')
		pop3_banner(&conf, apop_banner, sizeof(apop_banner));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 ||
	    (pid = fork()) == -1) {
		printf("-ERR [SYS/TEMP] Cannot start\r\n");
		return EX_OSERR;
	}
	if (pid == 0) {
		close(sv[0]);
		child(&conf, sv[1], client);
	}
	close(sv[1]);
	return parent(&conf, sv[0], pid, client);
}
