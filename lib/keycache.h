/*
 * keycache — what one process remembers about agent keys, bounded:
 *  - verified keys, keyed by SHA-256 of the presented key (never the key),
 *    so a key hashed with hundreds of thousands of PBKDF2 iterations costs
 *    that once per process, not per request.  An entry only says "this key
 *    matched this row's hashed_key"; whether the row is still usable is
 *    asked of the database on every request (agent_session_insert).
 *  - failed slow verifications per prefix, so a wrong secret for a known
 *    prefix cannot buy an attacker a slow hash per request.
 * Thread-safe; entries are copied in and out.
 */
#ifndef OTAS_KEYCACHE_H
#define OTAS_KEYCACHE_H

#include <stddef.h>
#include <time.h>

#include "key.h"
#include "uuid.h"

#define KEYCACHE_DIGEST_LEN	32
#define KEYCACHE_HASH_MAX	255	/* longer hashed_key: not cached */

struct keycache_entry {
	unsigned char	digest[KEYCACHE_DIGEST_LEN];
	char		key_id[UUID_STR_LEN + 1];
	char		agent_id[UUID_STR_LEN + 1];
	char		prefix[KEY_PREFIX_MAX + 1];
	char		hashed_key[KEYCACHE_HASH_MAX + 1];
};

/* SHA-256 of key[0..len); returns 0, or -1 if OpenSSL fails. */
int	keycache_digest(const char *key, size_t len,
	    unsigned char out[KEYCACHE_DIGEST_LEN]);

/* 1 and *out filled on a hit, 0 on a miss. */
int	keycache_get(const unsigned char digest[KEYCACHE_DIGEST_LEN],
	    struct keycache_entry *out);
void	keycache_put(const struct keycache_entry *e);
void	keycache_drop(const unsigned char digest[KEYCACHE_DIGEST_LEN]);

/*
 * The slow-hash budget of a prefix: keycache_slow_allowed is 1 while fewer
 * than limit slow verifications for prefix have failed in its current
 * one-minute window, which opens at the first failure (so at most 2 x limit
 * fit in any 60 s; limit 0: never refused); keycache_slow_failed counts one.
 */
int	keycache_slow_allowed(const char *prefix, long limit, time_t now);
void	keycache_slow_failed(const char *prefix, time_t now);

#endif
