/*
 * verify — the only place a presented key meets a stored hash.  The state
 * of a matched row is judged after the hash matches, so the log can say
 * "revoked" rather than "no such key"; the client hears the same 401 for
 * every case either way.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hash.h"
#include "slowhash.h"
#include "verify.h"

/* Whether a row whose hash matched may be used now. */
static enum otas_status
row_usable(const struct agent_key_row *r, const char **why)
{
	if (!r->active)
		*why = "key inactive";
	else if (r->revoked)
		*why = "key revoked";
	else if (r->expired)
		*why = "key expired";
	else if (!r->agent_active)
		*why = "agent inactive";
	else
		return OTAS_OK;
	return OTAS_ERR_KEY;
}

static void
fill(struct keycache_entry *out, const struct agent_key_row *r)
{
	snprintf(out->key_id, sizeof(out->key_id), "%s", r->id);
	snprintf(out->agent_id, sizeof(out->agent_id), "%s", r->agent_id);
	snprintf(out->prefix, sizeof(out->prefix), "%s", r->prefix);
	snprintf(out->hashed_key, sizeof(out->hashed_key), "%s",
	    r->hashed_key);
}

/* Checks the rows in turn; returns OTAS_OK when one matches and is usable. */
static enum otas_status
check_rows(const struct otas_config *cfg, const char *key, size_t len,
    struct agent_key_row *rows, int n, struct keycache_entry *out,
    const char **why)
{
	time_t now = time(NULL);
	int i;

	*why = "unknown key prefix";
	for (i = 0; i < n; i++) {
		struct agent_key_row *r = &rows[i];
		long iter = hash_iterations(r->hashed_key);
		int slow = iter > cfg->slow_hash_iterations;

		snprintf(out->prefix, sizeof(out->prefix), "%s", r->prefix);
		if (iter < 0 || strlen(r->hashed_key) > KEYCACHE_HASH_MAX) {
			*why = "stored hash is not pbkdf2_sha256";
			continue;
		}
		if (slow && !slowhash_allowed(r->prefix,
		    cfg->slow_failures, now)) {
			*why = "slow-hash budget of this prefix spent";
			continue;
		}
		if (hash_verify(key, len, r->hashed_key) != HASH_MATCH) {
			if (slow)
				slowhash_failed(r->prefix, now);
			*why = "wrong secret";
			continue;
		}
		if (row_usable(r, why) != OTAS_OK) {
			if (slow)
				slowhash_failed(r->prefix, now);
			return OTAS_ERR_KEY;
		}
		fill(out, r);
		return OTAS_OK;
	}
	return OTAS_ERR_KEY;
}

enum otas_status
verify_key(struct db *db, const struct otas_config *cfg, const char *key,
    size_t len, const struct key_parts *parts, struct keycache_entry *out,
    int *cached, const char **why)
{
	struct agent_key_row rows[AGENT_KEY_MAX_ROWS];
	enum otas_status st;
	int n;

	memset(out, 0, sizeof(*out));
	*cached = 0;
	memcpy(out->prefix, parts->prefix[0], sizeof(out->prefix));
	if (hash_sha256(key, len, out->digest) == -1) {
		*why = "SHA-256 failed";
		return OTAS_ERR_SERVER;
	}
	if (keycache_get(out->digest, out)) {
		*cached = 1;
		return OTAS_OK;
	}
	if ((st = agent_key_lookup(db, parts, rows, &n, why)) != OTAS_OK)
		return st;
	st = check_rows(cfg, key, len, rows, n, out, why);
	agent_key_rows_free(rows, n);
	if (st == OTAS_OK)
		keycache_put(out);
	return st;
}

void
verify_forget(const struct keycache_entry *k)
{
	keycache_drop(k->digest);
}
