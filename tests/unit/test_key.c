/*
 * test_key — key_parse: the syntax of
 * `agent_<prefix>_<secret>` as a client presents it.  The original backend
 * makes prefixes with Python's secrets.token_urlsafe(8) (11 characters of
 * [A-Za-z0-9_-]), so a prefix may hold '_' and '-'; every split point is a
 * candidate, and the true prefix must always be among them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "key.h"

/* Parses a NUL-terminated key; the length is strlen's. */
static int
parse(const char *key, struct key_parts *k)
{
	return key_parse(key, strlen(key), k);
}

static void
assert_candidates(const struct key_parts *k, const char *const *want, int n)
{
	int i;

	assert_int_equal(k->nprefix, n);
	for (i = 0; i < n; i++)
		assert_string_equal(k->prefix[i], want[i]);
}

/* A key of exactly len bytes: "agent_" prefix "_" and 's' to fill. */
static void
make_key(char *buf, size_t len, const char *prefix)
{
	size_t used;

	assert_true(len < 2048);
	used = (size_t)snprintf(buf, len + 1, "agent_%s_", prefix);
	assert_true(used < len);
	memset(buf + used, 's', len - used);
	buf[len] = '\0';
}

/*
 * Each key and its candidate prefixes, shortest first: every split point
 * at '_' in what may be the prefix.
 */
static const struct {
	const char	*key;
	const char	*want[KEY_MAX_SPLITS];
} splits[] = {
	{ "agent_AbCdEf123456_c2VjcmV0LXNlY3JldA", { "AbCdEf123456" } },
	/* token_urlsafe(8)-like prefix "ab_-cd_efgh" with secret "S3_x". */
	{ "agent_ab_-cd_efgh_S3_x",
	  { "ab", "ab_-cd", "ab_-cd_efgh", "ab_-cd_efgh_S3" } },
	{ "agent_-x9-Qz-0a-B_secret-with-dash", { "-x9-Qz-0a-B" } },
	/* prefix "Ab3def-gh_" (token_urlsafe may end in '_'), secret "x". */
	{ "agent_Ab3def-gh__x", { "Ab3def-gh", "Ab3def-gh_" } },
	{ "agent_P_a_b_c", { "P", "P_a", "P_a_b" } },
};

static void
each_key_gives_the_candidates_the_table_lists(void **state)
{
	struct key_parts k;
	size_t i;
	int n;

	for (i = 0; i < sizeof(splits) / sizeof(splits[0]); i++) {
		assert_int_equal(parse(splits[i].key, &k), 0);
		for (n = 0; n < KEY_MAX_SPLITS && splits[i].want[n]; n++)
			;
		assert_candidates(&k, splits[i].want, n);
	}
}

static void
prefix_starting_with_underscore_is_found(void **state)
{
	struct key_parts k;
	int i, found = 0;

	/* token_urlsafe can start with '_': "agent__Ab3def-gh_secret". */
	assert_int_equal(parse("agent__Ab3def-gh_secret", &k), 0);
	for (i = 0; i < k.nprefix; i++)
		found |= strcmp(k.prefix[i], "_Ab3def-gh") == 0;
	assert_true(found);
}

static void
candidates_are_capped_at_key_max_splits(void **state)
{
	struct key_parts k;
	char key[128];
	size_t i, n = 0;
	char want[KEY_PREFIX_MAX + 1];

	n = (size_t)snprintf(key, sizeof(key), "agent_");
	for (i = 0; i < 2 * KEY_MAX_SPLITS; i++) {
		key[n++] = 'a';
		key[n++] = '_';
	}
	key[n++] = 's';
	key[n] = '\0';
	assert_int_equal(key_parse(key, n, &k), 0);
	assert_int_equal(k.nprefix, KEY_MAX_SPLITS);
	/* The shortest ones are kept: "a", "a_a", "a_a_a", ... */
	for (i = 0; i < KEY_MAX_SPLITS; i++) {
		memcpy(want, key + 6, 2 * i + 1);
		want[2 * i + 1] = '\0';
		assert_string_equal(k.prefix[i], want);
	}
}

static void
prefix_of_key_prefix_max_bytes_is_accepted(void **state)
{
	struct key_parts k;
	char prefix[KEY_PREFIX_MAX + 1], key[256];

	memset(prefix, 'p', KEY_PREFIX_MAX);
	prefix[KEY_PREFIX_MAX] = '\0';
	make_key(key, 6 + KEY_PREFIX_MAX + 1 + 20, prefix);
	assert_int_equal(parse(key, &k), 0);
	assert_int_equal(k.nprefix, 1);
	assert_string_equal(k.prefix[0], prefix);
}

static void
prefix_longer_than_key_prefix_max_is_refused(void **state)
{
	struct key_parts k;
	char prefix[KEY_PREFIX_MAX + 2], key[256];

	memset(prefix, 'p', KEY_PREFIX_MAX + 1);
	prefix[KEY_PREFIX_MAX + 1] = '\0';
	make_key(key, 6 + KEY_PREFIX_MAX + 2 + 20, prefix);
	assert_int_equal(parse(key, &k), -1);
}

static void
splits_past_key_prefix_max_are_not_candidates(void **state)
{
	struct key_parts k;
	char prefix[KEY_PREFIX_MAX + 8], key[256];

	/* "ab_" then 70 'p': only "ab" is a short enough candidate. */
	memcpy(prefix, "ab_", 3);
	memset(prefix + 3, 'p', KEY_PREFIX_MAX + 2);
	prefix[KEY_PREFIX_MAX + 5] = '\0';
	make_key(key, 200, prefix);
	assert_int_equal(parse(key, &k), 0);
	assert_int_equal(k.nprefix, 1);
	assert_string_equal(k.prefix[0], "ab");
}

static void
key_of_exactly_key_max_len_is_accepted(void **state)
{
	struct key_parts k;
	char key[KEY_MAX_LEN + 1];

	make_key(key, KEY_MAX_LEN, "AbCdEf123456");
	assert_int_equal(strlen(key), KEY_MAX_LEN);
	assert_int_equal(key_parse(key, KEY_MAX_LEN, &k), 0);
	assert_int_equal(k.nprefix, 1);
	assert_string_equal(k.prefix[0], "AbCdEf123456");
}

static void
key_one_byte_over_key_max_len_is_refused(void **state)
{
	struct key_parts k;
	char key[KEY_MAX_LEN + 2];

	make_key(key, KEY_MAX_LEN + 1, "AbCdEf123456");
	assert_int_equal(key_parse(key, KEY_MAX_LEN + 1, &k), -1);
}

static void
empty_key_is_refused(void **state)
{
	struct key_parts k;

	assert_int_equal(key_parse("", 0, &k), -1);
	assert_int_equal(key_parse("agent_a_b", 0, &k), -1);
}

static void
head_alone_is_refused(void **state)
{
	struct key_parts k;

	assert_int_equal(parse("agent_", &k), -1);
	assert_int_equal(parse("agent", &k), -1);
	assert_int_equal(parse("agent__", &k), -1);
}

static void
key_without_secret_is_refused(void **state)
{
	struct key_parts k;

	assert_int_equal(parse("agent_AbCdEf123456", &k), -1);
	assert_int_equal(parse("agent_AbCdEf123456_", &k), -1);
}

static void
key_without_prefix_is_refused(void **state)
{
	struct key_parts k;

	assert_int_equal(parse("agent__secret", &k), -1);
	assert_int_equal(parse("agent_secretonly", &k), -1);
}

static void
key_without_agent_head_is_refused(void **state)
{
	struct key_parts k;

	assert_int_equal(parse("Agent_abc_secret", &k), -1);
	assert_int_equal(parse("agents_abc_secret", &k), -1);
	assert_int_equal(parse("agent-abc_secret", &k), -1);
	assert_int_equal(parse("xagent_abc_secret", &k), -1);
	assert_int_equal(parse("abc_secret", &k), -1);
}

static void
head_is_checked_within_len_only(void **state)
{
	struct key_parts k;

	/* The bytes after len are not part of the key. */
	assert_int_equal(key_parse("agent_ab_cdEXTRA", 11, &k), 0);
	assert_int_equal(k.nprefix, 1);
	assert_string_equal(k.prefix[0], "ab");
	assert_int_equal(key_parse("agent_ab_cd", 9, &k), -1);
}

static void
bad_bytes_are_refused_anywhere(void **state)
{
	static const char bad[] = { ' ', ',', '.', '=', '+', '/', ':', ';',
	    '"', '\'', '{', '}', '\\', '\t', '\n', '\r', '%', '*', '\x7f' };
	struct key_parts k;
	char key[32];
	size_t i, pos;
	const size_t where[] = { 7, 10, 14 };	/* prefix, '_' neighbour, secret */

	for (i = 0; i < sizeof(bad); i++) {
		for (pos = 0; pos < sizeof(where) / sizeof(where[0]); pos++) {
			memcpy(key, "agent_abcd_secretxyz", 21);
			key[where[pos]] = bad[i];
			if (key_parse(key, 20, &k) != -1)
				fail_msg("byte 0x%02x at %zu accepted",
				    (unsigned char)bad[i], where[pos]);
		}
	}
}

static void
nul_inside_the_length_is_refused(void **state)
{
	struct key_parts k;
	const char key[] = "agent_abcd_sec\0ret";

	assert_int_equal(key_parse(key, sizeof(key) - 1, &k), -1);
	assert_int_equal(key_parse("agent_ab\0d_secret", 17, &k), -1);
}

static void
non_ascii_bytes_are_refused(void **state)
{
	struct key_parts k;

	assert_int_equal(parse("agent_abcd_s\xc3\xa9" "cret", &k), -1);
	assert_int_equal(parse("agent_ab\xc3\xa9_secret", &k), -1);
	assert_int_equal(parse("agent_abcd_secret\xff", &k), -1);
	assert_int_equal(parse("agent_abcd_secret\x80", &k), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(each_key_gives_the_candidates_the_table_lists),
		cmocka_unit_test(prefix_starting_with_underscore_is_found),
		cmocka_unit_test(candidates_are_capped_at_key_max_splits),
		cmocka_unit_test(prefix_of_key_prefix_max_bytes_is_accepted),
		cmocka_unit_test(prefix_longer_than_key_prefix_max_is_refused),
		cmocka_unit_test(splits_past_key_prefix_max_are_not_candidates),
		cmocka_unit_test(key_of_exactly_key_max_len_is_accepted),
		cmocka_unit_test(key_one_byte_over_key_max_len_is_refused),
		cmocka_unit_test(empty_key_is_refused),
		cmocka_unit_test(head_alone_is_refused),
		cmocka_unit_test(key_without_secret_is_refused),
		cmocka_unit_test(key_without_prefix_is_refused),
		cmocka_unit_test(key_without_agent_head_is_refused),
		cmocka_unit_test(head_is_checked_within_len_only),
		cmocka_unit_test(bad_bytes_are_refused_anywhere),
		cmocka_unit_test(nul_inside_the_length_is_refused),
		cmocka_unit_test(non_ascii_bytes_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
