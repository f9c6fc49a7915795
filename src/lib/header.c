/*
 * Header parsing for local submissions.  The message comes from a local
 * user, who is no more trusted than the network: bounded, pure.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "header.h"

int
hdr_next(const char *buf, size_t len, size_t *off, struct hdr_field *f)
{
	size_t	p = *off, i, eol;

	if (p >= len)
		return 0;
	if (buf[p] == '\n') {
		*off = p + 1;
		return 0;
	}
	for (i = p; i < len && buf[i] != ':' && buf[i] != '\n'; i++)
		if (buf[i] <= ' ' || buf[i] > '~')	/* RFC 5322 2.2 ftext */
			return -1;
	if (i == p || i >= len || buf[i] != ':')
		return -1;
	f->name = buf + p;
	f->namelen = i - p;
	f->value = buf + i + 1;
	f->start = p;
	for (eol = i; ; ) {
		const char *nl = memchr(buf + eol, '\n', len - eol);

		eol = nl ? (size_t)(nl - buf) + 1 : len;
		if (eol >= len || (buf[eol] != ' ' && buf[eol] != '\t'))
			break;
	}
	f->end = eol;
	f->valuelen = eol - (i + 1);
	*off = eol;
	return 1;
}

int
hdr_is(const struct hdr_field *f, const char *name)
{
	return strlen(name) == f->namelen &&
	    strncasecmp(f->name, name, f->namelen) == 0;
}

struct hdr_acc {
	char	 text[ADDR_MAX + 3];	/* outside <> */
	char	 angle[ADDR_MAX + 3];	/* inside <> */
	size_t	 tl, al;
	int	 toolong;
};

static void
hdr_put(struct hdr_acc *a, int in_angle, char c)
{
	char	*b = in_angle ? a->angle : a->text;
	size_t	*l = in_angle ? &a->al : &a->tl;

	if (*l + 1 >= sizeof(a->text)) {
		a->toolong = 1;
		return;
	}
	b[(*l)++] = c;
	b[*l] = '\0';
}

/* Ends one address: calls fn with it when there is one. */
static int
hdr_emit(struct hdr_acc *a, void (*fn)(const char *, void *), void *arg,
    int *n)
{
	const char	*s = a->al > 0 ? a->angle : a->text;
	const char	*colon;

	if (a->al > 0 && a->angle[0] == '@' &&
	    (colon = strchr(a->angle, ':')) != NULL)
		s = colon + 1;		/* a source route: dropped */
	if (*s != '\0' && !a->toolong && *n < HDR_ADDRMAX) {
		fn(s, arg);
		(*n)++;
	}
	memset(a, 0, sizeof(*a));
	return 0;
}

int
hdr_addrlist(const char *v, size_t len, void (*fn)(const char *, void *),
    void *arg)
{
	struct hdr_acc	a;
	size_t		i;
	int		n = 0, angle = 0, comment = 0, quote = 0, group = 0;
	char		c;

	memset(&a, 0, sizeof(a));
	for (i = 0; i < len; i++) {
		c = v[i];
		if (comment) {
			if (c == '\\')
				i++;
			else if (c == '(')
				comment++;
			else if (c == ')')
				comment--;
			continue;
		}
		if (quote) {
			if (c == '\\' && i + 1 < len) {
				hdr_put(&a, angle, c);
				c = v[++i];
			} else if (c == '"')
				quote = 0;
			if (c != '\n' && c != '\r')
				hdr_put(&a, angle, c);
			continue;
		}
		switch (c) {
		case '(':
			comment = 1;
			break;
		case '"':
			quote = 1;
			hdr_put(&a, angle, c);
			break;
		case '<':
			if (angle)
				return -1;
			angle = 1;
			a.al = 0;
			break;
		case '>':
			if (!angle)
				return -1;
			angle = 0;
			break;
		case ':':
			if (angle) {
				hdr_put(&a, 1, c);
				break;
			}
			group = 1;	/* "name:" starts a group */
			memset(&a, 0, sizeof(a));
			break;
		case ';':
			if (!group || angle)
				return -1;
			group = 0;
			/* FALLTHROUGH */
		case ',':
			if (angle)
				return -1;
			hdr_emit(&a, fn, arg, &n);
			break;
		case ' ': case '\t': case '\n': case '\r':
			break;
		default:
			hdr_put(&a, angle, c);
		}
	}
	if (comment || quote || angle)
		return -1;
	hdr_emit(&a, fn, arg, &n);
	return n;
}
