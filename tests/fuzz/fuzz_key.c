/*
 * fuzz_key — libFuzzer target for key_parse (lib/key.h), the syntax check
 * every X-OTAS-AGENT-KEY value meets before any database work.
 *
 * The input is the header value, not NUL-terminated (req.c hands key.c a
 * pointer and a length).  The verdict is compared with a plain reference
 * written from the header comment: a key is accepted exactly when it is
 * well formed, and then the candidate prefixes are exactly the parts between
 * "agent_" and each later '_' that leaves a non-empty secret, shortest first.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
alphabet(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* The reference: fills want[] with prefix lengths, returns their number. */
static int
reference(const uint8_t *d, size_t size, size_t want[KEY_MAX_SPLITS])
{
	const size_t head = sizeof(KEY_HEAD) - 1;
	size_t i;
	int n = 0;

	if (size <= head || size > KEY_MAX_LEN ||
	    memcmp(d, KEY_HEAD, head) != 0)
		return 0;
	for (i = 0; i < size; i++)
		if (!alphabet(d[i]))
			return 0;
	for (i = head + 1; i + 1 < size && n < KEY_MAX_SPLITS; i++)
		if (d[i] == '_' && i - head <= KEY_PREFIX_MAX)
			want[n++] = i - head;
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t want[KEY_MAX_SPLITS];
	struct key_parts k;
	int n, rc, i;

	n = reference(data, size, want);
	rc = key_parse((const char *)data, size, &k);
	if ((rc == 0) != (n > 0))
		abort();
	if (rc != 0) {
		if (k.nprefix != 0)
			abort();
		return 0;
	}
	if (k.nprefix != n)
		abort();
	for (i = 0; i < n; i++) {
		size_t len = strlen(k.prefix[i]);

		/* Non-empty, the key's text right after "agent_", then '_'. */
		if (len == 0 || len != want[i] || len > KEY_PREFIX_MAX ||
		    memcmp(k.prefix[i], data + 6, len) != 0 ||
		    data[6 + len] != '_' || 6 + len + 1 >= size)
			abort();
	}
	return 0;
}
