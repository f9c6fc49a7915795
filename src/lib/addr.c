/*
 * Address parsing.  All input is hostile: every function here is pure,
 * bounded by its len argument, and allocates nothing.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

/* RFC 5322 atext */
static int
addr_atext(unsigned char c, int utf8)
{
	if (c >= 0x80)
		return utf8;
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c)
	    != NULL);
}

/*
 * Length of a valid UTF-8 sequence at p, or 0.  Overlong forms, surrogates
 * and code points past U+10FFFF are refused (RFC 3629).
 */
static size_t
addr_utf8(const unsigned char *p, size_t len)
{
	size_t	 n, i;
	unsigned v;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2; v = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3; v = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4; v = p[0] & 0x07;
	} else
		return 0;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) ||
	    (n == 4 && (v < 0x10000 || v > 0x10ffff)))
		return 0;
	return n;
}

int
addr_domain_ok(const char *d, size_t len, int utf8)
{
	const unsigned char	*p = (const unsigned char *)d;
	size_t			 i, label = 0, n;

	if (len == 0 || len > ADDR_DOMAINMAX)
		return 0;
	for (i = 0; i < len; i += n) {
		n = 1;
		if (p[i] == '.') {
			if (label == 0 || p[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (p[i] >= 0x80) {
			if (!utf8 || (n = addr_utf8(p + i, len - i)) == 0)
				return 0;
		} else if (p[i] == '-') {
			if (label == 0)
				return 0;
		} else if (!isalnum(p[i]))
			return 0;
		label += n;
		if (label > 63)		/* RFC 1035 2.3.4 */
			return 0;
	}
	return label > 0 && p[len - 1] != '-';
}

/* An address literal [1.2.3.4], [IPv6:...] or [tag:text] (RFC 5321 4.1.3). */
static int
addr_literal_ok(const char *d, size_t len)
{
	char		tmp[ADDR_DOMAINMAX + 1];
	unsigned char	bin[16];
	size_t		i;

	if (len < 3 || d[0] != '[' || d[len - 1] != ']' || len > sizeof(tmp))
		return 0;
	if (memchr(d, '\0', len) != NULL)
		return 0;		/* inet_pton() would stop at it */
	memcpy(tmp, d + 1, len - 2);
	tmp[len - 2] = '\0';
	if (strncasecmp(tmp, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, tmp + 5, bin) == 1;
	if (inet_pton(AF_INET, tmp, bin) == 1)
		return 1;
	/* General-address-literal: Standardized-tag ":" 1*dcontent */
	for (i = 0; tmp[i] != '\0' && tmp[i] != ':'; i++)
		if (!isalnum((unsigned char)tmp[i]) && tmp[i] != '-')
			return 0;
	if (i == 0 || tmp[i] != ':' || tmp[i + 1] == '\0')
		return 0;
	for (i++; tmp[i] != '\0'; i++)
		if (tmp[i] < 33 || tmp[i] > 126 || tmp[i] == '[' ||
		    tmp[i] == ']' || tmp[i] == '\\')
			return 0;
	return 0;	/* no standardized tag other than IPv6 is defined */
}

/* Parses a local part at p; returns its length or 0 on error. */
static size_t
addr_local(const unsigned char *p, size_t len, int utf8, int *nonascii)
{
	size_t	i = 0, n;

	if (len > 0 && p[0] == '"') {
		for (i = 1; i < len && p[i] != '"'; i += n) {
			n = 1;
			if (p[i] == '\\') {
				if (i + 1 >= len || p[i + 1] < 32 ||
				    p[i + 1] > 126)
					return 0;
				n = 2;
			} else if (p[i] >= 0x80) {
				if (!utf8 || (n = addr_utf8(p + i, len - i))
				    == 0)
					return 0;
				*nonascii = 1;
			} else if (p[i] < 32 || p[i] == 127)
				return 0;
		}
		return i < len ? i + 1 : 0;
	}
	for (i = 0; i < len; i += n) {
		n = 1;
		if (p[i] == '.') {
			if (i == 0 || p[i - 1] == '.')
				return 0;
		} else if (p[i] >= 0x80) {
			if (!utf8 || (n = addr_utf8(p + i, len - i)) == 0)
				return 0;
			*nonascii = 1;
		} else if (!addr_atext(p[i], utf8))
			break;
	}
	if (i == 0 || p[i - 1] == '.')
		return 0;
	return i;
}

/*
 * Skips a source route "@a,@b:" (RFC 5321 4.1.2: accepted, ignored), each
 * At-domain checked.  Returns its length, or 0 if there is none or it is
 * malformed (then the '@' fails as a local part).
 */
static size_t
addr_route(const char *p, size_t len, int utf8)
{
	size_t	i = 0, s;

	while (i < len && p[i] == '@') {
		for (s = ++i; i < len && p[i] != ',' && p[i] != ':' &&
		    p[i] != '>'; i++)
			;
		if (i == len || p[i] == '>' ||
		    (!addr_domain_ok(p + s, i - s, utf8) &&
		    !addr_literal_ok(p + s, i - s)))
			return 0;
		if (p[i++] == ':')
			return i;
	}
	return 0;
}

int
addr_parse(const char *p, size_t len, int flags, struct addr *a,
    size_t *used, const char **errstr)
{
	const unsigned char	*u = (const unsigned char *)p;
	size_t			 i = 0, start, n, dstart;
	int			 bracket = 0, utf8 = flags & ADDR_F_UTF8;

	memset(a, 0, sizeof(*a));
	*errstr = "501 5.1.3 Bad address syntax";
	while (i < len && p[i] == ' ')
		i++;
	if (i < len && p[i] == '<') {
		bracket = 1;
		i++;
		if (i < len && p[i] == '>') {
			if (i + 1 < len && p[i + 1] != ' ')
				return -1;	/* as for any path below */
			a->null = 1;
			*used = i + 1;
			return 0;
		}
		i += addr_route(p + i, len - i, utf8);
	} else if (!(flags & ADDR_F_RELAXED)) {
		*errstr = "501 5.5.4 Address must be in angle brackets";
		return -1;
	}
	start = i;
	if ((n = addr_local(u + i, len - i, utf8, &a->utf8)) == 0) {
		if (!utf8 && i < len && u[i] >= 0x80)
			*errstr = "553 5.6.7 Non-ASCII address requires SMTPUTF8";
		return -1;
	}
	if (n > ADDR_LOCALMAX) {
		*errstr = "501 5.1.3 Local part too long";
		return -1;
	}
	memcpy(a->local, p + start, n);
	a->local[n] = '\0';
	i += n;
	if (i < len && p[i] == '@') {
		dstart = ++i;
		if (i < len && p[i] == '[') {
			while (i < len && p[i] != ']')
				i++;
			if (i < len)
				i++;
			if (!addr_literal_ok(p + dstart, i - dstart))
				return -1;
		} else {
			while (i < len && (u[i] >= 0x80 || isalnum(u[i]) ||
			    p[i] == '-' || p[i] == '.'))
				i++;
			if (!addr_domain_ok(p + dstart, i - dstart, utf8)) {
				if (!utf8 && i > dstart && u[dstart] >= 0x80)
					*errstr = "553 5.6.7 Non-ASCII address "
					    "requires SMTPUTF8";
				return -1;
			}
			for (n = dstart; n < i; n++)
				if (u[n] >= 0x80)
					a->utf8 = 1;
		}
		if (i - dstart > ADDR_DOMAINMAX)
			return -1;
		memcpy(a->domain, p + dstart, i - dstart);
		a->domain[i - dstart] = '\0';
	} else if (!(flags & ADDR_F_RELAXED) &&
	    strcasecmp(a->local, "postmaster") != 0) {
		*errstr = "501 5.1.3 Address needs a domain";
		return -1;
	}
	if (bracket) {
		if (i >= len || p[i] != '>')
			return -1;
		i++;
	}
	if (i < len && p[i] != ' ')
		return -1;
	*used = i;
	return 0;
}

int
addr_format(const struct addr *a, char *out, size_t outlen)
{
	int	n;

	if (a->null)
		n = snprintf(out, outlen, "%s", "");
	else if (a->domain[0] == '\0')
		n = snprintf(out, outlen, "%s", a->local);
	else
		n = snprintf(out, outlen, "%s@%s", a->local, a->domain);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return n;
}

int
addr_unquote(const char *local, char *out, size_t outlen)
{
	size_t	i, o = 0, len = strlen(local);

	if (outlen == 0)
		return -1;
	if (len < 2 || local[0] != '"') {
		if (len >= outlen)
			return -1;
		memcpy(out, local, len + 1);
		return 0;
	}
	for (i = 1; i + 1 < len; i++) {
		if (local[i] == '\\' && i + 2 < len)
			i++;
		if (o + 1 >= outlen)
			return -1;
		out[o++] = local[i];
	}
	out[o] = '\0';
	return 0;
}
