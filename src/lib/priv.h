/*
 * Privilege separation helpers.
 */
#ifndef PRIV_H
#define PRIV_H

#include <sys/types.h>

/*
 * Becomes uid/gid for good (groups reset to gid); chroot first if chrootdir
 * is not NULL.  Returns 0, or -1 if any step failed or root could be
 * regained (then the caller must exit).  Dropping to uid 0 is refused.
 */
int	priv_drop(uid_t uid, gid_t gid, const char *chrootdir);
/*
 * If running as root, drops to the named user.  Returns 0 (also when not
 * root: then everything runs as the caller), or -1 with *errstr.
 */
int	priv_drop_to(const char *user, const char **errstr);

#endif
