/*
 * Where a user's mailbox is, from the mailbox key ("mbox:/var/mail/%u",
 * %u the user, %h or a leading ~/ the home directory).
 */
#ifndef MAILBOX_H
#define MAILBOX_H

#include <sys/types.h>
#include <stddef.h>

struct conf;
struct user;

/* Fills out with the user's mbox path.  Returns 0, or -1 if it cannot. */
int	mailbox_path(const struct conf *, const struct user *, char *out,
	    size_t len);
/*
 * The group a process handling path as user u must also hold to create
 * files beside it: the directory's group when the directory is writable by
 * its group and not by others (Debian's /var/mail, root:mail 2775); else -1.
 */
gid_t	mailbox_dir_group(const char *path, gid_t user_gid);
/*
 * Becomes the user (groups: the user's and extra, unless -1) for good.
 * Does nothing when not root.  Returns 0, or -1 (never becomes root).
 */
int	mailbox_become(uid_t uid, gid_t gid, gid_t extra);

#endif
