/*
 * test_duration — what duration_parse accepts (a whole number and one unit
 * letter) and everything near it that it refuses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "duration.h"

static long long
parsed(const char *s)
{
	long long v = -7;

	assert_int_equal(duration_parse(s, strlen(s), &v), 0);
	return v;
}

static void
refused(const char *s, size_t len)
{
	long long v = -7;

	assert_int_equal(duration_parse(s, len, &v), -1);
	assert_int_equal(v, -7);
}

static void
each_unit_has_its_length_in_seconds(void **state)
{
	assert_int_equal(parsed("45s"), 45);
	assert_int_equal(parsed("30m"), 1800);
	assert_int_equal(parsed("12h"), 43200);
	assert_int_equal(parsed("90d"), 90LL * 86400);
	assert_int_equal(parsed("2w"), 14LL * 86400);
	assert_int_equal(parsed("007d"), 7LL * 86400);
}

static void
a_number_without_a_unit_or_a_unit_without_a_number_is_refused(void **state)
{
	refused("3600", 4);
	refused("d", 1);
	refused("", 0);
	refused("10y", 3);
	refused("10D", 3);
}

static void
signs_blanks_fractions_and_two_units_are_refused(void **state)
{
	refused("-1d", 3);
	refused("+1d", 3);
	refused(" 1d", 3);
	refused("1d ", 3);
	refused("1 d", 3);
	refused("1.5d", 4);
	refused("1d12h", 5);
	refused("0s", 2);
	refused("0d", 2);
}

static void
the_length_is_honoured_without_a_nul(void **state)
{
	long long v;

	assert_int_equal(duration_parse("5mXYZ", 2, &v), 0);
	assert_int_equal(v, 300);
	refused("5m\0", 3);
}

static void
more_than_a_hundred_years_is_refused_without_overflow(void **state)
{
	assert_int_equal(parsed("36500d"), DURATION_MAX);
	refused("36501d", 6);
	refused("3153600001s", 11);
	refused("99999999999999999999999999s", 27);
	refused("9223372036854775807w", 20);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(each_unit_has_its_length_in_seconds),
		cmocka_unit_test(
		    a_number_without_a_unit_or_a_unit_without_a_number_is_refused),
		cmocka_unit_test(signs_blanks_fractions_and_two_units_are_refused),
		cmocka_unit_test(the_length_is_honoured_without_a_nul),
		cmocka_unit_test(
		    more_than_a_hundred_years_is_refused_without_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
