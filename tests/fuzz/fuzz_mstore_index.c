/*
 * Fuzz target for the mailbox index parser (src/lib/mstore_index.c):
 * mstore_index_parse() over any bytes.  What it accepts must be what
 * mstore_index_encode() writes for it, byte for byte (one image per
 * index), and must hold together: messages in order, one after the
 * other, inside the indexed size.
 */
#include "config.h"

#include <sys/types.h>

#include "mstore.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mstore_index	 ix, ix2;
	struct mstore_msg	*m;
	unsigned char		*img;
	const char		*why = NULL;
	size_t			 room, i;

	/* as mstore_index_load(): room from the length */
	room = size > mstore_index_len(0) ? (size - mstore_index_len(0)) /
	    (mstore_index_len(1) - mstore_index_len(0)) : 0;
	if ((m = calloc(room + 1, sizeof(*m))) == NULL)
		abort();
	if (mstore_index_parse(data, size, &ix, m, room, &why) == -1) {
		FUZZ_CHECK(why != NULL);
		FUZZ_CHECK(mstore_index_parse(data, size, &ix2, NULL, 0, &why)
		    == -1);
		free(m);
		return 0;
	}
	FUZZ_CHECK(ix.n <= room && ix.n <= MSTORE_MAX);
	FUZZ_CHECK(ix.headlen <= MSTORE_SAMPLE && ix.taillen <= MSTORE_SAMPLE);
	for (i = 0; i < ix.n; i++) {
		FUZZ_CHECK(m[i].start >= 0 && m[i].start < m[i].body &&
		    m[i].body <= m[i].end && m[i].end <= m[i].next &&
		    (unsigned long long)m[i].next <= ix.size);
		FUZZ_CHECK(i == 0 || m[i].start == m[i - 1].next);
	}
	FUZZ_CHECK(ix.n == 0 || (unsigned long long)m[ix.n - 1].next ==
	    ix.size);
	if ((img = malloc(size)) == NULL)
		abort();
	FUZZ_CHECK(mstore_index_len(ix.n) == size);
	mstore_index_encode(&ix, m, img);
	FUZZ_CHECK(memcmp(img, data, size) == 0);
	free(img);
	free(m);
	return 0;
}
