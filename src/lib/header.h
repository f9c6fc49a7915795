/*
 * RFC 5322 header sections: iterating fields, and address lists (for
 * qsend -t).  Pure functions over a buffer with LF line ends.
 */
#ifndef HEADER_H
#define HEADER_H

#include <stddef.h>

#include "addr.h"

#define HDR_ADDRMAX	1000	/* addresses taken from one message */

struct hdr_field {
	const char	*name;		/* points into the buffer */
	size_t		 namelen;
	const char	*value;		/* after the colon, continuations kept */
	size_t		 valuelen;
	size_t		 start, end;	/* the whole field: buf[start .. end) */
};

/*
 * Takes the next field of the header section at buf[*off].  Returns 1 with
 * f filled, 0 at the end of the header section (*off then points at the
 * body, past the empty line if there was one), -1 if the line at *off is
 * not a header field (the section ends there).
 */
int	hdr_next(const char *buf, size_t len, size_t *off, struct hdr_field *f);
/* 1 if the field's name is name (case-insensitive). */
int	hdr_is(const struct hdr_field *, const char *name);
/*
 * Parses an address list ("A <a@b>, c@d (x), grp: e@f;") and calls fn for
 * every address in it, at most HDR_ADDRMAX.  Returns the number found, or
 * -1 if the syntax is broken (unbalanced quotes, brackets or comments).
 */
int	hdr_addrlist(const char *v, size_t len,
	    void (*fn)(const char *addr, void *arg), void *arg);

#endif
