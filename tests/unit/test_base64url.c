/*
 * test_base64url — RFC 4648's test vectors in the URL alphabet without
 * padding, the two characters that differ from base64, and the length
 * macro callers size their buffers with.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base64url.h"

static void
rfc4648_vectors_without_padding(void **state)
{
	static const char *const in[] = { "", "f", "fo", "foo", "foob",
	    "fooba", "foobar" };
	static const char *const want[] = { "", "Zg", "Zm8", "Zm9v",
	    "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };
	char out[16];
	size_t i, n;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		n = strlen(in[i]);
		assert_int_equal(base64url_encode((const unsigned char *)in[i],
		    n, out), strlen(want[i]));
		assert_string_equal(out, want[i]);
		assert_int_equal(BASE64URL_LEN(n), strlen(want[i]));
	}
}

static void
url_alphabet_has_dash_and_underscore(void **state)
{
	static const unsigned char in[] = { 0xfb, 0xff, 0xbf };
	char out[8];

	base64url_encode(in, sizeof(in), out);
	assert_string_equal(out, "-_-_");
	assert_true(base64url_char('-'));
	assert_true(base64url_char('_'));
	assert_false(base64url_char('+'));
	assert_false(base64url_char('/'));
	assert_false(base64url_char('='));
	assert_false(base64url_char('.'));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc4648_vectors_without_padding),
		cmocka_unit_test(url_alphabet_has_dash_and_underscore),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
