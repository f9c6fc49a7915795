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

/*
 * APOP (RFC 1939 7): checks that digest (hex) is MD5(banner secret) for
 * the user's clear-text secret in the file at path ("user:secret" lines).
 * Returns 1 if it matches, 0 if not, -1 if the file cannot be read.
 */
int	auth_apop(const char *path, const char *user, const char *banner,
	    const char *digest);

#endif
