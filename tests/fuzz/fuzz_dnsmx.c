/*
 * Fuzz target for dns_mx_parse() (src/lib/dns.c): the MX records of a DNS
 * answer from the network, parsed with libresolv's ns_initparse(),
 * ns_parserr() and dn_expand().  The result is -1, DNS_NULLMX or 0..max
 * hosts, in non-decreasing preference, each name NUL-terminated within
 * DNS_NAMEMAX, printable (dn_expand escapes the rest), neither empty nor
 * the root.  max only cuts: the same answer parsed with room for
 * DNS_MXMAX gives the same verdict and min(n, max) hosts.
 *
 * Input: ctl[0] % 17 is max (0..16), then the answer.
 */
#include "config.h"

#include "dns.h"
#include "fuzz.h"

static void
check_hosts(const struct dns_mx *mx, int n)
{
	size_t	i, l;
	int	k;

	for (k = 0; k < n; k++) {
		FUZZ_CHECK(fuzz_terminated(mx[k].name, DNS_NAMEMAX));
		l = strlen(mx[k].name);
		FUZZ_CHECK(l > 0 && strcmp(mx[k].name, ".") != 0);
		for (i = 0; i < l; i++)
			FUZZ_CHECK(mx[k].name[i] > 0x20 &&
			    mx[k].name[i] < 0x7f);
		FUZZ_CHECK(mx[k].pref >= 0 && mx[k].pref <= 65535);
		if (k > 0)
			FUZZ_CHECK(mx[k - 1].pref <= mx[k].pref);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_mx	*mx, all[DNS_MXMAX];
	int		 max, n, nall;

	if (size < 1 || size - 1 > 65535)
		return 0;
	max = data[0] % (DNS_MXMAX + 1);
	/* exactly max hosts of room (malloc(1) for none), so ASan sees more */
	mx = (struct dns_mx *)fuzz_exact((size_t)max * sizeof(*mx));
	n = dns_mx_parse(data + 1, (int)(size - 1), mx, max);
	FUZZ_CHECK(n == -1 || n == DNS_NULLMX || (n >= 0 && n <= max));
	if (n > 0)
		check_hosts(mx, n);
	free(mx);

	nall = dns_mx_parse(data + 1, (int)(size - 1), all, DNS_MXMAX);
	if (nall > 0)
		check_hosts(all, nall);
	FUZZ_CHECK(nall < 0 ? n == nall : n == (nall < max ? nall : max));
	return 0;
}
