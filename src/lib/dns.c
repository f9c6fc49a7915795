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
 * Calls fn for every answer record of type in the answer ans (n bytes).
 * Returns the number of records fn accepted, or -1 if it does not parse.
 */
static int
dns_parse(const unsigned char *ans, int n, int type,
    int (*fn)(ns_msg *, ns_rr *, void *), void *arg)
{
	ns_msg		 msg;
	ns_rr		 rr;
	int		 i, count, got = 0;

	if (n < 0 || ns_initparse(ans, n, &msg) == -1)
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
	int		 n;

	if (!dns_ready && dns_init(NULL) == -1)
		return -1;
	h_errno = 0;
	n = res_query(name, ns_c_in, type, ans, sizeof(ans));
	if (n < 0)
		return h_errno == HOST_NOT_FOUND || h_errno == NO_DATA ? 0 : -1;
	if (n > (int)sizeof(ans))
		return -1;
	return dns_parse(ans, n, type, fn, arg);
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

struct dns_mxs {
	struct dns_mx	*mx;
	int		 n, max, null, bad;
};

static int
dns_mx_rr(ns_msg *msg, ns_rr *rr, void *arg)
{
	struct dns_mxs	*p = arg;
	const u_char	*rd = ns_rr_rdata(*rr);
	char		 name[DNS_NAMEMAX];

	if (ns_rr_rdlen(*rr) < 3 || dn_expand(ns_msg_base(*msg),
	    ns_msg_end(*msg), rd + 2, name, sizeof(name)) < 0) {
		p->bad++;
		return 0;
	}
	if (name[0] == '\0' || strcmp(name, ".") == 0) {
		p->null = 1;		/* RFC 7505 */
		return 1;
	}
	if (p->n >= p->max)
		return 0;
	p->mx[p->n].pref = ns_get16(rd);
	strlcpy(p->mx[p->n].name, name, sizeof(p->mx[p->n].name));
	p->n++;
	return 1;
}

/* Sorts by preference (insertion sort: at most DNS_MXMAX) and shuffles ties. */
static void
dns_mx_sort(struct dns_mx *mx, int n)
{
	struct dns_mx	t;
	int		i, j, k;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && mx[j - 1].pref > mx[j].pref; j--) {
			t = mx[j];
			mx[j] = mx[j - 1];
			mx[j - 1] = t;
		}
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && mx[j].pref == mx[i].pref; j++)
			;
		for (k = j - 1; k > i; k--) {
			int r = i + (int)(arc4random_uniform((uint32_t)(k - i + 1)));

			t = mx[k];
			mx[k] = mx[r];
			mx[r] = t;
		}
	}
}

int
dns_mx_parse(const unsigned char *ans, int len, struct dns_mx *mx, int max)
{
	struct dns_mxs	p = { mx, 0, max, 0, 0 };

	if (dns_parse(ans, len, ns_t_mx, dns_mx_rr, &p) == -1)
		return -1;
	if (p.null)
		return DNS_NULLMX;
	if (p.n == 0 && p.bad > 0)
		return -1;	/* MX records we cannot read: not "no MX" */
	dns_mx_sort(mx, p.n);
	return p.n;
}

int
dns_mx(const char *domain, struct dns_mx *mx, int max)
{
	unsigned char	 ans[DNS_ANSMAX];
	int		 n;

	if (!dns_ready && dns_init(NULL) == -1)
		return -1;
	h_errno = 0;
	n = res_query(domain, ns_c_in, ns_t_mx, ans, sizeof(ans));
	if (n < 0)
		return h_errno == HOST_NOT_FOUND || h_errno == NO_DATA ? 0 : -1;
	if (n > (int)sizeof(ans))
		return -1;
	return dns_mx_parse(ans, n, mx, max);
}

struct dns_addrlist {
	struct sockaddr_storage	*out;
	int			 n, max, port;
};

static int
dns_addr_add(ns_msg *msg, ns_rr *rr, void *arg)
{
	struct dns_addrlist	*p = arg;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;

	(void)msg;
	if (p->n >= p->max)
		return 0;
	memset(&p->out[p->n], 0, sizeof(p->out[p->n]));
	if (ns_rr_type(*rr) == ns_t_a && ns_rr_rdlen(*rr) == 4) {
		sin = (struct sockaddr_in *)&p->out[p->n];
		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)p->port);
		memcpy(&sin->sin_addr, ns_rr_rdata(*rr), 4);
	} else if (ns_rr_type(*rr) == ns_t_aaaa && ns_rr_rdlen(*rr) == 16) {
		sin6 = (struct sockaddr_in6 *)&p->out[p->n];
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)p->port);
		memcpy(&sin6->sin6_addr, ns_rr_rdata(*rr), 16);
	} else
		return 0;
	p->n++;
	return 1;
}

int
dns_addrs(const char *name, int port, struct sockaddr_storage *out, int max)
{
	struct dns_addrlist	p = { out, 0, max, port };
	int			a, aaaa;

	a = dns_query(name, ns_t_a, dns_addr_add, &p);
	aaaa = dns_query(name, ns_t_aaaa, dns_addr_add, &p);
	if (p.n > 0)
		return p.n;
	return a == -1 || aaaa == -1 ? -1 : 0;
}
