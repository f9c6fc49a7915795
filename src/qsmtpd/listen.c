/*
 * qsmtpd as an inetd "wait" service: inetd hands over the listening
 * socket instead of one connection, and qsmtpd keeps `workers' processes
 * (already configured and unprivileged) that accept connections in turn,
 * each serving up to LISTEN_MAXUSE sessions before it is replaced.  When
 * no connection comes for worker_idle seconds they all exit and inetd
 * listens again.  This saves the fork and exec per connection that
 * dominate the cost of short sessions.  Runs as the spool user; every
 * connection is hostile, each session as with "nowait".
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "smtp.h"

#define LISTEN_MAXUSE	100	/* sessions per worker, then a fresh one */

/* Is fd a listening socket (an inetd "wait" stream service)? */
int
smtp_listening(int fd)
{
	int		on = 0;
	socklen_t	len = sizeof(on);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

/* One worker: accepts and serves; exits 1 when idle, 0 when used up. */
static void
smtp_worker(const struct conf *c, int lfd,
    int (*client)(int, char *, size_t))
{
	struct pollfd	pfd = { lfd, POLLIN, 0 };
	char		addr[64];
	int		n = 0, fd, r;

	while (n < LISTEN_MAXUSE) {
		r = poll(&pfd, 1, (int)c->worker_idle * 1000);
		if (r == 0)
			_exit(1);
		if (r == -1 && errno != EINTR)
			_exit(1);
		if ((fd = accept(lfd, NULL, NULL)) == -1)
			continue;	/* another worker took it */
		n++;
		if (client(fd, addr, sizeof(addr)) == 0)
			(void)smtp_session(c, fd, fd, addr);
		close(fd);
	}
	_exit(0);
}

int
smtp_listen(const struct conf *c, int lfd, int (*client)(int, char *, size_t))
{
	pid_t	pid;
	long	live = 0;
	int	status, idle = 0;

	/* workers poll together: a loser's accept must not block */
	if (fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK) == -1)
		return -1;
	signal(SIGCHLD, SIG_DFL);
	for (;;) {
		while (!idle && live < c->workers) {
			if ((pid = fork()) == -1) {
				log_err("cannot start a worker: %m");
				break;
			}
			if (pid == 0)
				smtp_worker(c, lfd, client);
			live++;
		}
		if (live == 0)
			return 0;
		if (wait(&status) == -1) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		live--;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			idle = 1;	/* wind down; inetd listens again */
	}
}
