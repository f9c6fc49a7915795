/*
 * qsmtpd: the SMTP receiver inetd starts for one connection, with the
 * socket on stdin and stdout.  Started as root, it becomes the spool user
 * before the first byte of input is read.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
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
#include "priv.h"
#include "smtp.h"

static void
usage(void)
{
	fprintf(stderr, "usage: qsmtpd [-C file]\n");
	exit(EX_USAGE);
}

/*
 * The client's address: the socket's peer, TCPREMOTEIP, or "" (local).
 * Returns -1 if fd is a socket without a peer (the client is gone).
 */
static int
client_address(int fd, char *out, size_t outlen)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;
	socklen_t		 len = sizeof(ss);
	const char		*env;
	struct in_addr		 a4;

	out[0] = '\0';
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &s4->sin_addr, out, outlen);
		else if (ss.ss_family == AF_INET6 &&
		    IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			memcpy(&a4, &s6->sin6_addr.s6_addr[12], 4);
			inet_ntop(AF_INET, &a4, out, outlen);
		} else if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &s6->sin6_addr, out, outlen);
		return 0;		/* AF_UNIX: a local client */
	}
	if (errno != ENOTSOCK)
		return -1;
	if ((env = getenv("TCPREMOTEIP")) != NULL && strlen(env) < outlen &&
	    strspn(env, "0123456789abcdefABCDEF.:") == strlen(env))
		strlcpy(out, env, outlen);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct conf	 conf;
	const char	*cfile = NULL, *errstr;
	char		 err[1200], client[64];
	int		 ch;

	while ((ch = getopt(argc, argv, "C:")) != -1) {
		switch (ch) {
		case 'C':
			cfile = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	signal(SIGPIPE, SIG_IGN);
	umask(007);			/* the spool group shares the spool */
	if (conf_read(&conf, cfile, err, sizeof(err)) == -1) {
		log_init("qsmtpd", NULL, 0);
		log_err("%s", err);
		printf("421 4.3.0 Configuration error; try later\r\n");
		return EX_CONFIG;
	}
	log_init("qsmtpd", conf.log_file, 0);
	tzset();
	if (dns_init(conf.resolver) == -1) {
		log_err("cannot set up the resolver \"%s\"", conf.resolver);
		printf("421 4.3.0 Configuration error; try later\r\n");
		return EX_CONFIG;
	}
	if (priv_drop_to(conf.spool_user, &errstr) == -1) {
		log_err("%s: %s", conf.spool_user, errstr);
		printf("421 4.3.0 Server configuration error; try later\r\n");
		return EX_CONFIG;
	}
	if (smtp_listening(STDIN_FILENO))
		return smtp_listen(&conf, STDIN_FILENO, client_address) == 0 ?
		    EX_OK : EX_OSERR;
	if (client_address(STDIN_FILENO, client, sizeof(client)) == -1) {
		log_info("client vanished before the greeting");
		return EX_OK;
	}
	return smtp_session(&conf, STDIN_FILENO, STDOUT_FILENO, client) == 0 ?
	    EX_OK : 1;
}
