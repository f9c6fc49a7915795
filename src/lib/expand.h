/*
 * The right-hand side of an aliases entry or a .forward file: items
 * separated by commas, each a user, an address, "|program", "/file",
 * ":include:/path" or "\user"; double quotes keep commas inside an item.
 */
#ifndef EXPAND_H
#define EXPAND_H

#include <stddef.h>

enum expand_kind { E_ADDR, E_PROG, E_FILE, E_INCLUDE, E_NOFORWARD };

/*
 * Takes the next item of v[*off .. len) into item (unquoted, trimmed).
 * Returns 1 with *kind set, 0 at the end, -1 on an unterminated quote or
 * an item longer than itemlen - 1 (*off moves past it either way).
 */
int	expand_next(const char *v, size_t len, size_t *off, char *item,
	    size_t itemlen, enum expand_kind *kind);

#endif
