/*
 * Logging: syslog facility mail, one line per event in sendmail's shape,
 * or a file named by the log_file key; with verbose, a copy on stderr.
 */
#ifndef LOG_H
#define LOG_H

#include <stddef.h>

/* Opens the log; file is NULL or "syslog" for syslog, else a path. */
void	log_init(const char *progname, const char *file, int verbose);
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_err(const char *, ...) __attribute__((format(printf, 1, 2)));
/*
 * Returns s made fit for a log line: bytes outside 0x20-0x7e become '?',
 * at most 100 are kept.  Uses one of four static buffers in turn, so up to
 * four results can appear in one call.
 */
const char *log_safe(const char *s);

#endif
