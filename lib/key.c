/*
 * key — syntax only; whether a key is real is the database's and hash.c's
 * business.  Everything here runs before any database work, so a malformed
 * key costs nothing.
 */
#include <string.h>

#include "key.h"

static int
key_byte_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int
key_parse(const char *key, size_t len, struct key_parts *out)
{
	const size_t head = sizeof(KEY_HEAD) - 1;
	const char *rest;
	size_t i, n;

	memset(out, 0, sizeof(*out));
	if (key == NULL || len <= head || len > KEY_MAX_LEN ||
	    memcmp(key, KEY_HEAD, head) != 0)
		return -1;
	for (i = 0; i < len; i++)
		if (!key_byte_ok((unsigned char)key[i]))
			return -1;

	/* Every '_' after a non-empty prefix and before a non-empty secret. */
	rest = key + head;
	n = len - head;
	for (i = 1; i + 1 < n && i <= KEY_PREFIX_MAX &&
	    out->nprefix < KEY_MAX_SPLITS; i++) {
		if (rest[i] != '_')
			continue;
		memcpy(out->prefix[out->nprefix], rest, i);
		out->prefix[out->nprefix][i] = '\0';
		out->nprefix++;
	}
	return out->nprefix > 0 ? 0 : -1;
}
