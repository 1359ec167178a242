/*
 * test_uuid — UUIDv7 layout, time, ordering and the uuid text validator.
 * Ids are checked through their text form only, as callers see them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "uuid.h"

static unsigned
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (unsigned)(c - 'a' + 10);
	fail_msg("not a lower-case hex digit: %c", c);
	return 0;
}

static void
make_or_fail(char out[UUID_STR_LEN + 1])
{
	assert_int_equal(uuid7_make(out), 0);
	assert_int_equal(strlen(out), UUID_STR_LEN);
}

static void
has_version_nibble_7(void **state)
{
	char	 u[UUID_STR_LEN + 1];

	make_or_fail(u);
	assert_int_equal(u[14], '7');
}

static void
has_variant_bits_10(void **state)
{
	char	 u[UUID_STR_LEN + 1];
	int	 i;

	for (i = 0; i < 64; i++) {
		make_or_fail(u);
		assert_int_equal(hexval(u[19]) >> 2, 2);
	}
}

static void
is_canonical_lower_case_text(void **state)
{
	char	 u[UUID_STR_LEN + 1];
	size_t	 i;

	make_or_fail(u);
	for (i = 0; i < UUID_STR_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(u[i], '-');
		else
			(void)hexval(u[i]);
	}
	assert_true(uuid_valid(u, strlen(u)));
}

static void
timestamp_is_within_a_second_of_now(void **state)
{
	char		 u[UUID_STR_LEN + 1];
	struct timespec	 ts;
	long long	 now_ms, ms = 0;
	size_t		 i;

	make_or_fail(u);
	assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
	now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	for (i = 0; i < 13; i++) {
		if (i == 8)
			continue;
		ms = ms * 16 + hexval(u[i]);
	}
	assert_true(ms <= now_ms);
	assert_true(now_ms - ms < 1000);
}

static void
successive_ids_strictly_increase(void **state)
{
	char	 prev[UUID_STR_LEN + 1], cur[UUID_STR_LEN + 1];
	int	 i;

	make_or_fail(prev);
	for (i = 0; i < 10000; i++) {
		make_or_fail(cur);
		if (strcmp(prev, cur) >= 0)
			fail_msg("id %d not above its predecessor: %s <= %s",
			    i, cur, prev);
		memcpy(prev, cur, sizeof(prev));
	}
}

#define THREADS		4
#define PER_THREAD	2000

static void *
make_many(void *arg)
{
	char	(*ids)[UUID_STR_LEN + 1] = arg;
	char	 last[UUID_STR_LEN + 1] = "";
	int	 i;

	for (i = 0; i < PER_THREAD; i++) {
		if (uuid7_make(ids[i]) != 0 || strcmp(last, ids[i]) >= 0)
			return (void *)1;
		memcpy(last, ids[i], sizeof(last));
	}
	return NULL;
}

static int
cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
threads_get_distinct_ids(void **state)
{
	static char	 ids[THREADS * PER_THREAD][UUID_STR_LEN + 1];
	pthread_t	 t[THREADS];
	void		*res;
	int		 i;

	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, make_many,
		    ids[i * PER_THREAD]), 0);
	for (i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], &res), 0);
		assert_null(res);
	}
	qsort(ids, THREADS * PER_THREAD, sizeof(ids[0]), cmp_id);
	for (i = 1; i < THREADS * PER_THREAD; i++)
		assert_true(strcmp(ids[i - 1], ids[i]) < 0);
}

/* A literal and its length, NULs inside included. */
#define TEXT(s)	s, sizeof(s) - 1
#define LOWER	"0190f2a4-7b3c-7d21-8e5f-0a1b2c3d4e5f"
#define LONGER	LOWER "EXTRA"
#define ONEMORE	LOWER "0"

static const struct {
	const char	*name;
	const char	*text;
	size_t		 len;
	int		 valid;
} by_length[] = {
	{ "lower case", TEXT(LOWER), 1 },
	{ "upper case", TEXT("0190F2A4-7B3C-7D21-8E5F-0A1B2C3D4E5F"), 1 },
	{ "version 4", TEXT("f47ac10b-58cc-4372-a567-0e02b2c3d479"), 1 },
	/* len, not the NUL, ends the text. */
	{ "first 36 of a longer text", LONGER, UUID_STR_LEN, 1 },
	{ "a longer text", TEXT(LONGER), 0 },
	{ "35 characters", ONEMORE, 35, 0 },
	{ "37 characters", ONEMORE, 37, 0 },
	{ "empty", ONEMORE, 0, 0 },
	{ "NULL", NULL, 36, 0 },
};

/* 36 characters, refused; and LOWER with each dash replaced by 'x'. */
static const struct {
	const char	*name;
	const char	*text;
	size_t		 len;
} refused[] = {
	{ "no dashes", TEXT("0190f2a47b3c7d218e5f0a1b2c3d4e5f") },
	{ "first dash moved", TEXT("0190f2a-47b3c-7d21-8e5f-0a1b2c3d4e5f") },
	{ "last dash moved", TEXT("0190f2a4-7b3c-7d21-8e5f0-a1b2c3d4e5f") },
	{ "g at the end", TEXT("0190f2a4-7b3c-7d21-8e5f-0a1b2c3d4e5g") },
	{ "g at the start", TEXT("g190f2a4-7b3c-7d21-8e5f-0a1b2c3d4e5f") },
	{ "space at the end", TEXT("0190f2a4-7b3c-7d21-8e5f-0a1b2c3d4e5 ") },
	{ "braces", TEXT("{190f2a4-7b3c-7d21-8e5f-0a1b2c3d4e5}") },
	{ "NUL inside", TEXT("0190f2a4-7b3c-7d21-8e5f-0a1b2c\0d4e5f") },
};
static const size_t dashes[] = { 8, 13, 18, 23 };

static void
valid_accepts_the_form_and_nothing_else(void **state)
{
	char	 s[] = LOWER;
	size_t	 i;

	for (i = 0; i < sizeof(by_length) / sizeof(by_length[0]); i++)
		if (!!uuid_valid(by_length[i].text, by_length[i].len) !=
		    by_length[i].valid)
			fail_msg("%s: uuid_valid is not %d", by_length[i].name,
			    by_length[i].valid);
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (uuid_valid(refused[i].text, refused[i].len))
			fail_msg("%s: accepted", refused[i].name);
	for (i = 0; i < sizeof(dashes) / sizeof(dashes[0]); i++) {
		assert_int_equal(s[dashes[i]], '-');
		s[dashes[i]] = 'x';
		if (uuid_valid(s, UUID_STR_LEN))
			fail_msg("dash %zu replaced: accepted", i + 1);
		s[dashes[i]] = '-';
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(has_version_nibble_7),
		cmocka_unit_test(has_variant_bits_10),
		cmocka_unit_test(is_canonical_lower_case_text),
		cmocka_unit_test(timestamp_is_within_a_second_of_now),
		cmocka_unit_test(successive_ids_strictly_increase),
		cmocka_unit_test(threads_get_distinct_ids),
		cmocka_unit_test(valid_accepts_the_form_and_nothing_else),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
