/*
 * test_rate — what rate_parse accepts (a whole number, '/', one of four
 * units; or off) and everything near it that it refuses, and that
 * rate_format writes what rate_parse reads back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "rate.h"

static struct rate
parsed(const char *s)
{
	struct rate r = { -7, -7, -7 };

	assert_int_equal(rate_parse(s, strlen(s), &r), 0);
	return r;
}

static void
refused_n(const char *s, size_t len)
{
	struct rate r = { -7, -7, -7 };

	assert_int_equal(rate_parse(s, len, &r), -1);
	assert_int_equal(r.quota, -7);
	assert_int_equal(r.window, -7);
	assert_int_equal(r.burst, -7);
}

static void
refused(const char *s)
{
	refused_n(s, strlen(s));
}

static void
each_unit_has_its_window_and_the_burst_is_n(void **state)
{
	struct rate r;

	r = parsed("5/s");
	assert_int_equal(r.quota, 5);
	assert_int_equal(r.window, 1);
	assert_int_equal(r.burst, 5);
	assert_int_equal(parsed("5/min").window, 60);
	assert_int_equal(parsed("12/h").window, 3600);
	r = parsed("1000/d");
	assert_int_equal(r.quota, 1000);
	assert_int_equal(r.window, 86400);
	assert_int_equal(r.burst, 1000);
	assert_int_equal(parsed("007/min").quota, 7);
}

static void
off_is_no_limit(void **state)
{
	struct rate r = parsed("off");

	assert_int_equal(r.quota, 0);
	assert_int_equal(r.window, 0);
	assert_int_equal(r.burst, 0);
}

static void
other_units_and_spellings_are_refused(void **state)
{
	refused("5/m");
	refused("5/minute");
	refused("5/sec");
	refused("5/S");
	refused("5/MIN");
	refused("5/w");
	refused("5/");
	refused("5");
	refused("/s");
	refused("");
	refused("OFF");
	refused("of");
	refused("offf");
	refused("none");
}

static void
signs_blanks_fractions_and_zero_are_refused(void **state)
{
	refused("0/s");
	refused("-1/s");
	refused("+1/s");
	refused(" 1/s");
	refused("1/s ");
	refused("1 /s");
	refused("1/ s");
	refused("1.5/s");
	refused("1//s");
	refused("1/s/s");
	refused("1/min,2/h");
}

static void
more_than_the_maximum_is_refused_without_overflow(void **state)
{
	assert_int_equal(parsed("1000000/s").quota, RATE_QUOTA_MAX);
	refused("1000001/s");
	refused("99999999999999999999999999/s");
	refused("9223372036854775808/d");
}

static void
the_length_is_honoured_without_a_nul(void **state)
{
	struct rate r;

	assert_int_equal(rate_parse("5/minXYZ", 5, &r), 0);
	assert_int_equal(r.window, 60);
	assert_int_equal(rate_parse("offXYZ", 3, &r), 0);
	assert_int_equal(r.quota, 0);
	refused_n("5/min\0", 6);
	refused_n("5/s", 2);
	refused_n("off", 2);
}

static void
format_writes_what_parse_reads(void **state)
{
	static const char *const texts[] = { "off", "5/s", "5/min", "12/h",
	    "1000/d", "1000000/s" };
	char buf[RATE_TEXT_MAX];
	struct rate r;
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		r = parsed(texts[i]);
		assert_int_equal(rate_format(&r, buf, sizeof(buf)), 0);
		assert_string_equal(buf, texts[i]);
	}
	r = parsed("10/h");
	r.burst = 3;
	assert_int_equal(rate_format(&r, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "10/h burst 3");
	r.window = 7;
	assert_int_equal(rate_format(&r, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "10/7s burst 3");
	assert_int_equal(rate_format(&r, buf, 5), -1);
	assert_int_equal(rate_format(&r, buf, 8), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(each_unit_has_its_window_and_the_burst_is_n),
		cmocka_unit_test(off_is_no_limit),
		cmocka_unit_test(other_units_and_spellings_are_refused),
		cmocka_unit_test(signs_blanks_fractions_and_zero_are_refused),
		cmocka_unit_test(
		    more_than_the_maximum_is_refused_without_overflow),
		cmocka_unit_test(the_length_is_honoured_without_a_nul),
		cmocka_unit_test(format_writes_what_parse_reads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
