/*
 * Users: the system's (getpwnam, shadow) or a passwd-file of virtual users
 * (/etc/passwd's layout, a crypt(3) hash in the second field).
 */
#ifndef USERS_H
#define USERS_H

#include <sys/types.h>

struct user {
	char	name[256];
	uid_t	uid;
	gid_t	gid;
	char	home[1024];
};

/*
 * Looks a user up by name in the source that spec names ("system" or
 * "passwd-file:PATH").  Returns 1 and fills u if found, 0 if not, -1 on an
 * error (unreadable file, bad spec).
 */
int	users_lookup(const char *spec, const char *name, struct user *u);
/*
 * As users_lookup(), and if the name is not found as given, in lower case
 * (mail addresses are matched without regard to case).
 */
int	users_lookup_fold(const char *spec, const char *name, struct user *u);
/*
 * Parses one passwd-file line (without its LF).  Returns 1 and fills u (and
 * hash, if not NULL) when its name field equals name, 0 otherwise, -1 if
 * the line is malformed.
 */
int	users_parse_line(const char *line, size_t len, const char *name,
	    struct user *u, char *hash, size_t hashlen);

#endif
