/*
 * keycache — the keys this process has verified, keyed by SHA-256 of the
 * presented key (never the key), so a key hashed with hundreds of
 * thousands of PBKDF2 iterations costs that once per process, not per
 * request.  An entry only says "this key matched this row's hashed_key";
 * whether the row is still usable is asked of the database on every
 * request (agent_session_insert).  Filled and emptied only by verify.c.
 * Bounded, thread-safe; entries are copied in and out.
 */
#ifndef OTAS_KEYCACHE_H
#define OTAS_KEYCACHE_H

#include "hash.h"
#include "key.h"
#include "uuid.h"

#define KEYCACHE_DIGEST_LEN	HASH_SHA256_LEN
#define KEYCACHE_HASH_MAX	255	/* longer hashed_key: not cached */

struct keycache_entry {
	unsigned char	digest[KEYCACHE_DIGEST_LEN];
	char		key_id[UUID_STR_LEN + 1];
	char		agent_id[UUID_STR_LEN + 1];
	char		prefix[KEY_PREFIX_MAX + 1];
	char		hashed_key[KEYCACHE_HASH_MAX + 1];
};

/* 1 and *out filled on a hit, 0 on a miss. */
int	keycache_get(const unsigned char digest[KEYCACHE_DIGEST_LEN],
	    struct keycache_entry *out);
void	keycache_put(const struct keycache_entry *e);
void	keycache_drop(const unsigned char digest[KEYCACHE_DIGEST_LEN]);

#endif
