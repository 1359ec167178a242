/*
 * test_decimal — what counts as a whole number wherever text from outside
 * becomes one: digits only, a '-' only where negatives are allowed, the
 * range inclusive at both ends, overflow refused rather than wrapped, and
 * no byte beyond the length read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <string.h>

#include "decimal.h"

static int
parse(const char *s, long long min, long long max, long long *out)
{
	return decimal_parse(s, strlen(s), min, max, out);
}

static void
plain_digits_are_read(void **state)
{
	long long v;

	assert_int_equal(parse("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse("1234567", 0, LLONG_MAX, &v), 0);
	assert_int_equal(v, 1234567);
	/* Leading zeros are digits; canonical spelling is the caller's. */
	assert_int_equal(parse("007", 0, 10, &v), 0);
	assert_int_equal(v, 7);
}

static void
anything_but_digits_is_refused(void **state)
{
	const char *bad[] = { "", " 1", "1 ", "+1", "1a", "0x10", "1.0",
	    "1e3", "\t2", "--1", "-", "1-" };
	long long v = 42;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], -100, 100, &v) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
	assert_int_equal(v, 42);
}

static void
minus_only_where_the_range_allows_negatives(void **state)
{
	long long v;

	assert_int_equal(parse("-5", -10, 10, &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(parse("-0", 0, 10, &v), -1);
	assert_int_equal(parse("-5", 0, 10, &v), -1);
}

static void
range_is_inclusive_at_both_ends(void **state)
{
	long long v;

	assert_int_equal(parse("1", 1, 5, &v), 0);
	assert_int_equal(parse("5", 1, 5, &v), 0);
	assert_int_equal(parse("0", 1, 5, &v), -1);
	assert_int_equal(parse("6", 1, 5, &v), -1);
}

static void
the_extremes_fit_and_one_past_is_refused(void **state)
{
	long long v;

	assert_int_equal(parse("9223372036854775807", 0, LLONG_MAX, &v), 0);
	assert_true(v == LLONG_MAX);
	assert_int_equal(parse("-9223372036854775808", LLONG_MIN, 0, &v), 0);
	assert_true(v == LLONG_MIN);
	assert_int_equal(parse("9223372036854775808", 0, LLONG_MAX, &v), -1);
	assert_int_equal(parse("-9223372036854775809", LLONG_MIN, 0, &v), -1);
	assert_int_equal(parse("99999999999999999999999", 0, LLONG_MAX, &v),
	    -1);
}

static void
only_len_bytes_are_read(void **state)
{
	long long v;

	assert_int_equal(decimal_parse("12x", 2, 0, 100, &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(decimal_parse("12", 0, 0, 100, &v), -1);
	assert_int_equal(decimal_parse(NULL, 0, 0, 100, &v), -1);
}

static void
nul_terminated_readers_read_the_whole_string(void **state)
{
	long long ll;
	long l;

	assert_int_equal(decimal_llong("-9223372036854775808", LLONG_MIN,
	    LLONG_MAX, &ll), 0);
	assert_true(ll == LLONG_MIN);
	assert_int_equal(decimal_llong("9223372036854775807", 0, LLONG_MAX,
	    &ll), 0);
	assert_true(ll == LLONG_MAX);
	assert_int_equal(decimal_llong("9223372036854775808", 0, LLONG_MAX,
	    &ll), -1);
	assert_int_equal(decimal_llong("12 ", 0, 100, &ll), -1);
	assert_int_equal(decimal_llong("", 0, 100, &ll), -1);
	assert_int_equal(decimal_llong(NULL, 0, 100, &ll), -1);
	assert_int_equal(decimal_long("42", 0, 100, &l), 0);
	assert_int_equal(l, 42);
	assert_int_equal(decimal_long("101", 0, 100, &l), -1);
	assert_int_equal(decimal_long(NULL, 0, 100, &l), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_digits_are_read),
		cmocka_unit_test(anything_but_digits_is_refused),
		cmocka_unit_test(minus_only_where_the_range_allows_negatives),
		cmocka_unit_test(range_is_inclusive_at_both_ends),
		cmocka_unit_test(the_extremes_fit_and_one_past_is_refused),
		cmocka_unit_test(only_len_bytes_are_read),
		cmocka_unit_test(nul_terminated_readers_read_the_whole_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
