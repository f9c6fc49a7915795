/*
 * inetmail.conf: "key value" lines, '#' comments.  Unknown keys and bad
 * values are errors that name the file and the line.
 */
#ifndef CONF_H
#define CONF_H

#include <limits.h>
#include <stddef.h>

#define CONF_PATHMAX	1024
#define CONF_NAMEMAX	256

struct conf {
	char	 hostname[CONF_NAMEMAX];
	char	 spool[CONF_PATHMAX];
	char	 mailbox[CONF_PATHMAX];		/* mbox:/var/mail/%u or maildir:~/Maildir */
	char	 users[CONF_PATHMAX];		/* system, or passwd-file:PATH */
	char	 local_host_names[CONF_PATHMAX];
	char	 relay_domains[CONF_PATHMAX];
	char	 aliases[CONF_PATHMAX];
	char	 trigger[CONF_PATHMAX];		/* "" when none; default SPOOL/trigger */
	char	 spool_user[CONF_NAMEMAX];
	char	 resolver[CONF_NAMEMAX];	/* "" for the system's */
	char	 log_file[CONF_PATHMAX];	/* "syslog" or a path */
	long long max_message_size;		/* octets; 0: no limit */
	long long max_recipients;
	long long command_timeout;		/* seconds */
	long long data_timeout;
	long long max_errors;			/* bad commands in a row */
	long long max_junk;			/* commands without progress */
	long long max_received;			/* Received: headers: a mail loop */
	long long workers;			/* inetd "wait": sessions at once */
	long long worker_idle;			/* inetd "wait": exit when idle */
	/* delivery (qrun) */
	char	 default_user[CONF_NAMEMAX];	/* runs root-owned aliases' programs */
	long long queuewarn;			/* a delay warning after this */
	long long queuereturn;			/* a bounce after this */
	long long retry_min, retry_max;		/* back-off between attempts */
	long long max_deliveries;		/* qruns delivering at once */
	long long program_timeout;		/* |program deliveries */
	long long lock_timeout;			/* waiting for a mailbox lock */
	long long queue_workers;		/* processes a queue run splits into */
	/* remote delivery (qrun's SMTP client) */
	char	 smarthost[CONF_NAMEMAX];	/* "" for MX routing; host, [host], :port */
	long long smtp_port;			/* the port for MX hosts and smarthost */
	char	 expensive[8];			/* yes: the remote mailer is expensive */
	char	 hold_expensive[8];		/* yes: submissions leave it queued */
	char	 smtp_secrets[CONF_PATHMAX];	/* "" or a root-only AUTH secrets file */
	char	 tls_policy[CONF_PATHMAX];	/* "" or a file: destination none|may|verify */
	char	 tls_ca_file[CONF_PATHMAX];	/* "" for libtls's default */
	long long smtp_connect_timeout;
	long long smtp_timeout;			/* a reply; the end of DATA gets twice */
	long long smtp_reuse;			/* messages one connection carries */
	/* qpop3d */
	long long pop3_timeout;			/* RFC 1939 3: autologout */
	long long auth_delay;			/* after the first failed login */
	long long max_auth_failures;		/* per connection */
	char	 allow_plaintext[8];		/* yes/no: USER/PASS without TLS */
	char	 apop_secrets[CONF_PATHMAX];	/* "" : no APOP */
};

/* Fills in the built-in defaults (hostname from gethostname()). */
void	conf_defaults(struct conf *);
/*
 * Applies one line (without its end) of a config file.  Returns 0 (also for
 * blank and comment lines) or -1 with *errstr saying what is wrong.
 */
int	conf_parse_line(struct conf *, const char *line, size_t len,
	    const char **errstr);
/*
 * Reads a whole file over the defaults.  Returns 0, or -1 with a message
 * "FILE:LINE: what" (or "FILE: why") in err.  A missing file is an error
 * only if must_exist.
 */
int	conf_load(struct conf *, const char *path, int must_exist,
	    char *err, size_t errlen);
/* Derives what follows from other keys: the trigger path from the spool. */
void	conf_finish(struct conf *);
/*
 * Defaults, then path (or SYSCONFDIR/inetmail.conf, which may be missing,
 * when path is NULL), then conf_finish().  Returns 0 or -1 as conf_load().
 */
int	conf_read(struct conf *, const char *path, char *err, size_t errlen);
/* Writes secs in its largest whole unit: "1 second", "4 hours", "5 days". */
void	conf_format_time(long long secs, char *out, size_t len);
/* Parses "10", "10k", "5m", "1g" (octets).  Returns 0 or -1. */
int	conf_parse_size(const char *, long long *);
/* Parses "30", "30s", "5m", "16h", "5d", "1w" into seconds.  Returns 0 or -1. */
int	conf_parse_time(const char *, long long *);

#endif
