/*
 * Fuzz target for relay_list_match() (src/lib/relay.c): the input is a
 * relay-domains or local-host-names file, matched for RELAY_DOMAIN,
 * RELAY_IP and RELAY_EXACT against fixed subjects and against the input's
 * first line.  A list matches exactly when one of its lines does; for
 * clean entries the answer is checked against a model of the documented
 * syntax ("example.com", ".example.com", "10.2", "10.2.0.0/16").
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <strings.h>

#include "relay.h"
#include "fuzz.h"

static const char *const subjects[] = {
	"mail.example.com", "EXAMPLE.COM.", "", "10.2.3.4", "2001:db8::1",
	"127.0.0.1"
};

/* Domain model: e matches d itself and below; ".e" only below. */
static int
model_domain(const char *e, size_t el, const char *d)
{
	size_t	dl = strlen(d);

	while (dl > 0 && d[dl - 1] == '.')
		dl--;
	if (el == 0 || dl == 0)
		return 0;
	if (e[0] == '.')
		return dl > el && strncasecmp(d + dl - el, e, el) == 0;
	if (dl == el)
		return strncasecmp(d, e, el) == 0;
	return dl > el && d[dl - el - 1] == '.' &&
	    strncasecmp(d + dl - el, e, el) == 0;
}

/* CIDR model: "addr/bits" with bits all digits; -1 if e is not one. */
static int
model_cidr(const char *e, size_t el, const char *ip)
{
	unsigned char	 ea[16], ia[16];
	char		 a[64];
	const char	*slash;
	size_t		 al, i;
	int		 bits = 0, af, max;

	if ((slash = memchr(e, '/', el)) == NULL)
		return -1;
	al = (size_t)(slash - e);
	if (al >= sizeof(a) || slash + 1 == e + el || el - al - 1 > 3)
		return -1;
	for (i = al + 1; i < el; i++) {
		if (!isdigit((unsigned char)e[i]))
			return -1;
		bits = bits * 10 + (e[i] - '0');
	}
	memcpy(a, e, al);
	a[al] = '\0';
	af = strchr(a, ':') ? AF_INET6 : AF_INET;
	max = af == AF_INET ? 32 : 128;
	if (bits > max || inet_pton(af, a, ea) != 1 ||
	    inet_pton(af, ip, ia) != 1)
		return 0;
	for (i = 0; i < (size_t)bits; i++)
		if (((ea[i / 8] ^ ia[i / 8]) >> (7 - i % 8)) & 1)
			return 0;
	return 1;
}

/* One entry of a list (the first word of a line), or NULL. */
static const char *
entry(const char *line, size_t len, size_t *el)
{
	size_t	a, b;

	for (a = 0; a < len && isspace((unsigned char)line[a]); a++)
		;
	for (b = a; b < len && !isspace((unsigned char)line[b]) &&
	    line[b] != '#'; b++)
		;
	if (b == a || line[a] == '#')
		return NULL;
	*el = b - a;
	return line + a;
}

static void
check_subject(const char *buf, size_t size, const char *s)
{
	static const int	 whats[] = { RELAY_DOMAIN, RELAY_IP,
	    RELAY_EXACT };
	const char		*nl, *e;
	char			*line;
	size_t			 off, len, el, w;
	int			 r, any, m, lr;

	for (w = 0; w < sizeof(whats) / sizeof(whats[0]); w++) {
		r = relay_list_match(buf, size, whats[w], s);
		FUZZ_CHECK(r == 0 || r == 1);
		any = 0;
		for (off = 0; off < size; off += len + 1) {
			nl = memchr(buf + off, '\n', size - off);
			len = nl ? (size_t)(nl - (buf + off)) : size - off;
			line = fuzz_exact(len);
			memcpy(line, buf + off, len);
			lr = relay_list_match(line, len, whats[w], s);
			any |= lr;
			if ((e = entry(line, len, &el)) != NULL &&
			    memchr(e, '\0', el) == NULL) {
				m = -1;
				if (whats[w] == RELAY_EXACT)
					m = strlen(s) == el &&
					    strncasecmp(e, s, el) == 0;
				else if (whats[w] == RELAY_DOMAIN)
					m = model_domain(e, el, s);
				else
					m = model_cidr(e, el, s);
				if (m != -1)
					FUZZ_CHECK(lr == m);
			} else if (e == NULL)
				FUZZ_CHECK(lr == 0);
			free(line);
		}
		FUZZ_CHECK(r == any);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*buf = (const char *)data, *nl;
	char		*first;
	size_t		 i, fl;

	for (i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++)
		check_subject(buf, size, subjects[i]);
	nl = memchr(buf, '\n', size);
	fl = nl != NULL ? (size_t)(nl - buf) : size;
	first = fuzz_strndup(data, fl > 300 ? 300 : fl);
	check_subject(buf, size, first);
	free(first);
	return 0;
}
