/*
 * EXPERIMENT, not part of inetmail: the measurement behind the suggestion
 * in bench/RESULTS.md.  qsmtpd's unchanged smtp_session() run as an inetd
 * "wait" stream service, which gets the listening socket on stdin:
 *
 *   127.0.0.1:2525 stream tcp wait root /path/qsmtpd_wait qsmtpd -C conf
 *
 * It reads the configuration, opens the log and drops to the spool user
 * once, then either
 *   - (NWORKERS == 0) forks a child per accepted connection (no exec), or
 *   - (NWORKERS > 0) keeps NWORKERS pre-forked workers that accept() in
 *     turn and serve up to MAXUSE connections each, as Postfix's smtpd
 *     processes do.
 * It exits after IDLE seconds without a connection, and inetd listens
 * again.  Build it against a built tree with bench/experiments/build.sh.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "conf.h"
#include "dns.h"
#include "log.h"
#include "priv.h"
#include "smtp.h"

#ifndef NWORKERS
#define NWORKERS	10
#endif
#define MAXUSE		100
#define IDLE		30

/* Accepts one connection and runs its session; -1 after IDLE seconds. */
static int
serve_one(const struct conf *conf, int child)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;
	struct pollfd		 pfd = { STDIN_FILENO, POLLIN, 0 };
	socklen_t		 len = sizeof(ss);
	char			 client[64] = "";
	int			 fd;

	if (poll(&pfd, 1, IDLE * 1000) <= 0)
		return -1;
	if ((fd = accept(STDIN_FILENO, (struct sockaddr *)&ss, &len)) == -1)
		return 0;
	if (child && fork() != 0) {
		close(fd);
		return 0;
	}
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &s4->sin_addr, client, sizeof(client));
	smtp_session(conf, fd, fd, client);
	close(fd);
	if (child)
		_exit(0);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct conf	 conf;
	const char	*errstr;
	char		 err[1200];
	int		 live = 0, n, idle, status;

	if (argc != 3)
		return 64;
	signal(SIGPIPE, SIG_IGN);
	umask(007);
	if (conf_read(&conf, argv[2], err, sizeof(err)) == -1)
		return 78;
	log_init("qsmtpd", conf.log_file, 0);
	tzset();
	(void)dns_init(conf.resolver);
	if (priv_drop_to(conf.spool_user, &errstr) == -1)
		return 78;
	if (NWORKERS == 0) {
		for (;;) {
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;	/* reaped, so their CPU shows in ours */
			if (serve_one(&conf, 1) == -1)
				return 0;
		}
	}
	/* a worker exits 0 after MAXUSE sessions (replaced), 1 when idle */
	for (idle = 0; ; ) {
		while (!idle && live < NWORKERS) {
			if (fork() == 0) {
				for (n = 0; n < MAXUSE; n++)
					if (serve_one(&conf, 0) == -1)
						_exit(1);
				_exit(0);
			}
			live++;
		}
		if (wait(&status) == -1)
			return 0;
		live--;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
			idle = 1;	/* wind down; inetd listens again */
		if (idle && live == 0)
			return 0;
	}
}
