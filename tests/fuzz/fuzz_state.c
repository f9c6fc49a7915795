/*
 * Fuzz target for state_parse() (src/lib/state.c), a delivery state file.
 * ctl[0] % 8 is the number of envelope recipients, the rest the file.  What
 * parses must keep the promises of state.h (recipients that exist, parents
 * before children, terminated strings), cover every recipient, and read
 * back the same when written again the way state_save() writes it.
 */
#include "config.h"

#include "buf.h"
#include "spool.h"
#include "state.h"
#include "fuzz.h"

static void
put_str(struct buf *b, const char *s)
{
	FUZZ_CHECK(buf_append(b, " :", 2) == 0 && spool_escape(s, b) == 0);
}

/* What state_format() (src/lib/state.c) writes. */
static void
write_state(struct buf *b, const struct qstate *q)
{
	const struct target	*t;
	size_t			 i;

	FUZZ_CHECK(buf_printf(b, "%s\nwarned %d\ntried %d\n", STATE_VERSION,
	    q->warned, q->tried) == 0);
	for (i = 0; i < q->n; i++) {
		t = &q->t[i];
		FUZZ_CHECK(buf_printf(b, "t %s %s %d %d %u %lld",
		    state_status_name(t->status), state_kind_name(t->kind),
		    t->parent, t->rcpt, t->attempts, (long long)t->next) == 0);
		put_str(b, t->addr);
		put_str(b, t->owner);
		put_str(b, t->error);
		FUZZ_CHECK(buf_append(b, "\n", 1) == 0);
	}
}

static void
check_state(const struct qstate *q, size_t nrcpt)
{
	const struct target	*t;
	size_t			 i, r;
	int			 covered;

	FUZZ_CHECK(q->n >= nrcpt && q->n <= STATE_TMAX && q->n <= q->cap);
	FUZZ_CHECK(q->warned == 0 || q->warned == 1);
	FUZZ_CHECK(q->tried == 0 || q->tried == 1);
	for (i = 0; i < q->n; i++) {
		t = &q->t[i];
		FUZZ_CHECK(t->status >= T_PENDING && t->status <= T_EXPANDED);
		FUZZ_CHECK(t->kind >= K_ADDR && t->kind <= K_REMOTE);
		FUZZ_CHECK(t->parent >= -1 && t->parent < (int)i);
		FUZZ_CHECK(t->rcpt >= 0 && (size_t)t->rcpt < nrcpt);
		FUZZ_CHECK(fuzz_terminated(t->addr, sizeof(t->addr)));
		FUZZ_CHECK(fuzz_terminated(t->owner, sizeof(t->owner)));
		FUZZ_CHECK(fuzz_terminated(t->error, sizeof(t->error)));
		/* a target descends from its parent's recipient */
		if (t->parent >= 0)
			FUZZ_CHECK_BUG("state-rcpt-parent",
			    t->rcpt == q->t[t->parent].rcpt);
	}
	/* every recipient has a target of its own, or it is lost */
	for (r = 0; r < nrcpt; r++) {
		covered = 0;
		for (i = 0; i < q->n && !covered; i++)
			covered = q->t[i].parent == -1 &&
			    (size_t)q->t[i].rcpt == r;
		FUZZ_CHECK_BUG("state-rcpt-uncovered", covered);
	}
}

static void
check_rewrite(const struct qstate *q, size_t nrcpt)
{
	struct qstate	 q2;
	struct buf	 b;
	const char	*errstr = NULL;
	size_t		 i;

	buf_init(&b, 64 * 1024 * 1024);
	write_state(&b, q);
	FUZZ_CHECK(state_parse(b.data, b.len, nrcpt, &q2, &errstr) == 0);
	FUZZ_CHECK(q2.n == q->n && q2.warned == q->warned &&
	    q2.tried == q->tried);
	for (i = 0; i < q->n; i++) {
		FUZZ_CHECK(q2.t[i].status == q->t[i].status &&
		    q2.t[i].kind == q->t[i].kind &&
		    q2.t[i].parent == q->t[i].parent &&
		    q2.t[i].rcpt == q->t[i].rcpt &&
		    q2.t[i].attempts == q->t[i].attempts &&
		    q2.t[i].next == q->t[i].next);
		FUZZ_CHECK(strcmp(q2.t[i].addr, q->t[i].addr) == 0 &&
		    strcmp(q2.t[i].owner, q->t[i].owner) == 0 &&
		    strcmp(q2.t[i].error, q->t[i].error) == 0);
	}
	state_free(&q2);
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qstate	 q;
	const char	*errstr = NULL;
	size_t		 nrcpt;

	if (size < 1)
		return 0;
	nrcpt = data[0] % 8;
	if (state_parse((const char *)data + 1, size - 1, nrcpt, &q, &errstr)
	    == 0) {
		check_state(&q, nrcpt);
		check_rewrite(&q, nrcpt);
	} else {
		FUZZ_CHECK(errstr != NULL);
		FUZZ_CHECK(q.t == NULL && q.n == 0);
	}
	state_free(&q);
	return 0;
}
