/*
 * test_tokjson — the text rules of a token's JSON: the top-level members
 * found with their kind and text, RFC 8259's number grammar, and each
 * refusal with its reason (escape, duplicate, depth, size, bytes).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tokjson.h"

static const char *
refusal(const char *text)
{
	struct tokjson_object	 o;
	const char		*why = NULL;

	if (tokjson_scan(text, strlen(text), &o, &why) == OTAS_OK)
		return NULL;
	assert_non_null(why);
	return why;
}

static void
assert_member(const struct tokjson_object *o, const char *name,
    enum tokjson_kind kind, const char *text)
{
	const struct tokjson_member	*m = tokjson_get(o, name);

	assert_non_null(m);
	assert_int_equal(m->kind, kind);
	if (text != NULL) {
		assert_int_equal(m->value_len, strlen(text));
		assert_memory_equal(m->value, text, m->value_len);
	}
}

static void
members_are_found_with_kind_and_text(void **state)
{
	static const char text[] = " {\"s\":\"a b\",\"i\":-0,\"r\":1.5e-3,"
	    "\"e\":2E9,\"o\":{\"s\":1},\"a\":[1,\"x\",[]],\"t\":true,"
	    "\"n\":null,\"z\":\"\"} ";
	struct tokjson_object	 o;
	const char		*why = NULL;

	assert_int_equal(tokjson_scan(text, strlen(text), &o, &why), OTAS_OK);
	assert_int_equal(o.n, 9);
	assert_member(&o, "s", TOKJSON_STRING, "a b");
	assert_member(&o, "i", TOKJSON_INTEGER, "-0");
	assert_member(&o, "r", TOKJSON_REAL, "1.5e-3");
	assert_member(&o, "e", TOKJSON_REAL, "2E9");
	assert_member(&o, "o", TOKJSON_OTHER, NULL);
	assert_member(&o, "a", TOKJSON_OTHER, NULL);
	assert_member(&o, "t", TOKJSON_OTHER, NULL);
	assert_member(&o, "z", TOKJSON_STRING, "");
	assert_null(tokjson_get(&o, "x"));
	/* Only the top level is listed. */
	assert_int_equal(tokjson_get(&o, "s")->value_len, 3);
	assert_null(refusal("{}"));
}

static void
numbers_follow_rfc_8259(void **state)
{
	static const char *const bad[] = {
		"{\"x\":12.}", "{\"x\":01}", "{\"x\":.5}", "{\"x\":+1}",
		"{\"x\":1e}", "{\"x\":1e+}", "{\"x\":-}", "{\"x\":NaN}",
		"{\"x\":Infinity}", "{\"x\":0x10}", "{\"x\":1.e5}",
	};
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (refusal(bad[i]) == NULL)
			fail_msg("accepted %s", bad[i]);
	assert_string_equal(refusal("{\"x\":1234567890123456789}"),
	    "JSON number too long");
	assert_null(refusal("{\"x\":123456789012345678}"));
	assert_null(refusal("{\"x\":-0.0e+00}"));
}

static void
refusals_say_why(void **state)
{
	assert_string_equal(refusal("{\"a\":1,\"a\":2}"),
	    "duplicate JSON member");
	assert_string_equal(refusal("{\"o\":{\"a\":1,\"a\":1}}"),
	    "duplicate JSON member");
	assert_null(refusal("{\"a\":{\"a\":1},\"b\":[{\"a\":1},{\"a\":2}]}"));
	assert_string_equal(refusal("{\"a\":\"\\u0041\"}"), "JSON escape");
	assert_string_equal(refusal("{\"a\\\"\":1}"), "JSON escape");
	assert_string_equal(refusal("{\"a\":\"\t\"}"),
	    "JSON byte outside printable ASCII");
	assert_string_equal(refusal("{\"a\":\"\xc3\xa9\"}"),
	    "JSON byte outside printable ASCII");
	assert_string_equal(refusal("[1]"), "JSON not an object");
	assert_string_equal(refusal(""), "JSON not an object");
	assert_string_equal(refusal("{\"a\":1}x"), "JSON syntax");
	assert_string_equal(refusal("{\"a\":1,}"), "JSON syntax");
	assert_string_equal(refusal("{\"a\" 1}"), "JSON syntax");
	assert_string_equal(refusal("{\"a\":\"x}"), "JSON syntax");
	assert_string_equal(refusal("{\"a\":[1,2}"), "JSON syntax");
	assert_string_equal(refusal("{\"a\":tru}"), "JSON syntax");
}

static void
depth_and_size_are_bounded(void **state)
{
	char	 text[512];
	size_t	 n = 0;
	int	 i;

	/* The top object and 15 arrays: 16 deep, allowed; one more is not. */
	n += (size_t)snprintf(text, sizeof(text), "{\"a\":");
	for (i = 0; i < 15; i++)
		text[n++] = '[';
	for (i = 0; i < 15; i++)
		text[n++] = ']';
	memcpy(text + n, "}", 2);
	assert_null(refusal(text));
	memmove(text + 5, text + 4, strlen(text + 4) + 1);
	text[5] = '[';
	memcpy(text + strlen(text) - 1, "]}", 3);
	assert_string_equal(refusal(text), "JSON nested too deep");
	/* 32 members pass, 33 do not. */
	n = 0;
	text[n++] = '{';
	for (i = 0; i < 33; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\"m%d\":0",
		    i ? "," : "", i);
	memcpy(text + n, "}", 2);
	assert_string_equal(refusal(text), "JSON object with too many members");
	n = (size_t)(strstr(text, ",\"m32\"") - text);
	memcpy(text + n, "}", 2);
	assert_null(refusal(text));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(members_are_found_with_kind_and_text),
		cmocka_unit_test(numbers_follow_rfc_8259),
		cmocka_unit_test(refusals_say_why),
		cmocka_unit_test(depth_and_size_are_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
