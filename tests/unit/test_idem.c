/*
 * test_idem — idem_parse: the Idempotency-Key header is one RFC 8941
 * String of 1 to 255 characters and nothing else.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "idem.h"

static int
parse(const char *s, struct idem_key *k)
{
	return idem_parse(s, strlen(s), k);
}

static void
accepts_a_quoted_string(void **state)
{
	struct idem_key k;

	assert_int_equal(parse("\"8e03978e-40d5-43e8-bc93-6894a57f9324\"", &k),
	    0);
	assert_string_equal(k.value, "8e03978e-40d5-43e8-bc93-6894a57f9324");
	assert_int_equal(k.len, 36);
}

static void
discards_spaces_around_the_string(void **state)
{
	struct idem_key k;

	assert_int_equal(parse("  \"a b\"   ", &k), 0);
	assert_string_equal(k.value, "a b");
}

static void
decodes_escaped_quote_and_backslash(void **state)
{
	struct idem_key k;

	assert_int_equal(parse("\"say \\\"hi\\\" \\\\o/\"", &k), 0);
	assert_string_equal(k.value, "say \"hi\" \\o/");
	assert_int_equal(k.len, 12);
}

static void
refuses_what_is_not_one_string(void **state)
{
	static const char *const bad[] = {
		"", "   ", "abc", "\"\"", "\"abc", "abc\"", "\"abc\"x",
		"\"abc\";p=1", "\"a\", \"b\"", "\"a\",\"b\"", "?1", "42",
		":YWJj:", "\"a\\b\"", "\"a\\\"", "\"tab\there\"", "\t\"a\"",
		"\"a\"\t", "\"caf\xc3\xa9\"", "\"nul\x01\"", "\"del\x7f\"",
	};
	struct idem_key k;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &k) != -1)
			fail_msg("accepted [%s]", bad[i]);
		assert_int_equal(k.len, 0);
	}
}

static void
refuses_a_nul_byte_inside(void **state)
{
	struct idem_key k;

	assert_int_equal(idem_parse("\"a\0b\"", 5, &k), -1);
}

/* "\"" + n characters + "\"", escaped quotes counted as one each. */
static void
length_limit_counts_decoded_characters(void **state)
{
	char buf[2 * IDEM_KEY_MAX + 8];
	struct idem_key k;
	size_t i, n = 0;

	buf[n++] = '"';
	for (i = 0; i < IDEM_KEY_MAX; i++) {
		buf[n++] = '\\';
		buf[n++] = '"';
	}
	buf[n++] = '"';
	buf[n] = '\0';
	assert_int_equal(parse(buf, &k), 0);
	assert_int_equal(k.len, IDEM_KEY_MAX);

	memset(buf, 'x', sizeof(buf));
	buf[0] = '"';
	buf[IDEM_KEY_MAX + 1] = '"';
	buf[IDEM_KEY_MAX + 2] = '\0';
	assert_int_equal(parse(buf, &k), 0);
	buf[IDEM_KEY_MAX + 1] = 'x';
	buf[IDEM_KEY_MAX + 2] = '"';
	buf[IDEM_KEY_MAX + 3] = '\0';
	assert_int_equal(parse(buf, &k), -1);
}

static void
reads_no_byte_past_the_length(void **state)
{
	struct idem_key k;

	/* The closing quote lies beyond len: unterminated. */
	assert_int_equal(idem_parse("\"abc\"", 4, &k), -1);
	assert_int_equal(idem_parse("\"abc\"", 5, &k), 0);
	assert_int_equal(idem_parse(NULL, 0, &k), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accepts_a_quoted_string),
		cmocka_unit_test(discards_spaces_around_the_string),
		cmocka_unit_test(decodes_escaped_quote_and_backslash),
		cmocka_unit_test(refuses_what_is_not_one_string),
		cmocka_unit_test(refuses_a_nul_byte_inside),
		cmocka_unit_test(length_limit_counts_decoded_characters),
		cmocka_unit_test(reads_no_byte_past_the_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
