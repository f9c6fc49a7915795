/*
 * Envelope header parser.  Queue files are ours, but a reader never trusts
 * them: every line is bounded, every value checked, and a file that does
 * not parse is moved aside by the caller, never guessed at.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "spool.h"

void
spool_env_free(struct spool_env *e)
{
	free(e->rcpts);
	e->rcpts = NULL;
	e->nrcpt = 0;
}

/* Copies an escaped value into out; -1 if it does not fit or is bad. */
static int
spool_val(const char *v, size_t len, char *out, size_t outlen)
{
	return spool_unescape(v, len, out, outlen) == -1 ? -1 : 0;
}

static int
spool_add_rcpt(struct spool_env *e, size_t *cap)
{
	struct spool_rcpt	*r;
	size_t			 ncap;

	if (e->nrcpt == SPOOL_RCPTMAX)
		return -1;
	if (e->nrcpt == *cap) {
		ncap = *cap ? *cap * 2 : 8;
		if (ncap > SPOOL_RCPTMAX)
			ncap = SPOOL_RCPTMAX;
		if ((r = reallocarray(e->rcpts, ncap, sizeof(*r))) == NULL)
			return -1;
		e->rcpts = r;
		*cap = ncap;
	}
	memset(&e->rcpts[e->nrcpt++], 0, sizeof(struct spool_rcpt));
	return 0;
}

/* Applies one "key value" line; returns 0 or -1 with *errstr. */
static int
spool_env_line(struct spool_env *e, const char *k, size_t kl, const char *v,
    size_t vl, size_t *cap, const char **errstr)
{
	struct spool_rcpt	*last = e->nrcpt ? &e->rcpts[e->nrcpt - 1] : NULL;
	char			 num[32];
	char			*end;

#define KEY(s)	(kl == sizeof(s) - 1 && memcmp(k, s, kl) == 0)
#define VAL(f)	spool_val(v, vl, f, sizeof(f))
	*errstr = "bad value";
	if (KEY("id"))
		return vl == QID_LEN && VAL(e->id) == 0 && qid_valid(e->id)
		    ? 0 : -1;
	if (KEY("arrival")) {
		if (vl == 0 || vl >= sizeof(num))
			return -1;
		memcpy(num, v, vl);
		num[vl] = '\0';
		e->arrival = (time_t)strtoll(num, &end, 10);
		return *end == '\0' ? 0 : -1;
	}
	if (KEY("sender"))	return VAL(e->sender);
	if (KEY("client"))	return VAL(e->client_addr);
	if (KEY("client-name"))	return VAL(e->client_name);
	if (KEY("helo"))	return VAL(e->helo);
	if (KEY("proto"))	return VAL(e->proto);
	if (KEY("body"))	return VAL(e->body);
	if (KEY("envid"))	return VAL(e->envid);
	if (KEY("ret"))		return VAL(e->ret);
	if (KEY("notice"))	return VAL(e->notice);
	if (KEY("smtputf8")) {
		e->smtputf8 = 1;
		return 0;
	}
	if (KEY("rcpt")) {
		if (spool_add_rcpt(e, cap) == -1) {
			*errstr = "too many recipients";
			return -1;
		}
		return vl == 0 ? -1 : VAL(e->rcpts[e->nrcpt - 1].addr);
	}
	if (KEY("notify") && last != NULL)	return VAL(last->notify);
	if (KEY("orcpt") && last != NULL)	return VAL(last->orcpt);
#undef KEY
#undef VAL
	*errstr = "unknown envelope line";
	return -1;
}

int
spool_env_parse(const char *buf, size_t len, struct spool_env *e,
    size_t *hdrlen, const char **errstr)
{
	const char	*p = buf, *end = buf + len, *nl, *sp;
	size_t		 cap = 0, vlen = sizeof(SPOOL_VERSION) - 1;

	memset(e, 0, sizeof(*e));
	if (len < vlen + 1 || memcmp(buf, SPOOL_VERSION, vlen) != 0 ||
	    buf[vlen] != '\n') {
		*errstr = "not an inetmail queue file (version line)";
		return -1;
	}
	p += vlen + 1;
	for (;;) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			*errstr = "envelope not terminated";
			goto fail;
		}
		if (nl == p)
			break;
		sp = memchr(p, ' ', (size_t)(nl - p));
		if (spool_env_line(e, p, sp ? (size_t)(sp - p) : (size_t)(nl - p),
		    sp ? sp + 1 : nl, sp ? (size_t)(nl - sp - 1) : 0, &cap,
		    errstr) == -1)
			goto fail;
		p = nl + 1;
	}
	if (e->id[0] == '\0' || e->nrcpt == 0) {
		*errstr = e->id[0] == '\0' ? "no queue ID" : "no recipients";
		goto fail;
	}
	*hdrlen = (size_t)(nl + 1 - buf);
	return 0;
fail:
	spool_env_free(e);
	return -1;
}
