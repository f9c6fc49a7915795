/*
 * pop3_client: the POP3 client of bench/pop3.sh.  Not part of inetmail.
 *
 * One session against 127.0.0.1:PORT, timed with CLOCK_MONOTONIC:
 *
 *   pop3_client -p PORT -u USER -w PASS stat
 *	connect, greeting, USER, PASS, STAT; prints the time until the STAT
 *	answer arrived; then QUIT and wait for the server to close.
 *   pop3_client -p PORT -u USER -w PASS full
 *	the same, then LIST, UIDL, RETR 1..n (one command at a time, as
 *	fetchmail and most clients do; -P N keeps N RETRs in flight), QUIT
 *	(no DELE) and wait for the close; prints the time of the whole session.
 *	-n N: RETR only messages 1..N.
 *
 * TCP_QUICKACK is set before every read, so the client acknowledges data
 * at once: a server that writes an answer in several pieces is then not
 * held up by the client's delayed ACK (Nagle on the server's side waits
 * for it, up to 40 ms on Linux).  -D leaves delayed ACKs on, as an
 * ordinary client has them, to show that effect.
 *
 * Output, one line of key=value: stat_ms, total_ms (full), msgs and octets
 * (from STAT), list and uidl (lines in each listing), retr (RETRs sent),
 * retr_ms (from the first RETR to the last answer), retr_bytes (bytes of
 * the RETR answers, terminators excluded, dot-stuffing kept) and, with -H,
 * hash (FNV-1a over the RETR answers, so servers can be compared for
 * content; it costs ~1 ns a byte, so the timed runs leave it off).  Any
 * -ERR, a listing whose length is not STAT's count, or a connection closed
 * early is an error (exit 1).
 *
 * Reading is done in 256 KB blocks and the end of a multi-line answer is
 * found with memmem for CRLF.CRLF, so the client costs little per 40 MB.
 */
#define _GNU_SOURCE		/* memmem */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ	(256 * 1024)

static int	 fd = -1;
static char	 buf[BUFSZ];
static size_t	 have, pos;		/* buf[pos..have) is unread */
static uint64_t	 hash = 1469598103934665603ULL;
static int	 quickack = 1;

static void
die(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "pop3_client: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static double
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Reads more; returns 0 at EOF. */
static int
fill(void)
{
	ssize_t	n;

	if (pos > 0) {
		memmove(buf, buf + pos, have - pos);
		have -= pos;
		pos = 0;
	}
	if (have == sizeof(buf))
		die("line too long");
	if (quickack) {
		/* Linux clears it as it likes: set it before every read */
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one,
		    sizeof(one));
	}
	do
		n = read(fd, buf + have, sizeof(buf) - have);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		die("read: %s", strerror(errno));
	have += (size_t)n;
	return n > 0;
}

static void
sendf(const char *fmt, ...)
{
	char	 line[512];
	va_list	 ap;
	int	 n;
	ssize_t	 w;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	memcpy(line + n, "\r\n", 2);
	n += 2;
	if ((w = write(fd, line, (size_t)n)) != n)
		die("write: %s", w == -1 ? strerror(errno) : "short");
}

/* One status line; dies on -ERR.  Returns it (valid until the next read). */
static char *
status(const char *what)
{
	char	*l, *lf;

	for (;;) {
		if ((lf = memchr(buf + pos, '\n', have - pos)) != NULL)
			break;
		if (!fill())
			die("%s: connection closed", what);
	}
	l = buf + pos;
	*lf = '\0';
	if (lf > l && lf[-1] == '\r')
		lf[-1] = '\0';
	pos = (size_t)(lf + 1 - buf);
	if (strncmp(l, "+OK", 3) != 0)
		die("%s: %s", what, l);
	return l;
}

/* Counts and (if asked) hashes buf[from..to): consumed answer bytes. */
static void
consume(size_t from, size_t to, size_t *lines, int hashit)
{
	const char	*p = buf + from, *e = buf + to;
	size_t		 k;

	if (lines != NULL)
		while ((p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
			(*lines)++;
			p++;
		}
	if (hashit)
		for (k = from; k < to; k++)
			hash = (hash ^ (unsigned char)buf[k]) * 1099511628211ULL;
}

/*
 * The body of a multi-line answer, up to and including CRLF.CRLF (the
 * status line has been read).  Returns its length, terminator excluded;
 * counts its lines in *lines if asked.
 */
static size_t
multiline(const char *what, size_t *lines, int hashit)
{
	size_t		 len = 0, end;
	const char	*t;

	for (;;) {
		if (len == 0 && have - pos >= 3 &&
		    memcmp(buf + pos, ".\r\n", 3) == 0) {
			pos += 3;		/* an empty answer */
			return 0;
		}
		if (len > 0 || have - pos >= 3) {
			t = memmem(buf + pos, have - pos, "\r\n.\r\n", 5);
			if (t != NULL) {
				end = (size_t)(t - buf) + 2;	/* keep CRLF */
				consume(pos, end, lines, hashit);
				len += end - pos;
				pos = end + 3;
				return len;
			}
			/* the last 4 bytes may start the terminator */
			if (have - pos > 4) {
				end = have - 4;
				consume(pos, end, lines, hashit);
				len += end - pos;
				pos = end;
			}
		}
		if (!fill())
			die("%s: connection closed in a multi-line answer",
			    what);
	}
}

/* Waits for the server to close the connection. */
static void
drain(void)
{
	pos = have = 0;
	while (fill())
		pos = have;
}

static void
usage(void)
{
	fprintf(stderr, "usage: pop3_client [-h addr] -p port -u user -w pass "
	    "[-P depth] [-n max] [-DH] stat|full\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	const char		*addr = "127.0.0.1", *user = NULL, *pass = NULL;
	char			*l;
	double			 t0, tstat, tend, tr0 = 0, tr1 = 0;
	unsigned long		 msgs = 0, i, sent, nretr = 0, maxretr = 0;
	unsigned long long	 octets = 0;
	size_t			 listn = 0, uidln = 0, retr = 0, n;
	int			 ch, port = 0, full, one = 1, depth = 1;
	int			 hashit = 0;

	while ((ch = getopt(argc, argv, "DHh:n:p:u:w:P:")) != -1) {
		switch (ch) {
		case 'h': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'u': user = optarg; break;
		case 'w': pass = optarg; break;
		case 'P': depth = atoi(optarg); break;
		case 'H': hashit = 1; break;
		case 'D': quickack = 0; break;
		case 'n': maxretr = strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (optind + 1 != argc || port <= 0 || user == NULL || pass == NULL ||
	    depth < 1)
		usage();
	if (strcmp(argv[optind], "full") == 0)
		full = 1;
	else if (strcmp(argv[optind], "stat") == 0)
		full = 0;
	else
		usage();

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		die("bad address %s", addr);

	t0 = now_ms();
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("connect %s:%d: %s", addr, port, strerror(errno));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	status("greeting");
	sendf("USER %s", user);
	status("USER");
	sendf("PASS %s", pass);
	status("PASS");
	sendf("STAT");
	l = status("STAT");
	tstat = now_ms();
	if (sscanf(l, "+OK %lu %llu", &msgs, &octets) != 2)
		die("STAT: %s", l);
	if (full) {
		sendf("LIST");
		status("LIST");
		multiline("LIST", &listn, 0);
		sendf("UIDL");
		status("UIDL");
		multiline("UIDL", &uidln, 0);
		if (listn != msgs || uidln != msgs)
			die("LIST %zu, UIDL %zu lines for %lu messages",
			    listn, uidln, msgs);
		nretr = maxretr > 0 && maxretr < msgs ? maxretr : msgs;
		tr0 = now_ms();
		for (sent = 1, i = 1; i <= nretr; i++) {
			while (sent <= nretr && sent < i + (unsigned long)depth)
				sendf("RETR %lu", sent++);
			status("RETR");
			retr += multiline("RETR", NULL, hashit);
		}
		tr1 = now_ms();
	}
	sendf("QUIT");
	status("QUIT");
	drain();
	tend = now_ms();
	close(fd);
	n = (size_t)msgs;
	printf("stat_ms=%.3f", tstat - t0);
	if (full)
		printf(" total_ms=%.3f", tend - t0);
	printf(" msgs=%zu octets=%llu", n, octets);
	if (full)
		printf(" list=%zu uidl=%zu retr=%lu retr_ms=%.3f retr_bytes=%zu",
		    listn, uidln, nretr, tr1 - tr0, retr);
	if (full && hashit)
		printf(" hash=%016llx", (unsigned long long)hash);
	printf("\n");
	return 0;
}
