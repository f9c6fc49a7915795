/*
 * The aliases file in sendmail's syntax: "name: value, value", '#'
 * comments, lines starting with white space continue the one before.
 */
#ifndef ALIASES_H
#define ALIASES_H

#include <stddef.h>

#define ALIASES_FILEMAX	(16 * 1024 * 1024)

struct alias_entry {
	const char	*name;		/* points into the buffer */
	size_t		 namelen;
	const char	*value;		/* raw, continuation lines included */
	size_t		 valuelen;
	int		 lineno;	/* line the entry starts on */
};

/*
 * Parses the entry at buf[*off] onwards, skipping blank and comment lines.
 * Returns 1 with e filled and *off past the entry, 0 at the end, or -1 with
 * *errstr (e->lineno names the line) and *off past the bad line.  *lineno
 * counts lines and must start at 1.
 */
int	aliases_next(const char *buf, size_t len, size_t *off, int *lineno,
	    struct alias_entry *e, const char **errstr);
/*
 * Looks name up (case-insensitively) in the aliases file at path.  Returns
 * 1 if present, 0 if not (or the file does not exist), -1 if unreadable.
 */
int	aliases_exists(const char *path, const char *name);
/*
 * Looks name up (case-insensitively) and copies its value (malloc'd,
 * NUL-terminated) to *value.  Returns 1 if found, 0 if not, -1 if the
 * file cannot be read.
 */
int	aliases_lookup(const char *path, const char *name, char **value);
/* Reads a whole file of at most max bytes into a malloc'd buffer. */
int	aliases_slurp(const char *path, size_t max, char **buf, size_t *len);

#endif
