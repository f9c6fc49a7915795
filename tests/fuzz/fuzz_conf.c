/*
 * Fuzz target for conf_parse_line() (src/lib/conf.c): the input is split
 * into lines as conf_load() would, and each is applied to one struct conf
 * from conf_defaults().  conf_parse_size() and conf_parse_time() get a
 * NUL-terminated copy and are checked against a model of what they accept.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>

#include "conf.h"
#include "fuzz.h"

/* Every string field of struct conf, to check each stays terminated. */
#define CONF_STR(f)	{ offsetof(struct conf, f), sizeof(((struct conf *)0)->f) }
static const struct {
	size_t	off, size;
} conf_strs[] = {
	CONF_STR(hostname), CONF_STR(spool), CONF_STR(mailbox),
	CONF_STR(users), CONF_STR(local_host_names), CONF_STR(relay_domains),
	CONF_STR(aliases), CONF_STR(trigger), CONF_STR(spool_user),
	CONF_STR(resolver), CONF_STR(log_file)
};

/*
 * The model: digits, then at most one suffix from units (matched
 * case-insensitively if nocase), nothing else; no overflow.
 */
static int
model_parse(const char *s, const char *units, const long long *muls,
    int nocase, long long *out)
{
	long long	v = 0, mul = 1;
	const char	*u;
	int		c;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		if (v > (LLONG_MAX - (*s - '0')) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (*s != '\0') {
		c = nocase ? tolower((unsigned char)*s) : (unsigned char)*s;
		if (c == '\0' || (u = strchr(units, c)) == NULL)
			return -1;
		mul = muls[u - units];
		if (s[1] != '\0')
			return -1;
	}
	if (v > LLONG_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

static void
check_numbers(const char *s)
{
	static const long long	 sizes[] = { 1024, 1024 * 1024,
	    1024 * 1024 * 1024 };
	static const long long	 times[] = { 1, 60, 3600, 86400, 7 * 86400 };
	long long		 v = -1, m = -1;
	int			 r;

	r = conf_parse_size(s, &v);
	FUZZ_CHECK(r == model_parse(s, "kmg", sizes, 1, &m));
	FUZZ_CHECK(r == -1 || (v == m && v >= 0));
	v = m = -1;
	r = conf_parse_time(s, &v);
	FUZZ_CHECK(r == model_parse(s, "smhdw", times, 0, &m));
	FUZZ_CHECK(r == -1 || (v == m && v >= 0));
}

static void
check_conf(const struct conf *c)
{
	size_t	i;

	for (i = 0; i < sizeof(conf_strs) / sizeof(conf_strs[0]); i++)
		FUZZ_CHECK(fuzz_terminated((const char *)c + conf_strs[i].off,
		    conf_strs[i].size));
	FUZZ_CHECK(c->max_message_size >= 0 && c->max_recipients >= 0 &&
	    c->command_timeout >= 0 && c->data_timeout >= 0 &&
	    c->max_errors >= 0 && c->max_junk >= 0 && c->max_received >= 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf	 defaults;
	static int		 done;
	struct conf		 c;
	const char		*p = (const char *)data, *nl, *errstr;
	char			*line, *s;
	size_t			 off = 0, len;

	if (!done) {
		conf_defaults(&defaults);
		done = 1;
	}
	c = defaults;
	/* the whole input as one line (it may hold LFs and NULs) */
	errstr = NULL;
	if (conf_parse_line(&c, p, size, &errstr) == -1)
		FUZZ_CHECK(errstr != NULL);
	check_conf(&c);
	/* and as a file, line by line, each in a buffer of its exact size */
	c = defaults;
	while (off < size) {
		nl = memchr(p + off, '\n', size - off);
		len = nl != NULL ? (size_t)(nl - (p + off)) : size - off;
		line = fuzz_exact(len);
		memcpy(line, p + off, len);
		errstr = NULL;
		if (conf_parse_line(&c, line, len, &errstr) == -1)
			FUZZ_CHECK(errstr != NULL);
		check_conf(&c);
		free(line);
		off += len + 1;
	}
	s = fuzz_strndup(data, size);
	check_numbers(s);
	free(s);
	return 0;
}
