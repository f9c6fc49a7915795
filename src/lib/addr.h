/*
 * RFC 5321 paths and mailboxes, with the relaxed forms people type
 * ("mail from: samt@localhost", "rcpt to: samt").
 */
#ifndef ADDR_H
#define ADDR_H

#include <stddef.h>

#define ADDR_LOCALMAX	64	/* RFC 5321 4.5.3.1.1 */
#define ADDR_DOMAINMAX	255	/* RFC 5321 4.5.3.1.2 */
#define ADDR_MAX	(ADDR_LOCALMAX + 1 + ADDR_DOMAINMAX)

#define ADDR_F_UTF8	0x01	/* SMTPUTF8 was asked for: UTF-8 allowed */
#define ADDR_F_RELAXED	0x02	/* angle brackets and the domain optional */

struct addr {
	char	local[ADDR_LOCALMAX + 1];	/* as sent: quoted if it was */
	char	domain[ADDR_DOMAINMAX + 1];	/* "" when none was given */
	int	null;				/* the null path <> */
	int	utf8;				/* holds non-ASCII bytes */
};

/*
 * Parses a path at the start of p (which need not be NUL-terminated):
 * optional spaces, then "<>", "<mailbox>", "<@route:mailbox>" or (relaxed)
 * a bare mailbox.  Returns 0 with *used set to the bytes consumed, or -1
 * with *errstr set to text fit for a reply.  Never reads past len.
 */
int	addr_parse(const char *p, size_t len, int flags, struct addr *a,
	    size_t *used, const char **errstr);
/*
 * Writes "local@domain" (or "" for the null path, or "local" when there is
 * no domain) into out.  Returns the length, or -1 if it did not fit.
 */
int	addr_format(const struct addr *, char *out, size_t outlen);
/* Writes the local part with quoting undone.  Returns 0, or -1 if too long. */
int	addr_unquote(const char *local, char *out, size_t outlen);
/* Returns 1 if domain is a syntactically valid domain name, else 0. */
int	addr_domain_ok(const char *d, size_t len, int utf8);

#endif
