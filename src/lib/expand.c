/*
 * Splitting alias and .forward values.  The text comes from the
 * administrator or a user's .forward: pure, bounded by len.
 */
#include "config.h"

#include <string.h>

#include "expand.h"

static int
expand_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int
expand_next(const char *v, size_t len, size_t *off, char *item,
    size_t itemlen, enum expand_kind *kind)
{
	size_t	i = *off, o = 0;
	int	quoted = 0, bad = 0;

	for (;;) {			/* skip separators and comment lines */
		while (i < len && (expand_space(v[i]) || v[i] == ','))
			i++;
		if (i < len && v[i] == '#' && (i == 0 || v[i - 1] == '\n')) {
			while (i < len && v[i] != '\n')
				i++;
			continue;
		}
		break;
	}
	if (i >= len) {
		*off = i;
		return 0;
	}
	for (; i < len; i++) {
		if (v[i] == '"') {
			quoted = !quoted;
			continue;
		}
		if (!quoted && (v[i] == ',' || v[i] == '\n'))
			break;		/* one item a line in .forward files */
		if (v[i] == '\0' || o + 1 >= itemlen) {
			bad = 1;
			continue;
		}
		item[o++] = v[i];
	}
	*off = i;
	while (o > 0 && expand_space(item[o - 1]))
		o--;
	item[o] = '\0';
	if (quoted || bad || o == 0)
		return -1;
	if (item[0] == '|')
		*kind = E_PROG;
	else if (item[0] == '/')
		*kind = E_FILE;
	else if (strncmp(item, ":include:", 9) == 0)
		*kind = E_INCLUDE;
	else if (item[0] == '\\')
		*kind = E_NOFORWARD;
	else
		*kind = E_ADDR;
	return 1;
}
