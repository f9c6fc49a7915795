/*
 * Client side of the trigger socket.  Trusts the socket's owner (root's
 * qrun); sends only queue IDs, which are made by qid_make().
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "trigger.h"

int
trigger_connect(const char *path, int timeout)
{
	struct sockaddr_un	sun;
	struct pollfd		pfd;
	socklen_t		len = sizeof(int);
	int			fd, err = 0, fl;

	if (path == NULL || path[0] == '\0')
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno != EINPROGRESS && errno != EAGAIN)
			goto fail;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, timeout * 1000) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    err != 0)
			goto fail;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

int
trigger_notify(const char *path, const char *qid)
{
	char	line[64];
	int	fd, n, r;

	if ((fd = trigger_connect(path, 2)) == -1)
		return -1;
	n = snprintf(line, sizeof(line), "%s\n", qid);
	r = n > 0 && (size_t)n < sizeof(line) &&
	    send(fd, line, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -1;
	close(fd);
	return r;
}
