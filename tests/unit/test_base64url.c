/*
 * test_base64url — RFC 4648's test vectors in the URL alphabet without
 * padding, the two characters that differ from base64, the length macro
 * callers size their buffers with, and decoding: the inverse of encoding,
 * for the one canonical spelling only.
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
	assert_int_equal(base64url_value('-'), 62);
	assert_int_equal(base64url_value('_'), 63);
	assert_int_equal(base64url_value('+'), -1);
	assert_int_equal(base64url_value('/'), -1);
	assert_int_equal(base64url_value('='), -1);
	assert_int_equal(base64url_value('.'), -1);
}

static void
decode_undoes_encode_for_every_length(void **state)
{
	unsigned char in[64], out[64];
	char text[BASE64URL_LEN(64) + 1];
	size_t n, i, len;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 37 + 11);
	for (n = 0; n <= sizeof(in); n++) {
		len = base64url_encode(in, n, text);
		assert_true(base64url_canonical(text, len));
		assert_int_equal(base64url_decode(text, len, out), n);
		assert_memory_equal(out, in, n);
	}
}

static const struct {
	const char	*text;
	int		 canonical;
} spellings[] = {
	{ "Zg", 1 },
	/* Same byte with leftover bits set: another spelling, refused. */
	{ "Zh", 0 },
	{ "Zm8", 1 },
	{ "Zm9", 0 },
	/* One character is never a whole byte. */
	{ "Z", 0 },
	{ "Zg==", 0 },
	{ "Z+8", 0 },
	{ "", 1 },
};

static void
only_the_canonical_spelling_is_accepted(void **state)
{
	size_t	 i;

	for (i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++)
		if (!!base64url_canonical(spellings[i].text,
		    strlen(spellings[i].text)) != spellings[i].canonical)
			fail_msg("\"%s\": canonical is not %d",
			    spellings[i].text, spellings[i].canonical);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc4648_vectors_without_padding),
		cmocka_unit_test(url_alphabet_has_dash_and_underscore),
		cmocka_unit_test(decode_undoes_encode_for_every_length),
		cmocka_unit_test(only_the_canonical_spelling_is_accepted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
