/*
 * verify — turns a presented agent key into the agent_key row it matches:
 * from the per-process cache when this process has verified it before,
 * otherwise by one lookup of the candidate prefixes and a PBKDF2 check of
 * each row found, a slow one within the process's slow-hash budget
 * (hashbudget.h).  A key verified against a slow hash is given a fast one to
 * store in its place (OTAS_REHASH).
 */
#ifndef OTAS_VERIFY_H
#define OTAS_VERIFY_H

#include "config.h"
#include "hash.h"
#include "agent_key.h"
#include "key.h"
#include "keycache.h"
#include "status.h"

/* Secrets shorter than this keep their slow hash: they may be passwords. */
#define VERIFY_REHASH_MIN_SECRET 32

/*
 * OTAS_OK with *out filled (from the cache when it holds the key), and
 * rehash holding a fast encoding of the key when the stored hash was slow
 * and should be replaced ("" otherwise); OTAS_ERR_KEY with *why saying
 * which of unknown, wrong secret, inactive, revoked, expired, agent
 * inactive; OTAS_ERR_UNAVAILABLE (database, or the slow-hash budget too far
 * behind for remote, the client's REMOTE_ADDR or NULL: hashbudget.h) /
 * OTAS_ERR_SERVER.  out->prefix is set for the log whenever a prefix is
 * known.
 */
enum otas_status verify_key(struct db *db, const struct otas_config *cfg,
		    const char *key, size_t len, const char *remote,
		    const struct key_parts *parts,
		    struct keycache_entry *out, char rehash[HASH_ENCODED_MAX],
		    const char **why);

/*
 * The database no longer accepts k (its row changed since it was
 * verified): the next verify_key of that key asks the database again.
 */
void		 verify_forget(const struct keycache_entry *k);

/* The database now holds rehash for k's row: remember that instead. */
void		 verify_rehashed(struct keycache_entry *k, const char *rehash);

#endif
