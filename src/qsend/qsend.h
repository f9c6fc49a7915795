/*
 * qsend: the sendmail-compatible way in.
 */
#ifndef QSEND_H
#define QSEND_H

#include "buf.h"
#include "conf.h"

#define QSEND_RCPTMAX	10000

struct qsend {
	const struct conf *conf;
	const char	*cfile;		/* -C, passed on to qrun */
	const char	*sender;	/* -f / -r, or NULL */
	const char	*fullname;	/* -F, or NULL */
	int		 from_headers;	/* -t */
	int		 dot_ends;	/* not -i: a lone "." ends the input */
	int		 verbose;	/* -v */
	char		 deliver;	/* 'b', 'i' or 'q' (-od) */
	char		*rcpts[QSEND_RCPTMAX];
	int		 nrcpt;
	struct buf	 in;		/* the message as read */
};

/* Reads the message, queues it, asks for delivery.  Returns a sysexits code. */
int	qsend_submit(struct qsend *);

#endif
