/*
 * Mailbox locations and the privileges to reach them.  The key is the
 * administrator's; the user name comes from the users source.
 */
#include "config.h"

#include <sys/stat.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "conf.h"
#include "mailbox.h"
#include "users.h"

int
mailbox_path(const struct conf *c, const struct user *u, char *out,
    size_t len)
{
	const char	*p = c->mailbox, *s;
	char		 one[2] = { 0, 0 };
	size_t		 o = 0, sl;

	if (strncmp(p, "mbox:", 5) != 0 || strchr(u->name, '/') != NULL)
		return -1;
	p += 5;
	if (p[0] == '~' && p[1] == '/') {
		if (strlcpy(out, u->home, len) >= len)
			return -1;
		o = strlen(out);
		p++;
	}
	for (; *p != '\0'; p++) {
		if (*p == '%' && (p[1] == 'u' || p[1] == 'h' || p[1] == '%')) {
			p++;
			s = *p == 'u' ? u->name : *p == 'h' ? u->home : "%";
		} else {
			one[0] = *p;
			s = one;
		}
		sl = strlen(s);
		if (sl >= len - o)
			return -1;
		memcpy(out + o, s, sl + 1);
		o += sl;
	}
	return o > 0 ? 0 : -1;
}

gid_t
mailbox_dir_group(const char *path, gid_t user_gid)
{
	struct stat	 st;
	char		 dir[1100], *slash;

	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir) ||
	    (slash = strrchr(dir, '/')) == NULL)
		return (gid_t)-1;
	*slash = '\0';
	if (stat(dir[0] ? dir : "/", &st) == 0 && (st.st_mode & 022) == 020 &&
	    st.st_gid != user_gid)
		return st.st_gid;
	return (gid_t)-1;
}

int
mailbox_become(uid_t uid, gid_t gid, gid_t extra)
{
	gid_t	groups[2];
	size_t	n = 1;

	if (geteuid() != 0)
		return 0;		/* a private instance: the caller */
	if (uid == 0)
		return -1;		/* never root */
	groups[0] = gid;
	if (extra != (gid_t)-1 && extra != gid)
		groups[n++] = extra;
	if (setgroups(n, groups) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1 || setuid(0) != -1)
		return -1;
	return 0;
}
