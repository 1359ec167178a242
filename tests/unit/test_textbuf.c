/*
 * test_textbuf — text that fits is appended after what is there; text
 * that does not (by one byte, for the NUL) is refused whole and moves
 * nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "textbuf.h"

static int
append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = textbuf_vappend(buf, cap, len, fmt, ap);
	va_end(ap);
	return r;
}

static void
fits_is_appended(void **state)
{
	char buf[16];
	size_t len = 0;

	assert_int_equal(append(buf, sizeof(buf), &len, "%s=", "ab"), 0);
	assert_int_equal(append(buf, sizeof(buf), &len, "%d", 42), 0);
	assert_int_equal(len, 5);
	assert_string_equal(buf, "ab=42");
}

static void
one_byte_short_is_refused(void **state)
{
	char buf[8];
	size_t len = 0;

	/* Seven bytes and the NUL fill it exactly. */
	assert_int_equal(append(buf, sizeof(buf), &len, "%s", "1234567"), 0);
	assert_int_equal(len, 7);
	len = 0;
	assert_int_equal(append(buf, sizeof(buf), &len, "%s", "12345678"),
	    -1);
	assert_int_equal(len, 0);
	/* A full buffer takes nothing more, not even the empty string. */
	len = sizeof(buf);
	assert_int_equal(append(buf, sizeof(buf), &len, "%s", ""), -1);
	assert_int_equal(len, sizeof(buf));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fits_is_appended),
		cmocka_unit_test(one_byte_short_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
