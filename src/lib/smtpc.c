/*
 * Parsing a peer's SMTP replies.  Everything here comes from the network:
 * bounded lines, a bounded line count, and only escaped text kept.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "smtpc.h"

/*
 * Appends len bytes of one line to r->text, escaping what is not printable.
 * Returns -1 if the text was cut (nothing more may follow), else 0.
 */
static int
smtpc_keep(struct smtpc_reply *r, size_t *tl, const char *s, size_t len)
{
	static const char	hex[] = "0123456789abcdef";
	unsigned char		c;
	size_t			i;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (*tl + 1 >= sizeof(r->text))
				break;
			r->text[(*tl)++] = (char)c;
		} else {
			if (*tl + 4 >= sizeof(r->text))
				break;
			r->text[(*tl)++] = '\\';
			r->text[(*tl)++] = 'x';
			r->text[(*tl)++] = hex[c >> 4];
			r->text[(*tl)++] = hex[c & 15];
		}
	}
	r->text[*tl] = '\0';
	return i < len ? -1 : 0;
}

int
smtpc_reply_parse(const char *buf, size_t len, struct smtpc_reply *r,
    size_t *used)
{
	const char	*line = buf, *nl;
	size_t		 left = len, ll, tl = 0;
	int		 code, cut = 0;

	memset(r, 0, sizeof(*r));
	for (;;) {
		if ((nl = memchr(line, '\n', left)) == NULL)
			return left > SMTPC_LINEMAX ? -1 : 0;
		ll = (size_t)(nl - line);
		if (ll > SMTPC_LINEMAX)
			return -1;
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		if (ll < 3 || !isdigit((unsigned char)line[0]) ||
		    !isdigit((unsigned char)line[1]) ||
		    !isdigit((unsigned char)line[2]) ||
		    (ll > 3 && line[3] != ' ' && line[3] != '-'))
			return -1;
		code = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
		    (line[2] - '0');
		if (code < 200 || code > 599 || (r->nlines > 0 &&
		    code != r->code) || ++r->nlines > SMTPC_LINES)
			return -1;
		r->code = code;
		/* once cut, keep nothing more: the text stays a prefix */
		if (r->nlines > 1 && !cut && tl + 1 < sizeof(r->text)) {
			r->text[tl++] = '\n';
			r->text[tl] = '\0';
		}
		if (ll > 4 && !cut)
			cut = smtpc_keep(r, &tl, line + 4, ll - 4);
		left -= (size_t)(nl + 1 - line);
		if (ll == 3 || line[3] == ' ') {
			*used = len - left;
			return 1;
		}
		line = nl + 1;
	}
}

void
smtpc_reply_line(const struct smtpc_reply *r, char *out, size_t outlen)
{
	size_t	o, i;

	if (outlen == 0)
		return;
	snprintf(out, outlen, "%03d ", r->code);
	o = strlen(out);
	for (i = 0; r->text[i] != '\0' && o + 3 < outlen; i++) {
		if (r->text[i] == '\n') {
			out[o++] = ';';
			out[o++] = ' ';
		} else
			out[o++] = r->text[i];
	}
	if (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

int
smtpc_reply_status(const struct smtpc_reply *r, char *out, size_t outlen)
{
	const char	*p = r->text;
	size_t		 a, b, c;

	if ((p[0] != '2' && p[0] != '4' && p[0] != '5') ||
	    p[0] - '0' != r->code / 100 || p[1] != '.')
		return 0;
	a = strspn(p + 2, "0123456789");
	if (a < 1 || a > 3 || p[2 + a] != '.')
		return 0;
	b = strspn(p + 3 + a, "0123456789");
	if (b < 1 || b > 3)
		return 0;
	c = 3 + a + b;
	if (p[c] != '\0' && p[c] != ' ' && p[c] != '\n')
		return 0;
	if (c >= outlen)
		return 0;
	memcpy(out, p, c);
	out[c] = '\0';
	return 1;
}

/* Does the keyword line kw (length kl) start with word, then end or space? */
static int
smtpc_kw(const char *kw, size_t kl, const char *word, const char **arg)
{
	size_t	wl = strlen(word);

	if (kl < wl || strncasecmp(kw, word, wl) != 0 ||
	    (kl > wl && kw[wl] != ' ' && kw[wl] != '='))
		return 0;
	*arg = kw + wl + (kl > wl);
	return 1;
}

void
smtpc_ehlo_caps(const struct smtpc_reply *r, struct smtpc_caps *caps)
{
	const char	*kw, *nl, *arg, *end;
	char		 mech[32];
	size_t		 kl, ml;
	long long	 v;

	memset(caps, 0, sizeof(*caps));
	if ((kw = strchr(r->text, '\n')) == NULL)
		return;
	for (kw++; *kw != '\0'; kw = *nl ? nl + 1 : nl) {
		nl = kw + strcspn(kw, "\n");
		kl = (size_t)(nl - kw);
		if (smtpc_kw(kw, kl, "PIPELINING", &arg))
			caps->flags |= SMTPC_PIPELINING;
		else if (smtpc_kw(kw, kl, "8BITMIME", &arg))
			caps->flags |= SMTPC_8BITMIME;
		else if (smtpc_kw(kw, kl, "SMTPUTF8", &arg))
			caps->flags |= SMTPC_SMTPUTF8;
		else if (smtpc_kw(kw, kl, "DSN", &arg))
			caps->flags |= SMTPC_DSN;
		else if (smtpc_kw(kw, kl, "STARTTLS", &arg))
			caps->flags |= SMTPC_STARTTLS;
		else if (smtpc_kw(kw, kl, "ENHANCEDSTATUSCODES", &arg))
			caps->flags |= SMTPC_ENHANCED;
		else if (smtpc_kw(kw, kl, "SIZE", &arg)) {
			caps->flags |= SMTPC_SIZE;
			v = 0;
			while (arg < nl && isdigit((unsigned char)*arg) &&
			    v < 1LL << 50)
				v = v * 10 + (*arg++ - '0');
			caps->maxsize = v;
		} else if (smtpc_kw(kw, kl, "AUTH", &arg)) {
			while (arg < nl) {
				arg += strspn(arg, " ");
				end = arg + strcspn(arg, " \n");
				ml = (size_t)(end - arg);
				if (ml > 0 && ml < sizeof(mech)) {
					memcpy(mech, arg, ml);
					mech[ml] = '\0';
					if (strcasecmp(mech, "PLAIN") == 0)
						caps->flags |= SMTPC_AUTH_PLAIN;
					else if (strcasecmp(mech, "LOGIN") == 0)
						caps->flags |= SMTPC_AUTH_LOGIN;
				}
				arg = end;
			}
		}
	}
}
