/*
 * Password checks with crypt(3): the system's users (shadow) or a
 * passwd-file of virtual users.  Only a root process can read shadow.
 */
#ifndef AUTH_H
#define AUTH_H

/*
 * Checks user's password against the users source spec ("system" or
 * "passwd-file:PATH").  Returns 1 if it matches, 0 if not (or no such
 * user: the caller cannot tell which), -1 on an error reading the source.
 */
int	auth_check(const char *spec, const char *user, const char *pass);

#endif
