/*
 * test_hex — the four digits of a \uXXXX escape: both cases, the extremes,
 * and a short or non-hex run refused whole rather than read in part; one
 * digit's value; bytes written as exactly 2n lowercase digits and a NUL.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
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

static void
each_digit_has_its_value_and_nothing_else_has_one(void **state)
{
	static const char digits[] = "0123456789abcdef";
	int c, want;

	for (c = 0; c < 256; c++) {
		const char *at = c != 0 ? strchr(digits, tolower(c)) : NULL;

		want = at != NULL ? (int)(at - digits) : -1;
		assert_int_equal(hex_digit((unsigned char)c), want);
	}
}

static void
bytes_are_written_as_lowercase_digit_pairs(void **state)
{
	static const unsigned char in[] = { 0x00, 0x01, 0x7f, 0x80, 0xab,
	    0xff };
	char out[2 * sizeof(in) + 1];

	hex_encode(in, sizeof(in), out);
	assert_string_equal(out, "00017f80abff");
}

static void
encoding_writes_exactly_two_digits_a_byte_and_a_nul(void **state)
{
	unsigned char in[256];
	char out[2 * sizeof(in) + 2];
	size_t i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)i;
	memset(out, 'X', sizeof(out));
	hex_encode(in, 3, out);
	assert_string_equal(out, "000102");
	assert_int_equal(out[7], 'X');		/* nothing past the NUL */
	hex_encode(in, 0, out);
	assert_string_equal(out, "");
	hex_encode(in, sizeof(in), out);
	assert_int_equal(strlen(out), 2 * sizeof(in));
	for (i = 0; i < sizeof(in); i++)
		assert_int_equal(hex_digit((unsigned char)out[2 * i]) * 16 +
		    hex_digit((unsigned char)out[2 * i + 1]), i);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(four_digits_of_either_case_are_read),
		cmocka_unit_test(short_or_non_hex_runs_are_refused),
		cmocka_unit_test(each_digit_has_its_value_and_nothing_else_has_one),
		cmocka_unit_test(bytes_are_written_as_lowercase_digit_pairs),
		cmocka_unit_test(encoding_writes_exactly_two_digits_a_byte_and_a_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
