/*
 * The client side of SMTP, as far as it parses what a peer sends: replies
 * (RFC 5321 4.2) and the EHLO keywords.  Both are functions over a buffer;
 * the text kept from a reply is escaped, so a peer's bytes can never add a
 * line to a log or a spool file.
 */
#ifndef SMTPC_H
#define SMTPC_H

#include <stddef.h>

#define SMTPC_LINEMAX	2048	/* a longer reply line is a protocol error */
#define SMTPC_LINES	100	/* lines in one reply */
#define SMTPC_TEXTMAX	1024	/* escaped text kept of one reply */

struct smtpc_reply {
	int	code;			/* 200..599 */
	int	nlines;
	char	text[SMTPC_TEXTMAX];	/* lines after the code, joined by '\n',
					   escaped, cut at the end */
};

/*
 * Parses one complete reply from the front of buf.  Returns 1 with *used
 * set to the bytes it took, 0 if the reply is not complete yet, -1 if the
 * bytes are not an SMTP reply (or a line or the line count is too long).
 */
int	smtpc_reply_parse(const char *buf, size_t len, struct smtpc_reply *,
	    size_t *used);
/*
 * Writes a one-line form of the reply for an error message and the log:
 * "550 5.1.1 text; more text".  Never fails; cuts at outlen.
 */
void	smtpc_reply_line(const struct smtpc_reply *, char *out, size_t outlen);
/*
 * Takes the enhanced status code (RFC 3463) at the start of the reply's
 * text if it is there and agrees with the reply code: "5.1.1".  Returns 1
 * with it in out (at least 12 bytes), else 0.
 */
int	smtpc_reply_status(const struct smtpc_reply *, char *out, size_t outlen);

#define SMTPC_PIPELINING	0x0001
#define SMTPC_SIZE		0x0002
#define SMTPC_8BITMIME		0x0004
#define SMTPC_SMTPUTF8		0x0008
#define SMTPC_DSN		0x0010
#define SMTPC_STARTTLS		0x0020
#define SMTPC_AUTH_PLAIN	0x0040
#define SMTPC_AUTH_LOGIN	0x0080
#define SMTPC_ENHANCED		0x0100

struct smtpc_caps {
	unsigned	flags;
	long long	maxsize;	/* SIZE's value, 0 for no limit given */
};

/* Reads the keywords of a 250 reply to EHLO (its first line is skipped). */
void	smtpc_ehlo_caps(const struct smtpc_reply *, struct smtpc_caps *);

#endif
