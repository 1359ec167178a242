/*
 * verify — the only place a presented key meets a stored hash.  The state
 * of a matched row is judged after the hash matches, so the log can say
 * "revoked" rather than "no such key"; the client hears the same 401 for
 * every case either way, after the same work: a key whose prefix matches
 * no row is checked against a dummy hash.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "hash.h"
#include "hashbudget.h"
#include "metrics.h"
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

/* A slow hash waits for its turn in the process's budget (hashbudget.h). */
static enum otas_status
slow_turn(const struct otas_config *cfg, long iterations, const char *remote,
    const char **why)
{
	if (iterations <= cfg->slow_hash_iterations)
		return OTAS_OK;
	if (hashbudget_wait(iterations, cfg->slow_hash_rate, remote) == 0) {
		metrics_count(METRICS_SLOW_HASHES);
		metrics_add(METRICS_SLOW_HASH_ITERATIONS, (uint64_t)iterations);
		return OTAS_OK;
	}
	metrics_count(METRICS_SLOW_HASHES_REFUSED);
	*why = "slow-hash budget too far behind for this address";
	return OTAS_ERR_UNAVAILABLE;
}

/*
 * The hash a presented key is checked against when no row could be: an
 * unknown prefix then costs the same PBKDF2 as a known prefix with a wrong
 * secret (at the iteration count keys get here, which legacy keys reach on
 * first use), so the time of a 401 does not tell whether a prefix exists.
 */
static char dummy[HASH_ENCODED_MAX];
static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;

/* What one verification checks, and for whom (the budget's share). */
struct presented {
	const struct otas_config *cfg;
	const char	*key;
	size_t		 len;
	const char	*remote;	/* REMOTE_ADDR, or NULL */
};

static enum otas_status
check_dummy(const struct presented *pk, const char **why)
{
	const struct otas_config *cfg = pk->cfg;
	char enc[HASH_ENCODED_MAX];

	pthread_mutex_lock(&dummy_lock);
	if (dummy[0] == '\0' && hash_make("agent_dummy_key", 15,
	    cfg->key_iterations, dummy, sizeof(dummy)) == -1)
		dummy[0] = '\0';
	memcpy(enc, dummy, sizeof(enc));
	pthread_mutex_unlock(&dummy_lock);
	if (slow_turn(cfg, cfg->key_iterations, pk->remote, why) != OTAS_OK)
		return OTAS_ERR_UNAVAILABLE;
	(void)hash_verify(pk->key, pk->len, enc);
	return OTAS_ERR_KEY;
}

/* The secret's length: what follows "agent_<prefix>_". */
static size_t
secret_len(size_t len, const char *prefix)
{
	size_t head = sizeof(KEY_HEAD) - 1 + strlen(prefix) + 1;

	return len > head ? len - head : 0;
}

/*
 * A key verified against a slow hash gets a fast one in its place (the
 * database swaps it in the session's own statement), if the operator lets
 * us and the secret is machine-made: a short one may be a password a slow
 * hash still protects.
 */
static void
want_rehash(const struct otas_config *cfg, const char *key, size_t len,
    const char *prefix, char rehash[HASH_ENCODED_MAX])
{
	/* A new hash that is itself slow would be replaced again and again. */
	if (!cfg->rehash || secret_len(len, prefix) < VERIFY_REHASH_MIN_SECRET ||
	    cfg->key_iterations > cfg->slow_hash_iterations)
		return;
	if (hash_make(key, len, cfg->key_iterations, rehash,
	    HASH_ENCODED_MAX) == -1)
		rehash[0] = '\0';
}

/*
 * Checks the rows in turn; returns OTAS_OK when one matches and is usable.
 * A slow hash waits for its address's share of the host's budget first:
 * never refused for failures, so guesses cannot lock the owner of a
 * prefix out (at worst a 503 to retry, when the budget is too far behind
 * for the guesser's address).
 */
static enum otas_status
check_rows(const struct presented *pk, struct agent_key_row *rows, int n,
    struct keycache_entry *out, char rehash[HASH_ENCODED_MAX],
    const char **why)
{
	const struct otas_config *cfg = pk->cfg;
	int i, hashed = 0;

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
		if (slow_turn(cfg, iter, pk->remote, why) != OTAS_OK)
			return OTAS_ERR_UNAVAILABLE;
		hashed++;
		if (hash_verify(pk->key, pk->len, r->hashed_key) != HASH_MATCH) {
			*why = "wrong secret";
			continue;
		}
		if (row_usable(r, why) != OTAS_OK)
			return OTAS_ERR_KEY;
		fill(out, r);
		if (slow)
			want_rehash(cfg, pk->key, pk->len, r->prefix, rehash);
		return OTAS_OK;
	}
	if (hashed == 0)
		return check_dummy(pk, why);
	return OTAS_ERR_KEY;
}

enum otas_status
verify_key(struct db *db, const struct otas_config *cfg, const char *key,
    size_t len, const char *remote, const struct key_parts *parts,
    struct keycache_entry *out, char rehash[HASH_ENCODED_MAX],
    const char **why)
{
	struct presented pk = { cfg, key, len, remote };
	struct agent_key_row rows[AGENT_KEY_MAX_ROWS];
	enum otas_status st;
	int n;

	memset(out, 0, sizeof(*out));
	rehash[0] = '\0';
	memcpy(out->prefix, parts->prefix[0], sizeof(out->prefix));
	if (hash_sha256(key, len, out->digest) == -1) {
		*why = "SHA-256 failed";
		return OTAS_ERR_SERVER;
	}
	if (keycache_get(out->digest, out)) {
		metrics_count(METRICS_KEY_CACHE_HITS);
		return OTAS_OK;
	}
	metrics_count(METRICS_KEY_CACHE_MISSES);
	if ((st = agent_key_lookup(db, parts, rows, &n, why)) != OTAS_OK)
		return st;
	st = check_rows(&pk, rows, n, out, rehash, why);
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

void
verify_rehashed(struct keycache_entry *k, const char *rehash)
{
	snprintf(k->hashed_key, sizeof(k->hashed_key), "%s", rehash);
	keycache_put(k);
}
