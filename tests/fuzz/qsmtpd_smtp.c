/*
 * qsmtpd's smtp.c, compiled here: listing $(top_srcdir)/src/qsmtpd/smtp.c
 * as a source would make automake build src/qsmtpd/smtp.o in the build
 * tree, the very object src/Makefile builds with other flags.
 */
#include "smtp.c"
