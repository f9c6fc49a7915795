/*
 * DNS through the system resolver (res_query), optionally pointed at one
 * server by the resolver key ("127.0.0.1" or "127.0.0.1:5353"), so tests
 * can run their own server on loopback.
 */
#ifndef DNS_H
#define DNS_H

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

#endif
