/*
 * Fuzz target for spool_env_parse() (src/lib/spool_env.c), then
 * spool_env_free(); and for spool_escape()/spool_unescape(): escaping any
 * NUL-free string and unescaping it gives it back, and the escaped form is
 * fit for one envelope line.  An envelope that parses is written again the
 * way spool_msg_env() writes one and must parse to the same values.
 */
#include "config.h"

#include "buf.h"
#include "spool.h"
#include "fuzz.h"

#define ENV_STR(f)	{ #f, offsetof(struct spool_env, f), \
			  sizeof(((struct spool_env *)0)->f) }
static const struct {
	const char	*key;
	size_t		 off, size;
} env_strs[] = {
	ENV_STR(id), ENV_STR(sender), ENV_STR(client_addr),
	ENV_STR(client_name), ENV_STR(helo), ENV_STR(proto), ENV_STR(body),
	ENV_STR(envid), ENV_STR(ret)
};

#define F(e, i)	((const char *)(e) + env_strs[i].off)

static void
put_field(struct buf *b, const char *key, const char *val, int always)
{
	if (val[0] == '\0' && !always)
		return;
	FUZZ_CHECK(buf_puts(b, key) == 0 && buf_append(b, " ", 1) == 0 &&
	    spool_escape(val, b) == 0 && buf_append(b, "\n", 1) == 0);
}

/* What spool_msg_env() (src/lib/spool.c) writes for e. */
static void
write_env(struct buf *b, const struct spool_env *e)
{
	size_t	i;

	FUZZ_CHECK(buf_printf(b, "%s\nid %s\narrival %lld\n", SPOOL_VERSION,
	    e->id, (long long)e->arrival) == 0);
	put_field(b, "sender", e->sender, 1);
	put_field(b, "client", e->client_addr, 0);
	put_field(b, "client-name", e->client_name, 0);
	put_field(b, "helo", e->helo, 0);
	put_field(b, "proto", e->proto, 0);
	put_field(b, "body", e->body, 0);
	put_field(b, "envid", e->envid, 0);
	put_field(b, "ret", e->ret, 0);
	if (e->smtputf8)
		FUZZ_CHECK(buf_puts(b, "smtputf8\n") == 0);
	for (i = 0; i < e->nrcpt; i++) {
		put_field(b, "rcpt", e->rcpts[i].addr, 1);
		put_field(b, "notify", e->rcpts[i].notify, 0);
		put_field(b, "orcpt", e->rcpts[i].orcpt, 0);
	}
	FUZZ_CHECK(buf_append(b, "\n", 1) == 0);
}

static void
check_env(const struct spool_env *e)
{
	size_t	i;

	for (i = 0; i < sizeof(env_strs) / sizeof(env_strs[0]); i++)
		FUZZ_CHECK(fuzz_terminated(F(e, i), env_strs[i].size));
	FUZZ_CHECK(qid_valid(e->id));
	FUZZ_CHECK(e->nrcpt >= 1 && e->nrcpt <= SPOOL_RCPTMAX);
	FUZZ_CHECK(e->rcpts != NULL);
	for (i = 0; i < e->nrcpt; i++) {
		FUZZ_CHECK(fuzz_terminated(e->rcpts[i].addr,
		    sizeof(e->rcpts[i].addr)));
		FUZZ_CHECK_BUG("spool-raw-nul", e->rcpts[i].addr[0] != '\0');
		FUZZ_CHECK(fuzz_terminated(e->rcpts[i].orcpt,
		    sizeof(e->rcpts[i].orcpt)));
		FUZZ_CHECK(fuzz_terminated(e->rcpts[i].notify,
		    sizeof(e->rcpts[i].notify)));
	}
}

static void
check_rewrite(const struct spool_env *e)
{
	struct spool_env	 e2;
	struct buf		 b;
	const char		*errstr = NULL;
	size_t			 hdrlen = 0, i;

	for (i = 0; i < e->nrcpt; i++)
		if (e->rcpts[i].addr[0] == '\0')
			return;		/* spool-raw-nul, ignored: can't write it */
	buf_init(&b, 16 * 1024 * 1024);
	write_env(&b, e);
	FUZZ_CHECK(spool_env_parse(b.data, b.len, &e2, &hdrlen, &errstr)
	    == 0);
	FUZZ_CHECK(hdrlen == b.len);
	for (i = 0; i < sizeof(env_strs) / sizeof(env_strs[0]); i++)
		FUZZ_CHECK(strcmp(F(e, i), F(&e2, i)) == 0);
	FUZZ_CHECK(e2.arrival == e->arrival && e2.smtputf8 == e->smtputf8);
	FUZZ_CHECK(e2.nrcpt == e->nrcpt);
	for (i = 0; i < e->nrcpt; i++) {
		FUZZ_CHECK(strcmp(e->rcpts[i].addr, e2.rcpts[i].addr) == 0);
		FUZZ_CHECK(strcmp(e->rcpts[i].orcpt, e2.rcpts[i].orcpt) == 0);
		FUZZ_CHECK(strcmp(e->rcpts[i].notify, e2.rcpts[i].notify)
		    == 0);
	}
	spool_env_free(&e2);
	buf_free(&b);
}

/* spool_escape() then spool_unescape() is the identity on NUL-free text. */
static void
check_escape(const uint8_t *data, size_t size)
{
	struct buf	 b;
	char		*in, *out;
	size_t		 len, i;
	int		 n;

	in = fuzz_strndup(data, size);
	len = strlen(in);			/* up to the first NUL */
	buf_init(&b, 3 * len + 1);
	FUZZ_CHECK(spool_escape(in, &b) == 0);
	FUZZ_CHECK(b.len >= len && b.len <= 3 * len);
	for (i = 0; i < b.len; i++)		/* one token on one line */
		FUZZ_CHECK((unsigned char)b.data[i] > 0x20 &&
		    b.data[i] != 0x7f);
	out = fuzz_exact(len + 1);
	n = spool_unescape(b.data != NULL ? b.data : "", b.len, out, len + 1);
	FUZZ_CHECK(n >= 0 && (size_t)n == len);
	FUZZ_CHECK(memcmp(out, in, len + 1) == 0);
	free(out);
	/* one byte too few must fail, not overflow */
	if (len > 0) {
		out = fuzz_exact(len);
		FUZZ_CHECK(spool_unescape(b.data, b.len, out, len) == -1);
		free(out);
	}
	buf_free(&b);
	free(in);
}

/* spool_unescape() of raw input into a small buffer stays in bounds. */
static void
check_unescape(const uint8_t *data, size_t size)
{
	size_t	 outlen = size > 0 ? 1 + data[0] % 64 : 1;
	char	*out = fuzz_exact(outlen);
	int	 n;

	n = spool_unescape((const char *)data, size, out, outlen);
	if (n != -1) {
		FUZZ_CHECK(n >= 0 && (size_t)n < outlen);
		FUZZ_CHECK(fuzz_terminated(out, outlen));
		/* "NUL never comes back", says spool_unescape() */
		FUZZ_CHECK_BUG("spool-raw-nul", strlen(out) == (size_t)n);
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spool_env	 e;
	const char		*errstr = NULL;
	size_t			 hdrlen = (size_t)-1;

	if (spool_env_parse((const char *)data, size, &e, &hdrlen, &errstr)
	    == 0) {
		FUZZ_CHECK(hdrlen >= 2 && hdrlen <= size);
		FUZZ_CHECK(data[hdrlen - 1] == '\n' && data[hdrlen - 2] == '\n');
		check_env(&e);
		check_rewrite(&e);
	} else {
		FUZZ_CHECK(errstr != NULL);
		FUZZ_CHECK(e.rcpts == NULL && e.nrcpt == 0);
	}
	spool_env_free(&e);
	check_escape(data, size);
	check_unescape(data, size);
	return 0;
}
