/*
 * Matching against relay-domains and local-host-names.  The lists are the
 * administrator's; the names and addresses matched come from peers.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aliases.h"
#include "conf.h"
#include "relay.h"

int
relay_domain_match(const char *entry, size_t elen, const char *domain)
{
	size_t	dlen = strlen(domain);

	while (dlen > 0 && domain[dlen - 1] == '.')
		dlen--;			/* a trailing root dot */
	if (elen == 0 || dlen == 0)
		return 0;
	if (entry[0] == '.')		/* subdomains only */
		return dlen > elen &&
		    strncasecmp(domain + dlen - elen, entry, elen) == 0;
	if (dlen == elen)
		return strncasecmp(domain, entry, elen) == 0;
	return dlen > elen && domain[dlen - elen - 1] == '.' &&
	    strncasecmp(domain + dlen - elen, entry, elen) == 0;
}

/* Compares the first bits of two addresses of the same family. */
static int
relay_prefix(const unsigned char *a, const unsigned char *b, int bits)
{
	int	full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[full] ^ b[full]) & (0xff << (8 - rest))) == 0;
}

int
relay_ip_match(const char *entry, size_t elen, const char *ip)
{
	unsigned char	 ea[16], ia[16];
	char		 e[64], *slash, *end;
	size_t		 iplen = strlen(ip);
	long		 bits;
	int		 af;

	if (elen == 0 || elen >= sizeof(e))
		return 0;
	memcpy(e, entry, elen);
	e[elen] = '\0';
	if ((slash = strchr(e, '/')) != NULL) {
		*slash++ = '\0';
		bits = strtol(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || bits < 0)
			return 0;
		af = strchr(e, ':') ? AF_INET6 : AF_INET;
		if (bits > (af == AF_INET ? 32 : 128) ||
		    inet_pton(af, e, ea) != 1 || inet_pton(af, ip, ia) != 1)
			return 0;
		return relay_prefix(ea, ia, (int)bits);
	}
	/* sendmail's form: a prefix of whole dotted (or coloned) parts */
	if (strspn(e, "0123456789.") != elen &&
	    strspn(e, "0123456789abcdefABCDEF:") != elen)
		return 0;
	if (iplen < elen || strncasecmp(ip, e, elen) != 0)
		return 0;
	return iplen == elen || ip[elen] == '.' || ip[elen] == ':' ||
	    e[elen - 1] == '.' || e[elen - 1] == ':';
}

int
relay_list_match(const char *buf, size_t len, int what, const char *s)
{
	size_t	p = 0, eol, a, b;

	while (p < len) {
		const char *nl = memchr(buf + p, '\n', len - p);
		eol = nl ? (size_t)(nl - buf) : len;
		for (a = p; a < eol && isspace((unsigned char)buf[a]); a++)
			;
		for (b = a; b < eol && !isspace((unsigned char)buf[b]) &&
		    buf[b] != '#'; b++)
			;
		if (b > a && buf[a] != '#') {
			if (what == RELAY_IP) {
				if (relay_ip_match(buf + a, b - a, s))
					return 1;
			} else if (what == RELAY_EXACT) {
				if (strlen(s) == b - a &&
				    strncasecmp(buf + a, s, b - a) == 0)
					return 1;
			} else if (relay_domain_match(buf + a, b - a, s))
				return 1;
		}
		p = eol + 1;
	}
	return 0;
}

int
relay_file_match(const char *path, int what, const char *s)
{
	char	*buf;
	size_t	 len;
	int	 r;

	if (path[0] == '\0')
		return 0;
	if (aliases_slurp(path, RELAY_FILEMAX, &buf, &len) == -1)
		return errno == ENOENT ? 0 : -1;
	r = relay_list_match(buf, len, what, s);
	free(buf);
	return r;
}

int
relay_local_domain(const struct conf *c, const char *domain)
{
	if (strcasecmp(domain, c->hostname) == 0 ||
	    strcasecmp(domain, "localhost") == 0 ||
	    strcmp(domain, "[127.0.0.1]") == 0 ||
	    strcasecmp(domain, "[IPv6:::1]") == 0)
		return 1;
	return relay_file_match(c->local_host_names, RELAY_EXACT, domain);
}
