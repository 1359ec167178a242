/*
 * test_hex — the four digits of a \uXXXX escape: both cases, the extremes,
 * and a short or non-hex run refused whole rather than read in part.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hex.h"

#define U(s) ((const unsigned char *)(s))

static void
four_digits_of_either_case_are_read(void **state)
{
	assert_int_equal(hex_u16(U("0000"), 4), 0);
	assert_int_equal(hex_u16(U("ffff"), 4), 0xffff);
	assert_int_equal(hex_u16(U("D83d"), 4), 0xd83d);
	assert_int_equal(hex_u16(U("00e9xyz"), 7), 0xe9);
}

static void
short_or_non_hex_runs_are_refused(void **state)
{
	assert_int_equal(hex_u16(U("123"), 3), -1);
	assert_int_equal(hex_u16(U("1234"), 3), -1);
	assert_int_equal(hex_u16(U("12g4"), 4), -1);
	assert_int_equal(hex_u16(U(" 123"), 4), -1);
	assert_int_equal(hex_u16(U("+123"), 4), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(four_digits_of_either_case_are_read),
		cmocka_unit_test(short_or_non_hex_runs_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
