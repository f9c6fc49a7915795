/*
 * The SMTP server dialogue (RFC 5321, with RFC 1870 SIZE, RFC 6152
 * 8BITMIME, RFC 2920 PIPELINING, RFC 2034 ENHANCEDSTATUSCODES, RFC 3030
 * CHUNKING, RFC 6531 SMTPUTF8, RFC 3461 DSN parameters).
 */
#ifndef SMTP_H
#define SMTP_H

#include <stddef.h>

#include "addr.h"
#include "buf.h"
#include "conf.h"
#include "line.h"
#include "spool.h"

#define SMTP_LINEMAX	512	/* RFC 5321 4.5.3.1.4, with CRLF */

/* The DATA/BDAT byte machine (smtp_data.c). */
enum data_state { D_BOL, D_MID, D_CR, D_DOT, D_DOTCR, D_END };

struct data_machine {
	enum data_state	 st;
	int		 dots;		/* DATA: dot-stuffing and CRLF.CRLF */
	int		 barelf, barecr;
	int		 inhdr;		/* still in the header section */
	size_t		 hdrcol;	/* bytes seen of the current line */
	char		 hdrhead[10];	/* its first bytes */
	long long	 received;	/* Received: header fields */
	long long	 wire;		/* octets from the client */
	long long	 max;		/* 0: no limit */
	int		 oversize;
	struct buf	 out;		/* normalised bytes for the spool */
};

/* Starts a machine: dots for DATA, not for BDAT. */
void	data_init(struct data_machine *, int dots, long long max);
void	data_free(struct data_machine *);
/*
 * Feeds n bytes.  Returns the number consumed: all of them, or fewer when
 * the end of DATA was found (then st == D_END and the rest belongs to the
 * next command).  Normalised bytes (LF line ends, dots unstuffed) collect
 * in out for the caller to drain; nothing is kept past out's ceiling.
 */
size_t	data_feed(struct data_machine *, const char *p, size_t n);
/* Reply for a finished machine that must be refused, or NULL if fine. */
const char *data_verdict(const struct data_machine *, long long max_received);

enum smtp_state {
	S_GREET = 0x01,		/* before HELO/EHLO */
	S_HELO = 0x02,		/* greeted, no transaction */
	S_MAIL = 0x04,		/* after MAIL */
	S_RCPT = 0x08,		/* after a good RCPT */
	S_ANY = 0x0f
};

struct smtp_session {
	const struct conf *conf;
	struct line_in	 in;
	struct line_out	 out;
	struct buf	 line;
	enum smtp_state	 state;
	char		 client_addr[64];	/* "" when local */
	char		 client_name[256];	/* FCrDNS name, when looked up */
	int		 name_done;
	int		 loopback;
	int		 relay_ok;		/* -1: not yet decided */
	char		 helo[256];
	int		 esmtp;
	int		 errors, junk, quit;
	/* the transaction */
	char		 sender[ADDR_MAX + 1];
	char		 body[16];
	char		 envid[101];
	char		 ret[8];
	int		 smtputf8;
	int		 rcpt_tried;
	struct spool_rcpt *rcpts;
	size_t		 nrcpt;
	/* BDAT in progress */
	int		 bdat;			/* 1: chunks are arriving */
	const char	*bdat_error;		/* set: chunks are read, dropped */
	struct spool_msg msg;
	struct data_machine dm;
	long long	 nmsgs;
};

/*
 * Runs one SMTP session on fds in/out until QUIT, EOF, timeout or too many
 * errors.  client_addr is the peer's address ("" for a local client).
 * Returns 0 when the client quit or hung up, 1 when the server ended it.
 */
int	smtp_session(const struct conf *, int in, int out,
	    const char *client_addr);

/* listen.c: 1 if fd is a listening socket (an inetd "wait" service). */
int	smtp_listening(int fd);
/*
 * Serves connections accepted on lfd with c->workers processes until they
 * have been idle for c->worker_idle seconds; client() finds a connection's
 * address (0, or -1 to drop it).  Returns 0, or -1 if it cannot start.
 */
int	smtp_listen(const struct conf *, int lfd,
	    int (*client)(int, char *, size_t));

/* Internal to qsmtpd: smtp_data.c's handlers. */
int	smtp_data(struct smtp_session *, char *);
int	smtp_bdat(struct smtp_session *, char *);
void	smtp_reply(struct smtp_session *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	smtp_reset(struct smtp_session *);
enum line_status smtp_fill(struct smtp_session *);
const char *smtp_relay_name(struct smtp_session *);

#endif
