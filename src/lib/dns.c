/*
 * DNS lookups.  Answers come from the network: they are parsed with the
 * resolver's own ns_* functions, every name bounded by dn_expand.
 */
#include "config.h"

#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "dns.h"

#define DNS_ANSMAX	8192

static int	dns_ready;

int
dns_init(const char *spec)
{
	char		 host[64], *colon;
	struct in_addr	 a;
	long		 port = 53;

	if (res_init() == -1)
		return -1;
	_res.options &= ~(RES_DEFNAMES | RES_DNSRCH);
	dns_ready = 1;
	if (spec == NULL || spec[0] == '\0')
		return 0;
	if (strlcpy(host, spec, sizeof(host)) >= sizeof(host))
		return -1;
	if ((colon = strchr(host, ':')) != NULL) {
		*colon++ = '\0';
		port = strtol(colon, NULL, 10);
		if (port <= 0 || port > 65535 ||
		    strspn(colon, "0123456789") != strlen(colon))
			return -1;
	}
	if (inet_pton(AF_INET, host, &a) != 1)
		return -1;
	memset(&_res.nsaddr_list[0], 0, sizeof(_res.nsaddr_list[0]));
	_res.nsaddr_list[0].sin_family = AF_INET;
	_res.nsaddr_list[0].sin_addr = a;
	_res.nsaddr_list[0].sin_port = htons((unsigned short)port);
	_res.nscount = 1;
	_res.retrans = 2;
	_res.retry = 2;
	return 0;
}

/*
 * Runs one query and calls fn for every answer record of type.  Returns
 * the number of records fn accepted, 0 for none (or NXDOMAIN), -1 on a
 * temporary failure.
 */
static int
dns_query(const char *name, int type,
    int (*fn)(ns_msg *, ns_rr *, void *), void *arg)
{
	unsigned char	 ans[DNS_ANSMAX];
	ns_msg		 msg;
	ns_rr		 rr;
	int		 n, i, count, got = 0;

	if (!dns_ready && dns_init(NULL) == -1)
		return -1;
	h_errno = 0;
	n = res_query(name, ns_c_in, type, ans, sizeof(ans));
	if (n < 0)
		return h_errno == HOST_NOT_FOUND || h_errno == NO_DATA ? 0 : -1;
	if (n > (int)sizeof(ans) || ns_initparse(ans, n, &msg) == -1)
		return -1;
	count = ns_msg_count(msg, ns_s_an);
	for (i = 0; i < count; i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) == -1)
			return -1;
		if ((int)ns_rr_type(rr) == type && fn(&msg, &rr, arg) == 1)
			got++;
	}
	return got;
}

struct dns_ptrs {
	char	(*names)[DNS_NAMEMAX];
	int	 n, max;
};

static int
dns_ptr_rr(ns_msg *msg, ns_rr *rr, void *arg)
{
	struct dns_ptrs	*p = arg;

	if (p->n >= p->max)
		return 0;
	if (dn_expand(ns_msg_base(*msg), ns_msg_end(*msg), ns_rr_rdata(*rr),
	    p->names[p->n], DNS_NAMEMAX) < 0)
		return 0;
	p->n++;
	return 1;
}

/* Builds the in-addr.arpa or ip6.arpa name of a textual address. */
static int
dns_revname(const char *ip, char *out, size_t outlen, int *af)
{
	unsigned char	a[16];
	size_t		o = 0;
	int		i, n;

	if (inet_pton(AF_INET, ip, a) == 1) {
		*af = AF_INET;
		n = snprintf(out, outlen, "%u.%u.%u.%u.in-addr.arpa",
		    a[3], a[2], a[1], a[0]);
		return n < 0 || (size_t)n >= outlen ? -1 : 0;
	}
	if (inet_pton(AF_INET6, ip, a) != 1 || outlen < 74)
		return -1;
	*af = AF_INET6;
	for (i = 15; i >= 0; i--) {
		n = snprintf(out + o, outlen - o, "%x.%x.", a[i] & 15, a[i] >> 4);
		o += (size_t)n;
	}
	strlcpy(out + o, "ip6.arpa", outlen - o);
	return 0;
}

int
dns_ptr(const char *ip, char names[][DNS_NAMEMAX], int max)
{
	struct dns_ptrs	p = { names, 0, max };
	char		rev[80];
	int		af;

	if (dns_revname(ip, rev, sizeof(rev), &af) == -1)
		return 0;
	if (dns_query(rev, ns_t_ptr, dns_ptr_rr, &p) == -1)
		return -1;
	return p.n;
}

struct dns_match {
	unsigned char	addr[16];
	size_t		len;
};

static int
dns_addr_rr(ns_msg *msg, ns_rr *rr, void *arg)
{
	struct dns_match *m = arg;

	(void)msg;
	return ns_rr_rdlen(*rr) == m->len &&
	    memcmp(ns_rr_rdata(*rr), m->addr, m->len) == 0;
}

int
dns_has_addr(const char *name, const char *ip)
{
	struct dns_match	m;
	int			type, r;

	if (inet_pton(AF_INET, ip, m.addr) == 1) {
		m.len = 4;
		type = ns_t_a;
	} else if (inet_pton(AF_INET6, ip, m.addr) == 1) {
		m.len = 16;
		type = ns_t_aaaa;
	} else
		return 0;
	if ((r = dns_query(name, type, dns_addr_rr, &m)) <= 0)
		return r;
	return 1;
}

int
dns_fcrdns(const char *ip, char *name, size_t namelen)
{
	char	names[DNS_PTRMAX][DNS_NAMEMAX];
	int	n, i, r, tempfail = 0;

	if ((n = dns_ptr(ip, names, DNS_PTRMAX)) <= 0)
		return n;
	for (i = 0; i < n; i++) {
		if ((r = dns_has_addr(names[i], ip)) == 1) {
			strlcpy(name, names[i], namelen);
			return 1;
		}
		if (r == -1)
			tempfail = 1;
	}
	return tempfail ? -1 : 0;
}
