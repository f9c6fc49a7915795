/*
 * Fuzz target for a whole qsmtpd session (src/qsmtpd/smtp.c, smtp_data.c):
 * smtp_session() reads the input as the client's bytes and writes its
 * replies to a file, with a private spool, passwd-file, aliases and lists
 * in a scratch directory ($TMPDIR, else /tmp; /dev/shm is much faster, the
 * spool fsyncs).  This reaches the parsers smtp.c keeps to itself: command
 * dispatch, MAIL/RCPT paths and parameters, BDAT sizes.
 *
 * ctl[0] bit 0: the client is 127.0.0.1 rather than local ("");
 *        bit 1: max_message_size 200 rather than 100000.
 *
 * Checked: every reply line is "DDD " or "DDD-", CRLF-terminated, at most
 * 512 octets; the first is 220; each "Message accepted" is one file in
 * queue/ whose envelope spool_env_parse() reads back and whose message has
 * LF line ends only; nothing is left in tmp/.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <strings.h>
#include <unistd.h>

#include "compat.h"
#include "conf.h"
#include "log.h"
#include "smtp.h"
#include "spool.h"
#include "fuzz.h"

static struct conf	 fconf;
static char		 fdir[512];

static void
put_file(const char *name, const char *text, char *path, size_t pathlen)
{
	FILE	*fp;
	char	 p[1024];

	FUZZ_CHECK(snprintf(p, sizeof(p), "%s/%s", fdir, name) <
	    (int)sizeof(p));
	FUZZ_CHECK((fp = fopen(p, "w")) != NULL);
	fputs(text, fp);
	FUZZ_CHECK(fclose(fp) == 0);
	if (path != NULL)
		FUZZ_CHECK(strlcpy(path, p, pathlen) < pathlen);
}

/* Calls fn on every file in fdir/spool/sub. */
static void
each_file(const char *sub, void (*fn)(const char *, void *), void *arg)
{
	char		 p[1024];
	DIR		*d;
	struct dirent	*e;

	snprintf(p, sizeof(p), "%s/spool/%s", fdir, sub);
	if ((d = opendir(p)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/spool/%s/%s", fdir, sub, e->d_name);
		fn(p, arg);
	}
	closedir(d);
}

static void
remove_file(const char *path, void *arg)
{
	(void)arg;
	(void)unlink(path);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	(void)remove(path);
	return 0;
}

/* At exit: the scratch directory goes, whatever the spool made in it. */
static void
cleanup(void)
{
	(void)nftw(fdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
setup(void)
{
	const char	*tmp = getenv("TMPDIR");

	FUZZ_CHECK(snprintf(fdir, sizeof(fdir), "%s/fuzz_smtp.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp") < (int)sizeof(fdir));
	FUZZ_CHECK(mkdtemp(fdir) != NULL);
	conf_defaults(&fconf);
	strlcpy(fconf.hostname, "mx.example.com", sizeof(fconf.hostname));
	snprintf(fconf.spool, sizeof(fconf.spool), "%s/spool", fdir);
	put_file("passwd", "samt:x:1000:1000:Sam T:/home/samt:/bin/sh\n"
	    "bob:x:1001:1001::/home/bob:/bin/sh\n", NULL, 0);
	snprintf(fconf.users, sizeof(fconf.users), "passwd-file:%s/passwd",
	    fdir);
	put_file("aliases", "postmaster: samt\nstaff: samt,\n\tbob\n",
	    fconf.aliases, sizeof(fconf.aliases));
	put_file("local-host-names", "example.com\n[192.0.2.1]\n",
	    fconf.local_host_names, sizeof(fconf.local_host_names));
	put_file("relay-domains", ".example.org\n10.2\n",
	    fconf.relay_domains, sizeof(fconf.relay_domains));
	fconf.trigger[0] = '\0';	/* no qrun to notify */
	fconf.max_recipients = 20;
	fconf.max_received = 5;
	log_init("fuzz_smtp", "/dev/null", 0);
	atexit(cleanup);
}

static int	nqueued;

static void
check_queued(const char *path, void *arg)
{
	struct spool_env	 e;
	const char		*errstr;
	char			*buf;
	size_t			 len, hdrlen, i;
	struct stat		 st;
	int			 fd;

	(void)arg;
	FUZZ_CHECK((fd = open(path, O_RDONLY)) != -1);
	FUZZ_CHECK(fstat(fd, &st) == 0);
	len = (size_t)st.st_size;
	buf = fuzz_exact(len);
	FUZZ_CHECK(read(fd, buf, len) == (ssize_t)len);
	close(fd);
	FUZZ_CHECK(spool_env_parse(buf, len, &e, &hdrlen, &errstr) == 0);
	FUZZ_CHECK(len - hdrlen >= 10 &&
	    memcmp(buf + hdrlen, "Received: ", 10) == 0);
	for (i = hdrlen; i < len; i++)
		FUZZ_CHECK(buf[i] != '\r');		/* LF line ends */
	spool_env_free(&e);
	free(buf);
	nqueued++;
}

static void
leftover(const char *path, void *arg)
{
	(void)arg;
	fprintf(stderr, "left in tmp/: %s\n", path);
	FUZZ_CHECK(0);
}

/* Checks the replies; returns how many said "Message accepted". */
static int
check_replies(const char *out, size_t len)
{
	const char	*p = out, *end = out + len, *nl;
	int		 accepted = 0;

	FUZZ_CHECK(len >= 4 && memcmp(out, "220 ", 4) == 0);
	while (p < end) {
		FUZZ_CHECK((nl = memchr(p, '\n', (size_t)(end - p))) != NULL);
		FUZZ_CHECK(nl - p >= 5 && nl[-1] == '\r');
		FUZZ_CHECK(nl - p + 1 <= 512);		/* RFC 5321 4.5.3.1.5 */
		FUZZ_CHECK(isdigit((unsigned char)p[0]) &&
		    isdigit((unsigned char)p[1]) &&
		    isdigit((unsigned char)p[2]) &&
		    (p[3] == ' ' || p[3] == '-'));
		FUZZ_CHECK(memchr(p, '\r', (size_t)(nl - p - 1)) == NULL);
		if (memcmp(p, "250 2.0.0 ", 10) == 0 && memmem(p,
		    (size_t)(nl - p), "Message accepted", 16) != NULL)
			accepted++;
		p = nl + 1;
	}
	return accepted;
}

/* Does a "NOTIFY=" with an empty value appear anywhere? */
static int
empty_notify(const uint8_t *p, size_t n)
{
	size_t	i;

	for (i = 0; i + 7 <= n; i++)
		if (strncasecmp((const char *)p + i, "NOTIFY=", 7) == 0 &&
		    (i + 7 == n || p[i + 7] == ' ' || p[i + 7] == '\r' ||
		    p[i + 7] == '\n'))
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stat	 st;
	char		*out;
	int		 in, outfd, accepted;

	if (size < 1)
		return 0;
	/* known bugs, when FUZZ_IGNORE names them: look past them */
	if (size > 1 && data[1] == '\n' && fuzz_ignored("line-null-data"))
		return 0;
	if (empty_notify(data, size) && fuzz_ignored("smtp-notify-empty"))
		return 0;
	if (fdir[0] == '\0')
		setup();
	fconf.max_message_size = data[0] & 2 ? 200 : 100000;
	FUZZ_CHECK((in = memfd_create("smtp-in", 0)) != -1);
	FUZZ_CHECK((outfd = memfd_create("smtp-out", 0)) != -1);
	FUZZ_CHECK(write(in, data + 1, size - 1) == (ssize_t)(size - 1));
	FUZZ_CHECK(lseek(in, 0, SEEK_SET) == 0);
	(void)smtp_session(&fconf, in, outfd, data[0] & 1 ? "127.0.0.1" : "");
	FUZZ_CHECK(fstat(outfd, &st) == 0);
	out = fuzz_exact((size_t)st.st_size);
	FUZZ_CHECK(pread(outfd, out, (size_t)st.st_size, 0) == st.st_size);
	if (getenv("FUZZ_SMTP_TRACE") != NULL)		/* the replies, to look at */
		fwrite(out, 1, (size_t)st.st_size, stderr);
	accepted = check_replies(out, (size_t)st.st_size);
	free(out);
	close(in);
	close(outfd);
	nqueued = 0;
	each_file("queue", check_queued, NULL);
	FUZZ_CHECK(nqueued == accepted);
	each_file("tmp", leftover, NULL);
	each_file("queue", remove_file, NULL);
	return 0;
}
