/*
 * Dropping root.  Runs before the first byte of peer input is read.
 */
#include "config.h"

#include <sys/types.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "priv.h"

int
priv_drop(uid_t uid, gid_t gid, const char *chrootdir)
{
	if (uid == 0)
		return -1;			/* "dropping" to root is a bug */
	if (chrootdir != NULL && (chroot(chrootdir) == -1 || chdir("/") == -1))
		return -1;
	if (setgroups(1, &gid) == -1 ||
	    setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		return -1;
	return setuid(0) == -1 ? 0 : -1;	/* root must be gone for good */
}

int
priv_drop_to(const char *user, const char **errstr)
{
	struct passwd	*pw;

	if (geteuid() != 0)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		*errstr = "spool user does not exist";
		return -1;
	}
	if (priv_drop(pw->pw_uid, pw->pw_gid, NULL) == -1) {
		*errstr = "cannot drop privileges to the spool user";
		return -1;
	}
	return 0;
}
