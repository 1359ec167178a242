/*
 * test_keycache — the per-process memory of verified keys (by digest, never
 * the key) and the per-prefix budget of failed slow hashes.  The cache is
 * process-global, so each test uses its own keys, prefixes and clock values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "keycache.h"

#define T0 ((time_t)1700000000)

static void
entry_for(const char *key, struct keycache_entry *e)
{
	memset(e, 0, sizeof(*e));
	assert_int_equal(keycache_digest(key, strlen(key), e->digest), 0);
	snprintf(e->key_id, sizeof(e->key_id),
	    "0190f2a4-7b3c-7d21-8e5f-0a1b2c3d4e5f");
	snprintf(e->agent_id, sizeof(e->agent_id),
	    "0190f2a4-7b3c-7d21-8e5f-ffffffffffff");
	snprintf(e->prefix, sizeof(e->prefix), "AbCdEf123456");
	snprintf(e->hashed_key, sizeof(e->hashed_key),
	    "pbkdf2_sha256$1000$salt$aGFzaA==");
}

static void
digest_is_sha256_of_the_key(void **state)
{
	static const unsigned char abc[KEYCACHE_DIGEST_LEN] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
		0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
		0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
		0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	unsigned char d[KEYCACHE_DIGEST_LEN];

	assert_int_equal(keycache_digest("abcdef", 3, d), 0);
	assert_memory_equal(d, abc, sizeof(abc));
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
digest_differing_in_last_byte_misses(void **state)
{
	struct keycache_entry e, got;
	unsigned char d[KEYCACHE_DIGEST_LEN];

	/* Same slot (the slot comes from the first bytes), not the same key. */
	entry_for("agent_AbCdEf123456_lastbyte", &e);
	keycache_put(&e);
	memcpy(d, e.digest, sizeof(d));
	d[KEYCACHE_DIGEST_LEN - 1] ^= 1;
	assert_int_equal(keycache_get(d, &got), 0);
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

static void
drop_of_another_digest_keeps_the_entry(void **state)
{
	struct keycache_entry e, got;
	unsigned char d[KEYCACHE_DIGEST_LEN];

	entry_for("agent_AbCdEf123456_kept", &e);
	keycache_put(&e);
	memcpy(d, e.digest, sizeof(d));
	d[KEYCACHE_DIGEST_LEN - 1] ^= 0x80;
	keycache_drop(d);
	assert_int_equal(keycache_get(e.digest, &got), 1);
}

static void
slow_hash_allowed_until_limit_failures_then_refused(void **state)
{
	const char *p = "budgetA";
	long i;

	for (i = 0; i < 3; i++) {
		assert_int_equal(keycache_slow_allowed(p, 3, T0 + i), 1);
		keycache_slow_failed(p, T0 + i);
	}
	assert_int_equal(keycache_slow_allowed(p, 3, T0 + 3), 0);
	assert_int_equal(keycache_slow_allowed(p, 3, T0 + 59), 0);
}

static void
slow_hash_allowed_again_after_sixty_seconds(void **state)
{
	const char *p = "budgetB";
	long i;

	for (i = 0; i < 2; i++)
		keycache_slow_failed(p, T0 + 1000);
	assert_int_equal(keycache_slow_allowed(p, 2, T0 + 1000), 0);
	assert_int_equal(keycache_slow_allowed(p, 2, T0 + 1059), 0);
	assert_int_equal(keycache_slow_allowed(p, 2, T0 + 1060), 1);
	assert_int_equal(keycache_slow_allowed(p, 2, T0 + 5000), 1);
	/* A failure in the new window starts the count again from one. */
	keycache_slow_failed(p, T0 + 5000);
	assert_int_equal(keycache_slow_allowed(p, 2, T0 + 5001), 1);
	keycache_slow_failed(p, T0 + 5001);
	assert_int_equal(keycache_slow_allowed(p, 2, T0 + 5002), 0);
}

static void
limit_zero_never_refuses(void **state)
{
	const char *p = "budgetC";
	int i;

	for (i = 0; i < 100; i++) {
		keycache_slow_failed(p, T0 + 2000);
		assert_int_equal(keycache_slow_allowed(p, 0, T0 + 2000), 1);
	}
}

static void
limit_one_refuses_after_the_first_failure(void **state)
{
	const char *p = "budgetD";

	assert_int_equal(keycache_slow_allowed(p, 1, T0 + 3000), 1);
	keycache_slow_failed(p, T0 + 3000);
	assert_int_equal(keycache_slow_allowed(p, 1, T0 + 3000), 0);
}

static void
budgets_of_two_prefixes_are_independent(void **state)
{
	const char *a = "budgetE_a", *b = "budgetE_b";
	int i;

	for (i = 0; i < 3; i++)
		keycache_slow_failed(a, T0 + 4000);
	assert_int_equal(keycache_slow_allowed(a, 3, T0 + 4000), 0);
	assert_int_equal(keycache_slow_allowed(b, 3, T0 + 4000), 1);
	assert_int_equal(keycache_slow_allowed(a, 3, T0 + 4000), 0);
	/* A prefix that merely starts like another has its own budget. */
	assert_int_equal(keycache_slow_allowed("budgetE_", 3, T0 + 4000), 1);
	assert_int_equal(keycache_slow_allowed("budgetE_aa", 3, T0 + 4000), 1);
}

static void
unknown_prefix_is_allowed(void **state)
{
	assert_int_equal(keycache_slow_allowed("never-failed", 1, T0), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(digest_is_sha256_of_the_key),
		cmocka_unit_test(put_then_get_returns_the_entry),
		cmocka_unit_test(entry_is_copied_in_not_referenced),
		cmocka_unit_test(get_of_a_different_digest_misses),
		cmocka_unit_test(digest_differing_in_last_byte_misses),
		cmocka_unit_test(drop_removes_the_entry),
		cmocka_unit_test(drop_of_another_digest_keeps_the_entry),
		cmocka_unit_test(slow_hash_allowed_until_limit_failures_then_refused),
		cmocka_unit_test(slow_hash_allowed_again_after_sixty_seconds),
		cmocka_unit_test(limit_zero_never_refuses),
		cmocka_unit_test(limit_one_refuses_after_the_first_failure),
		cmocka_unit_test(budgets_of_two_prefixes_are_independent),
		cmocka_unit_test(unknown_prefix_is_allowed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
