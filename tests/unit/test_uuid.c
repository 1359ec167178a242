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

static void
valid_accepts_lower_and_upper_case(void **state)
{
	const char	*lo = "0190f2a4-7b3c-7d21-8e5f-0a1b2c3d4e5f";
	const char	*up = "0190F2A4-7B3C-7D21-8E5F-0A1B2C3D4E5F";
	const char	*v4 = "f47ac10b-58cc-4372-a567-0e02b2c3d479";

	assert_true(uuid_valid(lo, strlen(lo)));
	assert_true(uuid_valid(up, strlen(up)));
	assert_true(uuid_valid(v4, strlen(v4)));
}

static void
valid_uses_len_not_nul(void **state)
{
	const char	*s = "0190f2a4-7b3c-7d21-8e5f-0a1b2c3d4e5fEXTRA";

	assert_true(uuid_valid(s, UUID_STR_LEN));
	assert_false(uuid_valid(s, strlen(s)));
}

static void
valid_rejects_wrong_length(void **state)
{
	const char	*s = "0190f2a4-7b3c-7d21-8e5f-0a1b2c3d4e5f0";

	assert_false(uuid_valid(s, 35));
	assert_false(uuid_valid(s, 37));
	assert_false(uuid_valid(s, 0));
	assert_false(uuid_valid(NULL, 36));
	assert_false(uuid_valid("0190f2a47b3c7d218e5f0a1b2c3d4e5f", 32));
}

static void
valid_rejects_missing_or_moved_dash(void **state)
{
	assert_false(uuid_valid("0190f2a4x7b3c-7d21-8e5f-0a1b2c3d4e5f", 36));
	assert_false(uuid_valid("0190f2a4-7b3cx7d21-8e5f-0a1b2c3d4e5f", 36));
	assert_false(uuid_valid("0190f2a4-7b3c-7d21x8e5f-0a1b2c3d4e5f", 36));
	assert_false(uuid_valid("0190f2a4-7b3c-7d21-8e5fx0a1b2c3d4e5f", 36));
	assert_false(uuid_valid("0190f2a-47b3c-7d21-8e5f-0a1b2c3d4e5f", 36));
	assert_false(uuid_valid("0190f2a4-7b3c-7d21-8e5f0-a1b2c3d4e5f", 36));
}

static void
valid_rejects_non_hex(void **state)
{
	assert_false(uuid_valid("0190f2a4-7b3c-7d21-8e5f-0a1b2c3d4e5g", 36));
	assert_false(uuid_valid("g190f2a4-7b3c-7d21-8e5f-0a1b2c3d4e5f", 36));
	assert_false(uuid_valid("0190f2a4-7b3c-7d21-8e5f-0a1b2c3d4e5 ", 36));
	assert_false(uuid_valid("{190f2a4-7b3c-7d21-8e5f-0a1b2c3d4e5}", 36));
}

static void
valid_rejects_nul_inside(void **state)
{
	const char	 s[] = "0190f2a4-7b3c-7d21-8e5f-0a1b2c\0d4e5f";

	assert_int_equal(sizeof(s) - 1, 36);
	assert_false(uuid_valid(s, 36));
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
		cmocka_unit_test(valid_accepts_lower_and_upper_case),
		cmocka_unit_test(valid_uses_len_not_nul),
		cmocka_unit_test(valid_rejects_wrong_length),
		cmocka_unit_test(valid_rejects_missing_or_moved_dash),
		cmocka_unit_test(valid_rejects_non_hex),
		cmocka_unit_test(valid_rejects_nul_inside),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
