/*
 * Aliases parsing.  The file is the administrator's, the names looked up
 * are the peer's: the parser is pure and bounded by len.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "aliases.h"

/* End of the line starting at p: the LF or end. */
static size_t
aliases_eol(const char *buf, size_t len, size_t p)
{
	const char *nl = memchr(buf + p, '\n', len - p);

	return nl ? (size_t)(nl - buf) : len;
}

int
aliases_next(const char *buf, size_t len, size_t *off, int *lineno,
    struct alias_entry *e, const char **errstr)
{
	size_t	p = *off, eol, i;

	for (;;) {
		if (p >= len)
			return 0;
		eol = aliases_eol(buf, len, p);
		for (i = p; i < eol && (buf[i] == ' ' || buf[i] == '\t' ||
		    buf[i] == '\r'); i++)
			;
		if (i < eol && buf[i] != '#' && i == p)
			break;
		if (i < eol && buf[i] != '#') {
			e->lineno = *lineno;
			*errstr = "continuation line without an alias";
			*off = eol + 1;
			(*lineno)++;
			return -1;
		}
		p = eol + 1;
		(*lineno)++;
	}
	e->lineno = *lineno;
	e->name = buf + p;
	if (buf[p] == '"') {
		for (i = p + 1; i < eol && buf[i] != '"'; i++)
			;
		i = i < eol ? i + 1 : i;
	} else
		for (i = p; i < eol && buf[i] != ':' && buf[i] != ' ' &&
		    buf[i] != '\t'; i++)
			;
	e->namelen = i - p;
	while (i < eol && (buf[i] == ' ' || buf[i] == '\t'))
		i++;
	if (i >= eol || buf[i] != ':' || e->namelen == 0) {
		*errstr = "missing colon after the alias name";
		*off = eol + 1;
		(*lineno)++;
		return -1;
	}
	e->value = buf + i + 1;
	/* take continuation lines, skipping comment lines among them */
	for (;;) {
		(*lineno)++;
		p = eol + 1;
		if (p >= len || (buf[p] != ' ' && buf[p] != '\t' &&
		    buf[p] != '#'))
			break;
		eol = aliases_eol(buf, len, p);
	}
	e->valuelen = (size_t)((eol < len ? eol : len) - (size_t)(e->value - buf));
	*off = p;
	return 1;
}

int
aliases_slurp(const char *path, size_t max, char **buf, size_t *len)
{
	struct stat	 st;
	ssize_t		 n;
	size_t		 got = 0;
	int		 fd;

	*buf = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > max) {
		if (S_ISREG(st.st_mode))
			errno = EFBIG;
		else if (errno == 0)
			errno = EINVAL;
		close(fd);
		return -1;
	}
	if ((*buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, *buf + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	(*buf)[got] = '\0';
	*len = got;
	return 0;
}

int
aliases_lookup(const char *path, const char *name, char **value)
{
	struct alias_entry	 e;
	const char		*errstr;
	char			*buf;
	size_t			 len, off = 0, nl = strlen(name);
	int			 lineno = 1, r, found = 0;

	if (value != NULL)
		*value = NULL;
	if (path[0] == '\0')
		return 0;
	if (aliases_slurp(path, ALIASES_FILEMAX, &buf, &len) == -1)
		return errno == ENOENT ? 0 : -1;
	while ((r = aliases_next(buf, len, &off, &lineno, &e, &errstr)) != 0) {
		if (r != 1 || e.namelen != nl ||
		    strncasecmp(e.name, name, nl) != 0)
			continue;
		found = 1;
		if (value != NULL) {
			if ((*value = malloc(e.valuelen + 1)) == NULL)
				found = -1;
			else {
				memcpy(*value, e.value, e.valuelen);
				(*value)[e.valuelen] = '\0';
			}
		}
		break;
	}
	free(buf);
	return found;
}

int
aliases_exists(const char *path, const char *name)
{
	return aliases_lookup(path, name, NULL);
}
