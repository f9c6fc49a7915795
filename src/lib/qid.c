/*
 * Queue IDs: six base-62 digits of seconds, four of microseconds, four of
 * the process ID and one of a per-process counter.  The alphabet is in
 * ASCII order, so IDs sort by arrival; the PID keeps two processes apart
 * within one microsecond, the counter one process.
 */
#include "config.h"

#include <sys/time.h>
#include <dirent.h>
#include <string.h>
#include <unistd.h>

#include "spool.h"

static const char qid_digits[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static void
qid_put(char *out, unsigned long long v, int n)
{
	while (n-- > 0) {
		out[n] = qid_digits[v % 62];
		v /= 62;
	}
}

void
qid_make(char out[QID_LEN + 1])
{
	static unsigned		counter;
	struct timeval		tv;

	gettimeofday(&tv, NULL);
	qid_put(out, (unsigned long long)tv.tv_sec, 6);
	qid_put(out + 6, (unsigned long long)tv.tv_usec, 4);
	qid_put(out + 10, (unsigned long long)getpid(), 4);
	qid_put(out + 14, counter++ % 62, 1);
	out[QID_LEN] = '\0';
}

int
qid_valid(const char *s)
{
	size_t	i;

	for (i = 0; i < QID_LEN; i++)
		if (s[i] == '\0' || strchr(qid_digits, s[i]) == NULL)
			return 0;
	return s[QID_LEN] == '\0';
}

static int
qid_entry(const struct dirent *d)
{
	return qid_valid(d->d_name);
}

static int
qid_order(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int
qid_scandir(const char *dir, struct dirent ***ents)
{
	return scandir(dir, ents, qid_entry, qid_order);
}
