/*
 * Logging.  Every peer string must pass log_safe() before it gets here.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "log.h"

static const char	*log_prog = "inetmail";
static int		 log_verbose;
static int		 log_fd = -1;	/* >= 0: a log file instead of syslog */

void
log_init(const char *progname, const char *file, int verbose)
{
	log_prog = progname;
	log_verbose = verbose;
	if (file != NULL && *file != '\0' && strcmp(file, "syslog") != 0) {
		log_fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		    0640);
		if (log_fd != -1)
			return;
	}
	openlog(progname, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

static void
log_vwrite(int pri, const char *fmt, va_list ap)
{
	char		 line[1024], head[128];
	struct tm	 tm;
	time_t		 now;
	int		 n, h;

	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (log_verbose)
		dprintf(STDERR_FILENO, "%s\n", line);
	if (log_fd == -1) {
		syslog(pri, "%s", line);
		return;
	}
	now = time(NULL);
	localtime_r(&now, &tm);
	h = (int)strftime(head, sizeof(head), "%b %e %H:%M:%S ", &tm);
	h += snprintf(head + h, sizeof(head) - (size_t)h, "%s[%ld]: ",
	    log_prog, (long)getpid());
	if (h >= (int)sizeof(head))
		h = sizeof(head) - 1;
	line[n] = '\n';
	/* one write per line, so concurrent writers do not interleave */
	{
		char	out[sizeof(head) + sizeof(line)];

		memcpy(out, head, (size_t)h);
		memcpy(out + h, line, (size_t)n + 1);
		(void)write(log_fd, out, (size_t)h + (size_t)n + 1);
	}
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_err(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_ERR, fmt, ap);
	va_end(ap);
}

const char *
log_safe(const char *s)
{
	static char	bufs[4][101];
	static int	next;
	char		*out = bufs[next];
	size_t		 i;

	next = (next + 1) % 4;
	if (s == NULL)
		return "(null)";
	for (i = 0; i < 100 && s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = (c >= 0x20 && c <= 0x7e) ? (char)c : '?';
	}
	out[i] = '\0';
	return out;
}
