/*
 * test_slowhash — the per-prefix budget of failed slow hashes: how many
 * fit in a window, when the window reopens, and that prefixes never share
 * a count.  The table is process-global, so each test uses its own
 * prefixes and clock values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include "slowhash.h"

#define T0 ((time_t)1700000000)

static void
slow_hash_allowed_until_limit_failures_then_refused(void **state)
{
	const char *p = "budgetA";
	long i;

	for (i = 0; i < 3; i++) {
		assert_int_equal(slowhash_allowed(p, 3, T0 + i), 1);
		slowhash_failed(p, T0 + i);
	}
	assert_int_equal(slowhash_allowed(p, 3, T0 + 3), 0);
	assert_int_equal(slowhash_allowed(p, 3, T0 + 59), 0);
}

static void
slow_hash_allowed_again_after_sixty_seconds(void **state)
{
	const char *p = "budgetB";
	long i;

	for (i = 0; i < 2; i++)
		slowhash_failed(p, T0 + 1000);
	assert_int_equal(slowhash_allowed(p, 2, T0 + 1000), 0);
	assert_int_equal(slowhash_allowed(p, 2, T0 + 1059), 0);
	assert_int_equal(slowhash_allowed(p, 2, T0 + 1060), 1);
	assert_int_equal(slowhash_allowed(p, 2, T0 + 5000), 1);
	/* A failure in the new window starts the count again from one. */
	slowhash_failed(p, T0 + 5000);
	assert_int_equal(slowhash_allowed(p, 2, T0 + 5001), 1);
	slowhash_failed(p, T0 + 5001);
	assert_int_equal(slowhash_allowed(p, 2, T0 + 5002), 0);
}

static void
limit_zero_never_refuses(void **state)
{
	const char *p = "budgetC";
	int i;

	for (i = 0; i < 100; i++) {
		slowhash_failed(p, T0 + 2000);
		assert_int_equal(slowhash_allowed(p, 0, T0 + 2000), 1);
	}
}

static void
limit_one_refuses_after_the_first_failure(void **state)
{
	const char *p = "budgetD";

	assert_int_equal(slowhash_allowed(p, 1, T0 + 3000), 1);
	slowhash_failed(p, T0 + 3000);
	assert_int_equal(slowhash_allowed(p, 1, T0 + 3000), 0);
}

static void
budgets_of_two_prefixes_are_independent(void **state)
{
	const char *a = "budgetE_a", *b = "budgetE_b";
	int i;

	for (i = 0; i < 3; i++)
		slowhash_failed(a, T0 + 4000);
	assert_int_equal(slowhash_allowed(a, 3, T0 + 4000), 0);
	assert_int_equal(slowhash_allowed(b, 3, T0 + 4000), 1);
	assert_int_equal(slowhash_allowed(a, 3, T0 + 4000), 0);
	/* A prefix that merely starts like another has its own budget. */
	assert_int_equal(slowhash_allowed("budgetE_", 3, T0 + 4000), 1);
	assert_int_equal(slowhash_allowed("budgetE_aa", 3, T0 + 4000), 1);
}

static void
unknown_prefix_is_allowed(void **state)
{
	assert_int_equal(slowhash_allowed("never-failed", 1, T0), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(slow_hash_allowed_until_limit_failures_then_refused),
		cmocka_unit_test(slow_hash_allowed_again_after_sixty_seconds),
		cmocka_unit_test(limit_zero_never_refuses),
		cmocka_unit_test(limit_one_refuses_after_the_first_failure),
		cmocka_unit_test(budgets_of_two_prefixes_are_independent),
		cmocka_unit_test(unknown_prefix_is_allowed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
