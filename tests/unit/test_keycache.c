/*
 * test_keycache — the per-process memory of verified keys (by digest, never
 * the key).  The cache is process-global, so each test uses its own keys.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "hash.h"
#include "keycache.h"

static void
entry_for(const char *key, struct keycache_entry *e)
{
	memset(e, 0, sizeof(*e));
	assert_int_equal(hash_sha256(key, strlen(key), e->digest), 0);
	snprintf(e->key_id, sizeof(e->key_id),
	    "0190f2a4-7b3c-7d21-8e5f-0a1b2c3d4e5f");
	snprintf(e->agent_id, sizeof(e->agent_id),
	    "0190f2a4-7b3c-7d21-8e5f-ffffffffffff");
	snprintf(e->prefix, sizeof(e->prefix), "AbCdEf123456");
	snprintf(e->hashed_key, sizeof(e->hashed_key),
	    "pbkdf2_sha256$1000$salt$aGFzaA==");
}

static void
put_then_get_returns_the_entry(void **state)
{
	struct keycache_entry e, got;

	entry_for("agent_AbCdEf123456_roundtrip", &e);
	keycache_put(&e);
	memset(&got, 0, sizeof(got));
	assert_int_equal(keycache_get(e.digest, &got), 1);
	assert_memory_equal(got.digest, e.digest, KEYCACHE_DIGEST_LEN);
	assert_string_equal(got.key_id, e.key_id);
	assert_string_equal(got.agent_id, e.agent_id);
	assert_string_equal(got.prefix, e.prefix);
	assert_string_equal(got.hashed_key, e.hashed_key);
}

static void
entry_is_copied_in_not_referenced(void **state)
{
	struct keycache_entry e, got;

	entry_for("agent_AbCdEf123456_copied", &e);
	keycache_put(&e);
	snprintf(e.hashed_key, sizeof(e.hashed_key), "changed");
	assert_int_equal(keycache_get(e.digest, &got), 1);
	assert_string_equal(got.hashed_key, "pbkdf2_sha256$1000$salt$aGFzaA==");
}

/* key's entry cached in e; d its digest with mask flipped in the last
 * byte. */
static void
put_and_flip_last(const char *key, struct keycache_entry *e,
    unsigned char d[KEYCACHE_DIGEST_LEN], unsigned char mask)
{
	entry_for(key, e);
	keycache_put(e);
	memcpy(d, e->digest, KEYCACHE_DIGEST_LEN);
	d[KEYCACHE_DIGEST_LEN - 1] ^= mask;
}

static void
get_of_a_different_digest_misses(void **state)
{
	struct keycache_entry e, other, got;

	entry_for("agent_AbCdEf123456_present", &e);
	entry_for("agent_AbCdEf123456_absent", &other);
	keycache_put(&e);
	assert_int_equal(keycache_get(other.digest, &got), 0);
}

static void
last_byte_differing_misses_and_drops_nothing(void **state)
{
	struct keycache_entry e, got;
	unsigned char d[KEYCACHE_DIGEST_LEN];

	/* Same slot (the slot comes from the first bytes), not the same key. */
	put_and_flip_last("agent_AbCdEf123456_lastbyte", &e, d, 1);
	assert_int_equal(keycache_get(d, &got), 0);
	assert_int_equal(keycache_get(e.digest, &got), 1);
	put_and_flip_last("agent_AbCdEf123456_kept", &e, d, 0x80);
	keycache_drop(d);
	assert_int_equal(keycache_get(e.digest, &got), 1);
}

static void
drop_removes_the_entry(void **state)
{
	struct keycache_entry e, got;

	entry_for("agent_AbCdEf123456_dropped", &e);
	keycache_put(&e);
	assert_int_equal(keycache_get(e.digest, &got), 1);
	keycache_drop(e.digest);
	assert_int_equal(keycache_get(e.digest, &got), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(put_then_get_returns_the_entry),
		cmocka_unit_test(entry_is_copied_in_not_referenced),
		cmocka_unit_test(get_of_a_different_digest_misses),
		cmocka_unit_test(last_byte_differing_misses_and_drops_nothing),
		cmocka_unit_test(drop_removes_the_entry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
