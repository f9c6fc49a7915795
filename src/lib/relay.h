/*
 * Domain and network lists in sendmail's formats: relay-domains ("example.com"
 * matches it and its subdomains, ".example.com" only subdomains, "10.2" the
 * network 10.2.*.*, also "10.2.0.0/16" and IPv6 "2001:db8::/32") and
 * local-host-names (one domain a line).
 */
#ifndef RELAY_H
#define RELAY_H

#include <stddef.h>

#define RELAY_FILEMAX	(4 * 1024 * 1024)

/* Returns 1 if domain matches the relay-domains entry, else 0. */
int	relay_domain_match(const char *entry, size_t elen, const char *domain);
/* Returns 1 if the textual IP address matches the entry as a network. */
int	relay_ip_match(const char *entry, size_t elen, const char *ip);
/*
 * Looks through the list in buf for a match: what says which of domain
 * (RELAY_DOMAIN), ip (RELAY_IP) or exact domain (RELAY_EXACT, for
 * local-host-names) to test.  Returns 1 on a match, else 0.
 */
#define RELAY_DOMAIN	1
#define RELAY_IP	2
#define RELAY_EXACT	3
int	relay_list_match(const char *buf, size_t len, int what, const char *s);
/*
 * As relay_list_match() over the file at path (missing: no match).
 * Returns 1, 0, or -1 if the file exists but cannot be read.
 */
int	relay_file_match(const char *path, int what, const char *s);

struct conf;
/*
 * Is domain one of ours: hostname, localhost, [127.0.0.1], [IPv6:::1], or
 * listed in local-host-names?  Returns 1, 0, or -1 if that file is
 * unreadable.
 */
int	relay_local_domain(const struct conf *, const char *domain);

#endif
