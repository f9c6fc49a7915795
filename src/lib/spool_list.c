/*
 * The queue listing in sendmail's mailq layout, which monitoring scripts
 * parse: keep it exact.
 */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "conf.h"
#include "spool.h"
#include "state.h"

/* Prints one entry; returns 1 if printed. */
static int
list_one(const struct conf *c, const char *id, FILE *out)
{
	struct spool_env e;
	struct qstate	 st;
	struct stat	 sb;
	struct tm	 tm;
	const char	*errstr, *reason = NULL;
	char		 path[1200], buf[65536], when[32];
	ssize_t		 n;
	size_t		 hdrlen, i;
	int		 fd, have;

	snprintf(path, sizeof(path), "%s/queue/%s", c->spool, id);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf));
	if (fstat(fd, &sb) == -1 || n <= 0 ||
	    spool_env_parse(buf, (size_t)n, &e, &hdrlen, &errstr) == -1) {
		close(fd);
		fprintf(out, "%-15s (unreadable queue file)\n", id);
		return 1;
	}
	close(fd);
	have = state_load(c->spool, id, e.nrcpt, &st, &errstr) == 1;
	localtime_r(&e.arrival, &tm);
	strftime(when, sizeof(when), "%a %b %d %H:%M", &tm);
	fprintf(out, "%-15s %8lld %.16s %s\n", id, (long long)sb.st_size -
	    (long long)hdrlen, when, e.sender[0] ? e.sender : "<>");
	for (i = 0; have && i < st.n; i++)
		if (st.t[i].status == T_PENDING && st.t[i].error[0])
			reason = st.t[i].error;
	if (reason != NULL)
		fprintf(out, "                 (%s)\n", reason +
		    (strlen(reason) > 6 && reason[1] == '.' ? 6 : 0));
	for (i = 0; i < e.nrcpt; i++) {
		size_t k;
		int pending = !have;

		for (k = 0; have && k < st.n; k++)
			if ((size_t)st.t[k].rcpt == i &&
			    st.t[k].status == T_PENDING)
				pending = 1;
		if (pending)
			fprintf(out, "%41s%s\n", "", e.rcpts[i].addr);
	}
	if (have)
		state_free(&st);
	spool_env_free(&e);
	return 1;
}

int
spool_list(const struct conf *c, FILE *out)
{
	struct dirent	**ents;
	char		  dir[1100];
	int		  n, i, count = 0;

	snprintf(dir, sizeof(dir), "%s/queue", c->spool);
	if ((n = qid_scandir(dir, &ents)) == -1 &&
	    errno != ENOENT) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (n <= 0) {
		fprintf(out, "Mail queue is empty\n");
		if (n == 0)
			free(ents);
		return 0;
	}
	fprintf(out, "\t\t%s (%d request%s)\n", dir, n, n == 1 ? "" : "s");
	fprintf(out, "-----Q-ID------ --Size-- -----Q-Time----- "
	    "------------Sender/Recipient-----------\n");
	for (i = 0; i < n; i++) {
		count += list_one(c, ents[i]->d_name, out);
		free(ents[i]);
	}
	free(ents);
	return count;
}
