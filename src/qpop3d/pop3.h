/*
 * The POP3 dialogue (RFC 1939, RFC 2449 CAPA and response codes, RFC 5034
 * SASL PLAIN).  Authorization runs unprivileged; the password check in a
 * root parent when started as root; the transaction as the mailbox owner.
 */
#ifndef POP3_H
#define POP3_H

#include "buf.h"
#include "conf.h"
#include "line.h"
#include "mstore.h"

#define POP3_LINEMAX	512	/* RFC 2449 4: a command fits in 255; SASL more */

/* A login request from the unprivileged child to the root parent. */
struct pop3_auth_req {
	char	kind;		/* 'p': a password, 'a': an APOP digest */
	char	user[256];
	char	pass[512];	/* the password, or the APOP digest */
	char	banner[128];	/* APOP: the greeting's timestamp */
};

struct pop3 {
	const struct conf *conf;
	struct line_in	 in;
	struct line_out	 out;
	struct buf	 line;
	char		 client[64];
	char		 user[256];
	int		 have_user;	/* USER given */
	char		 banner[128];	/* APOP timestamp, "" without APOP */
	int		 failures;
	int		 auth_fd;	/* to the root parent, or -1 */
	int		 quit;
	struct mstore	 st;
	long		 retrieved, deleted;
	unsigned long long bytes;
};

/* Makes an APOP greeting timestamp "<pid.time@host>". */
void	pop3_banner(const struct conf *, char *out, size_t len);
void	pop3_init(struct pop3 *, const struct conf *, int in, int out,
	    const char *client);
/*
 * The AUTHORIZATION state.  Returns 1 when a user logged in (s->user
 * set; with a parent, the parent has said yes), 0 when the client quit or
 * went away.
 */
int	pop3_authorize(struct pop3 *);
/*
 * Opens the maildrop for the logged-in user and runs the TRANSACTION and
 * UPDATE states.  Returns 0.
 */
int	pop3_transact(struct pop3 *, const char *mailbox_path);
void	pop3_reply(struct pop3 *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
