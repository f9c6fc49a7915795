/*
 * The configuration parser.  The file belongs to the administrator but is
 * still parsed as untrusted text: bounded lines, bounded values.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "conf.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif
#ifndef SPOOL_USER
#define SPOOL_USER "inetmail"
#endif

#define CONF_LINEMAX	4096

enum conf_type { C_STR, C_SIZE, C_TIME, C_NUM };

static const char *conf_check_path(const char *);
static const char *conf_check_users(const char *);
static const char *conf_check_mailbox(const char *);
static const char *conf_check_resolver(const char *);
static const char *conf_check_name(const char *);
static const char *conf_check_yesno(const char *);
static const char *conf_check_optpath(const char *);
static const char *conf_check_host(const char *);

#define OFF(f)	offsetof(struct conf, f)
#define SZ(f)	sizeof(((struct conf *)0)->f)
/* min and max bound numbers; check vets strings (NULL: any) */
static const struct conf_key {
	const char	*name;
	enum conf_type	 type;
	size_t		 off, size;
	const char	*(*check)(const char *);
	long long	 min, max;
} conf_keys[] = {
	{ "hostname",		C_STR,	OFF(hostname),	SZ(hostname), conf_check_name, 0, 0 },
	{ "spool",		C_STR,	OFF(spool),	SZ(spool), conf_check_path, 0, 0 },
	{ "mailbox",		C_STR,	OFF(mailbox),	SZ(mailbox), conf_check_mailbox, 0, 0 },
	{ "users",		C_STR,	OFF(users),	SZ(users), conf_check_users, 0, 0 },
	{ "local_host_names",	C_STR,	OFF(local_host_names), SZ(local_host_names), NULL, 0, 0 },
	{ "relay_domains",	C_STR,	OFF(relay_domains), SZ(relay_domains), NULL, 0, 0 },
	{ "aliases",		C_STR,	OFF(aliases),	SZ(aliases), NULL, 0, 0 },
	{ "trigger",		C_STR,	OFF(trigger),	SZ(trigger), NULL, 0, 0 },
	{ "spool_user",		C_STR,	OFF(spool_user), SZ(spool_user), conf_check_name, 0, 0 },
	{ "resolver",		C_STR,	OFF(resolver),	SZ(resolver), conf_check_resolver, 0, 0 },
	{ "log_file",		C_STR,	OFF(log_file),	SZ(log_file), NULL, 0, 0 },
	{ "max_message_size",	C_SIZE,	OFF(max_message_size), 0, NULL, 0, 1LL << 40 },
	{ "max_recipients",	C_NUM,	OFF(max_recipients), 0, NULL, 1, 100000 },
	/* poll(2) takes milliseconds in an int: a day is far inside */
	{ "command_timeout",	C_TIME,	OFF(command_timeout), 0, NULL, 1, 86400 },
	{ "data_timeout",	C_TIME,	OFF(data_timeout), 0, NULL, 1, 86400 },
	{ "max_errors",		C_NUM,	OFF(max_errors), 0, NULL, 1, 1000000 },
	{ "max_junk_commands",	C_NUM,	OFF(max_junk), 0, NULL, 1, 1000000 },
	{ "max_received",	C_NUM,	OFF(max_received), 0, NULL, 0, 1000000 },
	{ "workers",		C_NUM,	OFF(workers), 0, NULL, 1, 1000 },
	{ "worker_idle",	C_TIME,	OFF(worker_idle), 0, NULL, 1, 86400 },
	{ "default_user",	C_STR,	OFF(default_user), SZ(default_user), conf_check_name, 0, 0 },
	{ "queuewarn",		C_TIME,	OFF(queuewarn),	0, NULL, 0, 1LL << 32 },
	{ "queuereturn",	C_TIME,	OFF(queuereturn), 0, NULL, 0, 1LL << 32 },
	{ "retry_min",		C_TIME,	OFF(retry_min),	0, NULL, 1, 1LL << 32 },
	{ "retry_max",		C_TIME,	OFF(retry_max),	0, NULL, 1, 1LL << 32 },
	{ "max_deliveries",	C_NUM,	OFF(max_deliveries), 0, NULL, 1, 1000 },
	{ "program_timeout",	C_TIME,	OFF(program_timeout), 0, NULL, 1, 86400 },
	{ "lock_timeout",	C_TIME,	OFF(lock_timeout), 0, NULL, 1, 86400 },
	{ "queue_workers",	C_NUM,	OFF(queue_workers), 0, NULL, 1, 100 },
	{ "smarthost",		C_STR,	OFF(smarthost),	SZ(smarthost), conf_check_host, 0, 0 },
	{ "smtp_port",		C_NUM,	OFF(smtp_port),	0, NULL, 1, 65535 },
	{ "expensive",		C_STR,	OFF(expensive),	SZ(expensive), conf_check_yesno, 0, 0 },
	{ "hold_expensive",	C_STR,	OFF(hold_expensive), SZ(hold_expensive), conf_check_yesno, 0, 0 },
	{ "smtp_secrets",	C_STR,	OFF(smtp_secrets), SZ(smtp_secrets), conf_check_optpath, 0, 0 },
	{ "tls_policy",		C_STR,	OFF(tls_policy), SZ(tls_policy), conf_check_optpath, 0, 0 },
	{ "tls_ca_file",	C_STR,	OFF(tls_ca_file), SZ(tls_ca_file), conf_check_optpath, 0, 0 },
	{ "smtp_connect_timeout", C_TIME, OFF(smtp_connect_timeout), 0, NULL, 1, 3600 },
	{ "smtp_timeout",	C_TIME,	OFF(smtp_timeout), 0, NULL, 1, 3600 },
	{ "smtp_reuse",		C_NUM,	OFF(smtp_reuse), 0, NULL, 1, 100000 },
	{ "pop3_timeout",	C_TIME,	OFF(pop3_timeout), 0, NULL, 1, 86400 },
	{ "auth_delay",		C_TIME,	OFF(auth_delay), 0, NULL, 0, 60 },
	{ "max_auth_failures",	C_NUM,	OFF(max_auth_failures), 0, NULL, 1, 100 },
	{ "apop_secrets",	C_STR,	OFF(apop_secrets), SZ(apop_secrets), conf_check_optpath, 0, 0 },
	{ "allow_plaintext",	C_STR,	OFF(allow_plaintext), SZ(allow_plaintext), conf_check_yesno, 0, 0 },
	{ NULL,			C_STR,	0,		0, NULL, 0, 0 }
};

static const char *
conf_check_path(const char *v)
{
	return v[0] == '/' ? NULL : "must be an absolute path";
}

static const char *
conf_check_name(const char *v)
{
	return v[0] != '\0' && strpbrk(v, " \t/:") == NULL ? NULL :
	    "must be a name (no spaces, slashes or colons)";
}

static const char *
conf_check_optpath(const char *v)
{
	return v[0] == '/' || strcmp(v, "none") == 0 ? NULL :
	    "must be an absolute path or none";
}

/* A port: 1 to 65535, digits only. */
static int
conf_port_ok(const char *p)
{
	size_t	n = strlen(p);

	return n > 0 && n <= 5 && strspn(p, "0123456789") == n &&
	    atol(p) >= 1 && atol(p) <= 65535;
}

/*
 * The smart host: "host", "[host]" (no MX lookup) or "[192.0.2.1]", each
 * with an optional ":port"; "none" for MX routing.
 */
static const char *
conf_check_host(const char *v)
{
	const char	*bad = "must be none, host, [host] or [address], "
			    "optionally with :port";
	const char	*p = v, *end;
	size_t		 n;

	if (strcmp(v, "none") == 0)
		return NULL;
	if (*p == '[') {
		if ((end = strchr(p, ']')) == NULL)
			return bad;
		n = (size_t)(end - p - 1);
		p++;
		end++;
	} else {
		end = p + strcspn(p, ":");
		n = (size_t)(end - p);
	}
	if (n == 0 || strspn(p, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:") < n)
		return bad;
	if (*end == '\0')
		return NULL;
	return *end == ':' && conf_port_ok(end + 1) ? NULL : bad;
}

static const char *
conf_check_yesno(const char *v)
{
	return strcmp(v, "yes") == 0 || strcmp(v, "no") == 0 ? NULL :
	    "must be yes or no";
}

static const char *
conf_check_users(const char *v)
{
	if (strcmp(v, "system") == 0 || (strncmp(v, "passwd-file:", 12) == 0 &&
	    v[12] == '/'))
		return NULL;
	return "must be system or passwd-file:/path";
}

static const char *
conf_check_mailbox(const char *v)
{
	if (strncmp(v, "mbox:", 5) == 0 && (v[5] == '/' ||
	    (v[5] == '~' && v[6] == '/')))
		return NULL;
	return "must be mbox:/path (with %u for the user, %h or ~/ for the home)";
}

/* "system", or an IPv4 address with an optional :port (see dns_init) */
static const char *
conf_check_resolver(const char *v)
{
	const char	*bad = "must be system or an IPv4 address with an "
			    "optional :port";
	char		 host[64];
	const char	*colon = strchr(v, ':');
	struct in_addr	 a;
	size_t		 hl = colon ? (size_t)(colon - v) : strlen(v);

	if (strcmp(v, "system") == 0)
		return NULL;
	if (hl >= sizeof(host))
		return bad;
	memcpy(host, v, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, &a) != 1)
		return bad;
	return colon == NULL || conf_port_ok(colon + 1) ? NULL : bad;
}

void
conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	if (gethostname(c->hostname, sizeof(c->hostname) - 1) == -1)
		strlcpy(c->hostname, "localhost", sizeof(c->hostname));
	strlcpy(c->spool, LOCALSTATEDIR "/spool/inetmail", sizeof(c->spool));
	strlcpy(c->mailbox, "mbox:/var/mail/%u", sizeof(c->mailbox));
	strlcpy(c->users, "system", sizeof(c->users));
	strlcpy(c->local_host_names, SYSCONFDIR "/mail/local-host-names",
	    sizeof(c->local_host_names));
	strlcpy(c->relay_domains, SYSCONFDIR "/mail/relay-domains",
	    sizeof(c->relay_domains));
	strlcpy(c->aliases, SYSCONFDIR "/mail/aliases", sizeof(c->aliases));
	strlcpy(c->spool_user, SPOOL_USER, sizeof(c->spool_user));
	strlcpy(c->log_file, "syslog", sizeof(c->log_file));
	c->max_message_size = 50LL * 1024 * 1024;
	c->max_recipients = 1000;	/* RFC 5321 4.5.3.1.8: at least 100 */
	c->command_timeout = 300;	/* RFC 5321 4.5.3.2.7: at least 5 minutes */
	c->data_timeout = 600;		/* RFC 5321 4.5.3.2.8: 10 minutes */
	c->max_errors = 10;
	c->max_junk = 100;
	c->max_received = 100;		/* RFC 5321 6.3: loop detection */
	c->workers = 10;
	c->worker_idle = 30;
	strlcpy(c->default_user, "nobody", sizeof(c->default_user));
	c->queuewarn = 4 * 3600;	/* sendmail's confTO_QUEUEWARN */
	c->queuereturn = 5 * 86400;	/* sendmail's confTO_QUEUERETURN */
	c->retry_min = 5 * 60;
	c->retry_max = 4 * 3600;
	c->max_deliveries = 4;
	c->program_timeout = 600;
	c->lock_timeout = 60;
	c->queue_workers = 4;
	c->smtp_port = 25;
	strlcpy(c->expensive, "no", sizeof(c->expensive));
	strlcpy(c->hold_expensive, "no", sizeof(c->hold_expensive));
	c->smtp_connect_timeout = 30;
	c->smtp_timeout = 300;		/* RFC 5321 4.5.3.2: 5 minutes */
	c->smtp_reuse = 100;
	c->pop3_timeout = 600;		/* RFC 1939 3: at least 10 minutes */
	c->auth_delay = 1;
	c->max_auth_failures = 3;
	strlcpy(c->allow_plaintext, "yes", sizeof(c->allow_plaintext));
}

static int
conf_number(const char *s, long long *out, const char **end)
{
	char		*e;
	long long	 v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &e, 10);
	if (errno != 0 || v < 0)
		return -1;
	*out = v;
	*end = e;
	return 0;
}

static int
conf_scale(long long v, long long mul, long long *out)
{
	if (v > LLONG_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

int
conf_parse_size(const char *s, long long *out)
{
	const char	*e;
	long long	 v, mul = 1;

	if (conf_number(s, &v, &e) == -1)
		return -1;
	switch (tolower((unsigned char)*e)) {
	case '\0':			break;
	case 'k': mul = 1024;		e++; break;
	case 'm': mul = 1024 * 1024;	e++; break;
	case 'g': mul = 1024 * 1024 * 1024; e++; break;
	default: return -1;
	}
	if (*e != '\0')
		return -1;
	return conf_scale(v, mul, out);
}

int
conf_parse_time(const char *s, long long *out)
{
	const char	*e;
	long long	 v, mul = 1;

	if (conf_number(s, &v, &e) == -1)
		return -1;
	switch (*e) {
	case '\0':			break;
	case 's': mul = 1;		e++; break;
	case 'm': mul = 60;		e++; break;
	case 'h': mul = 3600;		e++; break;
	case 'd': mul = 86400;		e++; break;
	case 'w': mul = 7 * 86400;	e++; break;
	default: return -1;
	}
	if (*e != '\0')
		return -1;
	return conf_scale(v, mul, out);
}

int
conf_parse_line(struct conf *c, const char *line, size_t len,
    const char **errstr)
{
	const struct conf_key	*k;
	char			 key[64], val[CONF_PATHMAX];
	size_t			 i = 0, kl = 0, vl = 0;
	long long		*num, v = 0;

	while (i < len && isspace((unsigned char)line[i]))
		i++;
	if (i == len || line[i] == '#')
		return 0;
	while (i < len && !isspace((unsigned char)line[i])) {
		if (kl + 1 >= sizeof(key)) {
			*errstr = "unknown key";
			return -1;
		}
		key[kl++] = line[i++];
	}
	key[kl] = '\0';
	while (i < len && isspace((unsigned char)line[i]))
		i++;
	while (len > i && isspace((unsigned char)line[len - 1]))
		len--;
	for (; i < len; i++) {
		if (line[i] == '\0' || vl + 1 >= sizeof(val)) {
			*errstr = line[i] == '\0' ? "NUL byte in value" :
			    "value too long";
			return -1;
		}
		val[vl++] = line[i];
	}
	val[vl] = '\0';
	for (k = conf_keys; k->name != NULL; k++)
		if (strcmp(k->name, key) == 0)
			break;
	if (k->name == NULL) {
		*errstr = "unknown key";
		return -1;
	}
	if (vl == 0 && k->type != C_STR) {
		*errstr = "missing value";
		return -1;
	}
	num = (long long *)(void *)((char *)c + k->off);
	switch (k->type) {
	case C_STR:
		if (vl >= k->size) {
			*errstr = "value too long";
			return -1;
		}
		if (k->check != NULL && (*errstr = k->check(val)) != NULL)
			return -1;
		memcpy((char *)c + k->off, val, vl + 1);
		return 0;
	case C_SIZE:
		if (conf_parse_size(val, &v) == -1) {
			*errstr = "bad size (a number, optionally with k, m or g)";
			return -1;
		}
		break;
	case C_TIME:
		if (conf_parse_time(val, &v) == -1) {
			*errstr = "bad time (a number, optionally with s, m, h, d or w)";
			return -1;
		}
		break;
	case C_NUM:
		if (conf_parse_size(val, &v) == -1 || !isdigit(
		    (unsigned char)val[vl - 1])) {
			*errstr = "bad number";
			return -1;
		}
		break;
	}
	if (v < k->min || v > k->max) {
		*errstr = "value out of range";
		return -1;
	}
	*num = v;
	return 0;
}

int
conf_load(struct conf *c, const char *path, int must_exist, char *err,
    size_t errlen)
{
	FILE		*fp;
	char		 line[CONF_LINEMAX + 2];
	const char	*errstr;
	size_t		 len;
	int		 lineno = 0, r = 0, c1;

	if ((fp = fopen(path, "re")) == NULL) {
		if (errno == ENOENT && !must_exist)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(fp)) {
			snprintf(err, errlen, "%s:%d: line too long", path,
			    lineno);
			while ((c1 = getc(fp)) != EOF && c1 != '\n')
				;
			r = -1;
			break;
		}
		if (conf_parse_line(c, line, len, &errstr) == -1) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, errstr);
			r = -1;
			break;
		}
	}
	if (r == 0 && ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		r = -1;
	}
	fclose(fp);
	return r;
}

void
conf_finish(struct conf *c)
{
	if (c->trigger[0] == '\0') {
		strlcpy(c->trigger, c->spool, sizeof(c->trigger));
		strlcat(c->trigger, "/trigger", sizeof(c->trigger));
	}
	else if (strcmp(c->trigger, "none") == 0)
		c->trigger[0] = '\0';
	if (strcmp(c->resolver, "system") == 0)
		c->resolver[0] = '\0';
	if (strcmp(c->apop_secrets, "none") == 0)
		c->apop_secrets[0] = '\0';
	if (strcmp(c->smarthost, "none") == 0)
		c->smarthost[0] = '\0';
	if (strcmp(c->smtp_secrets, "none") == 0)
		c->smtp_secrets[0] = '\0';
	if (strcmp(c->tls_policy, "none") == 0)
		c->tls_policy[0] = '\0';
	if (strcmp(c->tls_ca_file, "none") == 0)
		c->tls_ca_file[0] = '\0';
}

int
conf_read(struct conf *c, const char *path, char *err, size_t errlen)
{
	conf_defaults(c);
	if (conf_load(c, path != NULL ? path : SYSCONFDIR "/inetmail.conf",
	    path != NULL, err, errlen) == -1)
		return -1;
	conf_finish(c);
	return 0;
}

void
conf_format_time(long long secs, char *out, size_t len)
{
	static const struct { long long s; const char *name; } u[] = {
		{ 7 * 86400, "week" }, { 86400, "day" }, { 3600, "hour" },
		{ 60, "minute" }, { 1, "second" }
	};
	size_t	i;

	for (i = 0; i < 4 && (secs < u[i].s || secs % u[i].s != 0); i++)
		;
	snprintf(out, len, "%lld %s%s", secs / u[i].s, u[i].name,
	    secs / u[i].s == 1 ? "" : "s");
}
