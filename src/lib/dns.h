/*
 * DNS through the system resolver (res_query), optionally pointed at one
 * server by the resolver key ("127.0.0.1" or "127.0.0.1:5353"), so tests
 * can run their own server on loopback.
 */
#ifndef DNS_H
#define DNS_H

#include <sys/socket.h>
#include <stddef.h>

#define DNS_NAMEMAX	256
#define DNS_PTRMAX	8

/*
 * Sets up the resolver; spec is "" for the system's configuration.
 * Returns 0, or -1 if spec is not an IPv4 address with an optional port.
 */
int	dns_init(const char *spec);
/*
 * Finds the PTR names of a textual IP address.  Returns how many (at most
 * max) were stored in names, 0 if none, -1 on a temporary failure.
 */
int	dns_ptr(const char *ip, char names[][DNS_NAMEMAX], int max);
/*
 * Returns 1 if name has an A (or, for an IPv6 ip, AAAA) record equal to
 * ip, 0 if not, -1 on a temporary failure.
 */
int	dns_has_addr(const char *name, const char *ip);
/*
 * Forward-confirmed reverse DNS: fills name with the first PTR name of ip
 * whose address records lead back to ip.  Returns 1, 0 if none, -1 on a
 * temporary failure.
 */
int	dns_fcrdns(const char *ip, char *name, size_t namelen);

#define DNS_MXMAX	16	/* MX hosts tried for one domain */
#define DNS_ADDRMAX	8	/* addresses tried for one host */

struct dns_mx {
	int	pref;
	char	name[DNS_NAMEMAX];
};

#define DNS_NULLMX	(-2)	/* RFC 7505: the domain takes no mail */
/*
 * The MX hosts of domain, sorted by preference, equal preferences in random
 * order.  Returns how many (at most max), 0 if the domain has none (use its
 * address records), DNS_NULLMX if any of its MX records is the null MX
 * (RFC 7505 forbids mixing it with others; it wins), or -1 on a temporary
 * failure, which includes MX records none of which can be read.
 */
int	dns_mx(const char *domain, struct dns_mx *mx, int max);
/*
 * The same over a DNS answer in a buffer (len bytes), for tests and fuzzing:
 * the records are taken as they come, then sorted.
 */
int	dns_mx_parse(const unsigned char *ans, int len, struct dns_mx *mx,
	    int max);
/*
 * The A, then AAAA, addresses of name with port set.  Returns how many
 * (at most max), 0 if none, -1 on a temporary failure.
 */
int	dns_addrs(const char *name, int port, struct sockaddr_storage *out,
	    int max);

#endif
