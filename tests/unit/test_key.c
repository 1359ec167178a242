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

/* key_parse takes key[0..len) and finds want as its only candidate. */
static void
assert_one_candidate(const char *key, size_t len, const char *want)
{
	struct key_parts k;

	assert_int_equal(key_parse(key, len, &k), 0);
	assert_candidates(&k, &want, 1);
}

/* A prefix of n 'p' bytes after head, into buf. */
static const char *
p_run(char *buf, const char *head, size_t n)
{
	size_t h = strlen(head);

	memcpy(buf, head, h);
	memset(buf + h, 'p', n);
	buf[h + n] = '\0';
	return buf;
}

static void
prefix_of_key_prefix_max_bytes_is_the_longest_accepted(void **state)
{
	struct key_parts k;
	char prefix[KEY_PREFIX_MAX + 2], key[256];

	p_run(prefix, "", KEY_PREFIX_MAX);
	make_key(key, 6 + KEY_PREFIX_MAX + 1 + 20, prefix);
	assert_one_candidate(key, strlen(key), prefix);
	p_run(prefix, "", KEY_PREFIX_MAX + 1);
	make_key(key, 6 + KEY_PREFIX_MAX + 2 + 20, prefix);
	assert_int_equal(parse(key, &k), -1);
}

static void
splits_past_key_prefix_max_are_not_candidates(void **state)
{
	char prefix[KEY_PREFIX_MAX + 8], key[256];

	/* "ab_" then 70 'p': only "ab" is a short enough candidate. */
	make_key(key, 200, p_run(prefix, "ab_", KEY_PREFIX_MAX + 2));
	assert_one_candidate(key, strlen(key), "ab");
}

static void
key_of_key_max_len_bytes_is_the_longest_accepted(void **state)
{
	struct key_parts k;
	char key[KEY_MAX_LEN + 2];

	make_key(key, KEY_MAX_LEN, "AbCdEf123456");
	assert_int_equal(strlen(key), KEY_MAX_LEN);
	assert_one_candidate(key, KEY_MAX_LEN, "AbCdEf123456");
	make_key(key, KEY_MAX_LEN + 1, "AbCdEf123456");
	assert_int_equal(key_parse(key, KEY_MAX_LEN + 1, &k), -1);
}

/* A literal of its own length, NUL bytes inside it included. */
#define LIT(s)	{ s, sizeof(s) - 1 }

/* Keys key_parse refuses, as (bytes, length). */
static const struct {
	const char	*bytes;
	size_t		 len;
} refused[] = {
	{ "", 0 }, { "agent_a_b", 0 },
	/* the head alone */
	LIT("agent_"), LIT("agent"), LIT("agent__"),
	/* no secret */
	LIT("agent_AbCdEf123456"), LIT("agent_AbCdEf123456_"),
	/* no prefix */
	LIT("agent__secret"), LIT("agent_secretonly"),
	/* not the agent_ head */
	LIT("Agent_abc_secret"), LIT("agents_abc_secret"),
	LIT("agent-abc_secret"), LIT("xagent_abc_secret"), LIT("abc_secret"),
	/* a NUL inside the length */
	LIT("agent_abcd_sec\0ret"), LIT("agent_ab\0d_secret"),
	/* bytes outside ASCII */
	LIT("agent_abcd_s\xc3\xa9" "cret"), LIT("agent_ab\xc3\xa9_secret"),
	LIT("agent_abcd_secret\xff"), LIT("agent_abcd_secret\x80"),
};

static void
each_malformed_key_is_refused(void **state)
{
	struct key_parts k;
	size_t i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (key_parse(refused[i].bytes, refused[i].len, &k) != -1)
			fail_msg("refused[%zu] accepted", i);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(each_key_gives_the_candidates_the_table_lists),
		cmocka_unit_test(prefix_starting_with_underscore_is_found),
		cmocka_unit_test(candidates_are_capped_at_key_max_splits),
		cmocka_unit_test(
		    prefix_of_key_prefix_max_bytes_is_the_longest_accepted),
		cmocka_unit_test(splits_past_key_prefix_max_are_not_candidates),
		cmocka_unit_test(key_of_key_max_len_bytes_is_the_longest_accepted),
		cmocka_unit_test(each_malformed_key_is_refused),
		cmocka_unit_test(head_is_checked_within_len_only),
		cmocka_unit_test(bad_bytes_are_refused_anywhere),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
