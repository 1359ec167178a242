/*
 * verify — turns a presented agent key into the agent_key row it matches:
 * from the per-process cache when this process has verified it before,
 * otherwise by one lookup of the candidate prefixes and a PBKDF2 check of
 * each row found, within the slow-hash budget of the prefix.
 */
#ifndef OTAS_VERIFY_H
#define OTAS_VERIFY_H

#include "config.h"
#include "agent_key.h"
#include "key.h"
#include "keycache.h"
#include "status.h"

/*
 * OTAS_OK with *out filled (and *cached set when no database work was
 * needed); OTAS_ERR_KEY with *why saying which of unknown, wrong secret,
 * inactive, revoked, expired, agent inactive, budget spent;
 * OTAS_ERR_UNAVAILABLE / OTAS_ERR_SERVER.  out->prefix is set for the log
 * whenever a prefix is known.
 */
enum otas_status verify_key(struct db *db, const struct otas_config *cfg,
		    const char *key, size_t len, const struct key_parts *parts,
		    struct keycache_entry *out, int *cached, const char **why);

/*
 * The database no longer accepts k (its row changed since it was
 * verified): the next verify_key of that key asks the database again.
 */
void		 verify_forget(const struct keycache_entry *k);

#endif
