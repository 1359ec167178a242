/*
 * test_random — the random texts keys and salts are made of: the asked
 * length, only the promised alphabet, and not the same text twice (a
 * generator stuck on one value would pass every other check).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base64url.h"
#include "random.h"

static int
alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static void
alnum_has_the_length_and_alphabet_asked(void **state)
{
	char a[200], b[200];
	size_t i;

	assert_int_equal(random_alnum(a, 199), 0);
	assert_int_equal(strlen(a), 199);
	for (i = 0; i < 199; i++)
		if (!alnum(a[i]))
			fail_msg("byte %zu is 0x%02x", i, (unsigned char)a[i]);
	assert_int_equal(random_alnum(b, 199), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(random_alnum(a, 0), 0);
	assert_string_equal(a, "");
}

static void
base64url_secret_of_32_bytes_is_43_url_safe_characters(void **state)
{
	char a[BASE64URL_LEN(32) + 1], b[BASE64URL_LEN(32) + 1];
	size_t i;

	assert_int_equal(BASE64URL_LEN(32), 43);
	assert_int_equal(random_base64url(a, 32), 0);
	assert_int_equal(strlen(a), 43);
	for (i = 0; i < 43; i++)
		assert_true(base64url_value((unsigned char)a[i]) >= 0);
	assert_int_equal(random_base64url(b, 32), 0);
	assert_string_not_equal(a, b);
}

static void
base64url_secret_over_the_limit_is_refused(void **state)
{
	char out[BASE64URL_LEN(RANDOM_MAX_BYTES + 1) + 1];

	assert_int_equal(random_base64url(out, RANDOM_MAX_BYTES + 1), -1);
	assert_string_equal(out, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(alnum_has_the_length_and_alphabet_asked),
		cmocka_unit_test(base64url_secret_of_32_bytes_is_43_url_safe_characters),
		cmocka_unit_test(base64url_secret_over_the_limit_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
