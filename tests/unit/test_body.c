/*
 * test_body — body_parse (strict RFC 8259, one object, the raw bytes of the
 * top-level "meta" returned exactly) and body_read (size decided from
 * CONTENT_LENGTH before reading, enforced while reading).  body_read is run
 * on a CGI-mode conn (fcgi NULL reads stdin), with stdin reopened on a
 * temporary file holding the body.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "body.h"
#include "body_json.h"
#include "tmpfile.h"

/* body_parse on a private, writable copy of text[0..len). */
static enum otas_status
parse_n(const char *text, size_t len, char *meta_out, size_t meta_cap)
{
	struct body_meta meta;
	const char *why = NULL;
	enum otas_status st;
	char *buf;

	assert_non_null(buf = malloc(len + 1));
	memcpy(buf, text, len);
	buf[len] = '\0';
	meta.json = NULL;
	st = body_parse(buf, len, &meta, &why);
	if (st == OTAS_OK) {
		assert_non_null(meta.json);
		if (meta_out != NULL) {
			assert_true(strlen(meta.json) < meta_cap);
			memcpy(meta_out, meta.json, strlen(meta.json) + 1);
		}
	} else
		assert_non_null(why);	/* the log always gets a reason */
	free(buf);
	return st;
}

static enum otas_status
parse(const char *text, char *meta_out, size_t meta_cap)
{
	return parse_n(text, strlen(text), meta_out, meta_cap);
}

/* text must be accepted and its meta be exactly want. */
static void
assert_meta(const char *text, const char *want)
{
	char got[1024];

	if (parse(text, got, sizeof(got)) != OTAS_OK)
		fail_msg("refused: %s", text);
	if (strcmp(got, want) != 0)
		fail_msg("%s: meta is '%s', want '%s'", text, got, want);
}

static void
assert_status(const char *text, enum otas_status want)
{
	enum otas_status got = parse(text, NULL, 0);

	if (got != want)
		fail_msg("%s: got %d, want %d", text, got, want);
}

/*
 * Each template of tpl[0..ntpl) with each piece of pieces[0..n) put in
 * place of its "%s" (a marker, not a format: the pieces hold '%' and
 * bytes of every kind) must get want.
 */
static void
assert_status_in_each(const char *const tpl[], size_t ntpl,
    const char *const pieces[], size_t n, enum otas_status want)
{
	char text[128];
	const char *mark;
	size_t i, j, head, plen;

	for (j = 0; j < n; j++)
		for (i = 0; i < ntpl; i++) {
			assert_non_null(mark = strstr(tpl[i], "%s"));
			head = (size_t)(mark - tpl[i]);
			plen = strlen(pieces[j]);
			assert_true(head + plen + strlen(mark + 2) <
			    sizeof(text));
			memcpy(text, tpl[i], head);
			memcpy(text + head, pieces[j], plen);
			memcpy(text + head + plen, mark + 2,
			    strlen(mark + 2) + 1);
			assert_status(text, want);
		}
}

/* Where a number stands: a member, an array, and inside meta, where
 * jsonb would refuse it as invalid_meta. */
static const char *const in_number[] = {
	"{\"a\": %s}", "{\"a\": [1, %s]}", "{\"meta\": {\"n\": %s}}",
};
#define NUMBER_PLACES	(sizeof(in_number) / sizeof(in_number[0]))

/* Each of texts[0..n) must get want. */
static void
assert_all_status(const char *const texts[], size_t n, enum otas_status want)
{
	size_t i;

	for (i = 0; i < n; i++)
		assert_status(texts[i], want);
}

static void
empty_body_gives_empty_meta(void **state)
{
	char buf[1] = { '\0' };
	struct body_meta meta;
	const char *why = NULL;

	assert_int_equal(body_parse(buf, 0, &meta, &why), OTAS_OK);
	assert_string_equal(meta.json, "{}");
}

static void
absent_or_null_meta_gives_empty_meta(void **state)
{
	assert_meta("{}", "{}");
	assert_meta(" \r\n\t{}\n", "{}");
	assert_meta("{\"task\": \"x\"}", "{}");
	assert_meta("{\"meta\": null}", "{}");
	assert_meta("{\"meta\":null,\"x\":1}", "{}");
	assert_meta("{ \"meta\" : null }", "{}");
}

static void
meta_object_is_returned_byte_exact(void **state)
{
	assert_meta("{\"meta\": {\"task\": \"summarize\", \"input_length\": 512}}",
	    "{\"task\": \"summarize\", \"input_length\": 512}");
	assert_meta("{\"meta\":{}}", "{}");
	assert_meta("{\"a\": 1, \"meta\":  {\"b\" :[1, {\"c\": null}]}  , "
	    "\"z\": [\"}\"]}", "{\"b\" :[1, {\"c\": null}]}");
	assert_meta("{\"meta\":{\"s\":\"a \\\"}\\\" , b\"}}",
	    "{\"s\":\"a \\\"}\\\" , b\"}");
}

static void
meta_big_numbers_keep_every_digit(void **state)
{
	assert_meta("{\"meta\": {\"big\": 123456789012345678901234567890, "
	    "\"neg\": -98765432109876543210987654321}}",
	    "{\"big\": 123456789012345678901234567890, "
	    "\"neg\": -98765432109876543210987654321}");
	assert_meta("{\"meta\": {\"d\": 3.14159265358979323846264338327950288, "
	    "\"e\": 1.000000000000000000000001e-300, \"z\": 0.10}}",
	    "{\"d\": 3.14159265358979323846264338327950288, "
	    "\"e\": 1.000000000000000000000001e-300, \"z\": 0.10}");
}

static void
meta_unicode_escapes_are_kept_as_sent(void **state)
{
	assert_meta("{\"meta\": {\"u\": \"\\u00e9\\ud83d\\ude00\\u4E2D\"}}",
	    "{\"u\": \"\\u00e9\\ud83d\\ude00\\u4E2D\"}");
	assert_meta("{\"meta\": {\"raw\": \"\xc3\xa9\xf0\x9f\x98\x80\"}}",
	    "{\"raw\": \"\xc3\xa9\xf0\x9f\x98\x80\"}");
	assert_meta("{\"meta\": {\"esc\": \"\\/\\\\\\n\\t\"}}",
	    "{\"esc\": \"\\/\\\\\\n\\t\"}");
}

static void
duplicate_meta_last_wins(void **state)
{
	assert_meta("{\"meta\": {\"a\": 1}, \"meta\": {\"b\": 2}}",
	    "{\"b\": 2}");
	assert_meta("{\"meta\": {\"a\": 1}, \"x\": 0, \"meta\": null}", "{}");
	assert_meta("{\"meta\": 5, \"meta\": {\"ok\": true}}",
	    "{\"ok\": true}");
	assert_status("{\"meta\": {\"a\": 1}, \"meta\": [1]}", OTAS_ERR_META);
	assert_status("{\"meta\": {\"a\": \"\\u0000\"}, \"meta\": {}}", OTAS_OK);
	assert_status("{\"meta\": {}, \"meta\": {\"a\": \"\\u0000\"}}",
	    OTAS_ERR_META);
}

static void
meta_under_an_escaped_name_is_meta(void **state)
{
	assert_meta("{\"me\\u0074a\": {\"a\": 1}}", "{\"a\": 1}");
	assert_meta("{\"\\u006d\\u0065\\u0074\\u0061\": {\"b\": 2}}",
	    "{\"b\": 2}");
	assert_status("{\"me\\u0074a\": [1]}", OTAS_ERR_META);
}

static void
names_that_only_look_like_meta_are_not_meta(void **state)
{
	assert_meta("{\"Meta\": [1]}", "{}");
	assert_meta("{\"metadata\": [1]}", "{}");
	assert_meta("{\"met\": [1]}", "{}");
	assert_meta("{\"meta \": [1]}", "{}");
	assert_meta("{\"meta\\u0000\": [1]}", "{}");
	assert_meta("{\"x\": \"meta\", \"y\": [1]}", "{}");
}

static void
nested_meta_is_ignored(void **state)
{
	assert_meta("{\"x\": {\"meta\": {\"a\": 1}}}", "{}");
	assert_meta("{\"x\": {\"meta\": 5}}", "{}");
	assert_meta("{\"x\": [{\"meta\": \"s\"}], \"y\": {\"z\": {\"meta\": 1}}}",
	    "{}");
	assert_meta("{\"x\": {\"meta\": 5}, \"meta\": {\"top\": 1}}",
	    "{\"top\": 1}");
	assert_meta("{\"meta\": {\"meta\": 5}}", "{\"meta\": 5}");
}

static void
not_one_json_object_is_invalid_json(void **state)
{
	const char *bad[] = {
		" ", " \r\n\t ", "[]", "[{\"meta\": {}}]", "1", "\"s\"",
		"null", "true", "{} x", "{}}", "{}{}", "{} {}", "{}[]",
		"{", "}", "{\"meta\": {\"a\": 1}", "{\"meta\": {\"a\": 1",
		"{\"meta\":", "{\"a\"", "{\"a\":\"b", "{\"a\":1,", ",{}",
	};

	assert_all_status(bad, sizeof(bad) / sizeof(bad[0]), OTAS_ERR_JSON);
}

static void
non_rfc_8259_values_are_invalid_json(void **state)
{
	const char *bad[] = {
		"{\"a\": NaN}", "{\"a\": Infinity}", "{\"a\": -Infinity}",
		"{\"meta\": {\"a\": NaN}}", "{\"a\": nan}", "{\"a\": inf}",
		"{\"a\": 1} // c", "/* c */ {}", "{\"a\": /* c */ 1}",
		"{\"a\": 1,}", "{\"a\": [1, 2,]}", "{,}",
		"{'a': 1}", "{\"a\": 'b'}",
		"{\"a\": 01}", "{\"a\": 0012}", "{\"a\": +1}", "{\"a\": .5}",
		"{\"a\": 1e}", "{\"a\": 0x10}", "{\"a\": 1.5.5}", "{\"a\": -}",
		"{\"a\": True}", "{\"a\": NULL}", "{\"a\": undefined}",
		"{a: 1}", "{\"a\" 1}", "{\"a\": 1 \"b\": 2}",
		"{\"a\": \"\\x41\"}", "{\"a\": \"\\u12\"}", "{\"a\": \"\\'\"}",
	};

	assert_all_status(bad, sizeof(bad) / sizeof(bad[0]), OTAS_ERR_JSON);
}

/* RFC 8259 §6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and no more. */
static void
numbers_outside_the_rfc_8259_grammar_are_invalid_json(void **state)
{
	const char *bad[] = {
		"-01", "-00", "00", "000", "-012.5", "1.", "0.", "-0.", "9.",
		"-1.", "1.e5", "-.5", "-0.e1",
	};

	assert_status_in_each(in_number, NUMBER_PLACES, bad,
	    sizeof(bad) / sizeof(bad[0]), OTAS_ERR_JSON);
}

static void
numbers_inside_the_rfc_8259_grammar_are_accepted(void **state)
{
	const char *good[] = {
		"0", "-0", "0.0", "-0.0", "10", "1e5", "1E+5", "1e-05",
		"0e0", "-0.5e-3", "123.456E78",
	};

	assert_status_in_each(in_number, 1, good,
	    sizeof(good) / sizeof(good[0]), OTAS_OK);
}

static void
raw_control_characters_in_strings_are_invalid_json(void **state)
{
	static const char *const in_string[] = {
		"{\"a\": \"%s\"}", "{\"meta\": {\"%s\": 1}}",
	};
	char piece[] = "x?y";
	const char *const pieces[] = { piece };
	int c;

	for (c = 1; c < 0x20; c++) {
		piece[1] = (char)c;
		assert_status_in_each(in_string, 2, pieces, 1, OTAS_ERR_JSON);
	}
	/* DEL is not a control character for JSON. */
	assert_status("{\"a\": \"x\x7fy\"}", OTAS_OK);
}

static void
invalid_utf8_is_invalid_json(void **state)
{
	const char *bad[] = {
		"\x80", "\xbf", "\xc3", "\xc3\x28", "\xc0\xaf", "\xc1\xbf",
		"\xe0\x80\xaf", "\xe2\x82", "\xed\xa0\x80", "\xed\xbf\xbf",
		"\xf0\x80\x80\xaf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
		"\xfe", "\xff",
	};
	static const char *const in_text[] = {
		"{\"a\": \"%s\"}", "{\"meta\": {\"k\": \"%s\"}}",
		"{\"%s\": 1}",
	};

	assert_status_in_each(in_text, 3, bad, sizeof(bad) / sizeof(bad[0]),
	    OTAS_ERR_JSON);
}

static void
valid_utf8_edges_are_accepted(void **state)
{
	assert_meta("{\"meta\": {\"k\": \"\xc2\x80\xdf\xbf\xe0\xa0\x80"
	    "\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"}}",
	    "{\"k\": \"\xc2\x80\xdf\xbf\xe0\xa0\x80"
	    "\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"}");
}

static void
nul_byte_inside_the_body_is_invalid_json(void **state)
{
	static const char in_string[] = "{\"a\": \"x\0y\"}";
	static const char trailing[] = "{\"a\": 1}\0";
	static const char between[] = "{\"a\": 1}\0{}";
	static const char in_meta[] = "{\"meta\": {\"a\": \"\0\"}}";
	static const char leading[] = "\0{}";

	assert_int_equal(parse_n(in_string, sizeof(in_string) - 1, NULL, 0),
	    OTAS_ERR_JSON);
	assert_int_equal(parse_n(trailing, sizeof(trailing) - 1, NULL, 0),
	    OTAS_ERR_JSON);
	assert_int_equal(parse_n(between, sizeof(between) - 1, NULL, 0),
	    OTAS_ERR_JSON);
	assert_int_equal(parse_n(in_meta, sizeof(in_meta) - 1, NULL, 0),
	    OTAS_ERR_JSON);
	assert_int_equal(parse_n(leading, sizeof(leading) - 1, NULL, 0),
	    OTAS_ERR_JSON);
}

/* {"a": [[...]]} with depth containers in all, the top object included. */
static char *
nested(int depth, const char *open, const char *close)
{
	size_t cap = 16 + 2 * (size_t)depth;
	char *s;
	int i;
	size_t n;

	assert_non_null(s = malloc(cap));
	n = (size_t)snprintf(s, cap, "{\"a\":");
	for (i = 1; i < depth; i++)
		s[n++] = *open;
	for (i = 1; i < depth; i++)
		s[n++] = *close;
	s[n++] = '}';
	s[n] = '\0';
	return s;
}

static void
depth_64_is_accepted_and_65_refused(void **state)
{
	char *s;

	assert_int_equal(BODY_MAX_DEPTH, 64);
	s = nested(BODY_MAX_DEPTH, "[", "]");
	assert_status(s, OTAS_OK);
	free(s);
	s = nested(BODY_MAX_DEPTH + 1, "[", "]");
	assert_status(s, OTAS_ERR_JSON);
	free(s);
	s = nested(1000, "[", "]");
	assert_status(s, OTAS_ERR_JSON);
	free(s);
}

static void
depth_counts_meta_objects_too(void **state)
{
	const size_t head = strlen("{\"meta\":");
	char *s, *m;
	size_t n;
	int depth, i;

	/* {"meta":{"a":{"a":...{}...}}}: depth objects in all. */
	for (depth = BODY_MAX_DEPTH; depth <= BODY_MAX_DEPTH + 1; depth++) {
		assert_non_null(s = malloc(16 + 6 * (size_t)depth));
		n = (size_t)snprintf(s, 16, "{\"meta\":");
		for (i = 2; i < depth; i++) {
			memcpy(s + n, "{\"a\":", 5);
			n += 5;
		}
		for (i = 1; i < depth; i++)
			s[n++] = i == 1 ? '{' : '}';
		s[n++] = '}';
		s[n++] = '}';
		s[n] = '\0';
		assert_non_null(m = malloc(n + 1));
		if (depth > BODY_MAX_DEPTH)
			assert_int_equal(parse(s, m, n + 1), OTAS_ERR_JSON);
		else {
			assert_int_equal(parse(s, m, n + 1), OTAS_OK);
			s[n - 1] = '\0';	/* meta ends before the last '}' */
			assert_string_equal(m, s + head);
		}
		free(m);
		free(s);
	}
}

static void
meta_that_is_not_an_object_is_invalid_meta(void **state)
{
	const char *bad[] = {
		"{\"meta\": []}", "{\"meta\": [{\"a\": 1}]}",
		"{\"meta\": \"s\"}", "{\"meta\": \"{}\"}", "{\"meta\": \"\"}",
		"{\"meta\": 0}", "{\"meta\": 12}", "{\"meta\": -1.5e3}",
		"{\"meta\": true}", "{\"meta\": false}",
		"{ \"meta\" :\ttrue\n}",
	};

	assert_all_status(bad, sizeof(bad) / sizeof(bad[0]), OTAS_ERR_META);
}

static void
nul_escape_inside_meta_is_invalid_meta(void **state)
{
	assert_status("{\"meta\": {\"a\": \"\\u0000\"}}", OTAS_ERR_META);
	assert_status("{\"meta\": {\"a\": \"x\\u0000y\"}}", OTAS_ERR_META);
	assert_status("{\"meta\": {\"a\\u0000\": 1}}", OTAS_ERR_META);
	assert_status("{\"meta\": {\"a\": [{\"b\": \"\\u0000\"}]}}",
	    OTAS_ERR_META);
}

static void
whitespace_around_and_inside_the_object_is_allowed(void **state)
{
	assert_meta(" \r\n\t{ \"meta\" : { \"a\" : [ 1 , 2 ] } } \n",
	    "{ \"a\" : [ 1 , 2 ] }");
	assert_status("{}\n", OTAS_OK);
	/* Only the four of RFC 8259: no form feed, no vertical tab. */
	assert_status("{}\f", OTAS_ERR_JSON);
	assert_status("\v{}", OTAS_ERR_JSON);
}

static void
byte_order_mark_is_invalid_json(void **state)
{
	assert_status("\xef\xbb\xbf{}", OTAS_ERR_JSON);
}

static void
nul_escape_outside_meta_is_fine(void **state)
{
	assert_meta("{\"x\": \"a\\u0000b\", \"meta\": {\"a\": 1}}",
	    "{\"a\": 1}");
	assert_meta("{\"meta\": {\"a\": 1}, \"x\": \"\\u0000\"}", "{\"a\": 1}");
	assert_meta("{\"x\\u0000\": 1}", "{}");
	assert_meta("{\"x\": {\"meta\": \"\\u0000\"}}", "{}");
}

static void
escaped_backslash_before_u0000_is_not_a_nul(void **state)
{
	assert_meta("{\"meta\": {\"a\": \"\\\\u0000\"}}",
	    "{\"a\": \"\\\\u0000\"}");
}

/* ---- body_read: stdin on a temporary file ---------------------------- */

static void
stdin_from(const char *bytes, size_t n)
{
	char path[] = "/tmp/test_body.XXXXXX";

	write_file(path, bytes, n);
	assert_non_null(freopen(path, "rb", stdin));
	unlink(path);
}

#define MAX 16

static enum otas_status
read_body(long long content_length, char *buf, size_t *len)
{
	struct conn c = { .envp = NULL, .fcgi = NULL };
	const char *why = NULL;
	enum otas_status st;

	memset(buf, 'X', MAX + 1);
	*len = 12345;
	st = body_read(&c, content_length, MAX, buf, MAX + 1, len, &why);
	if (st != OTAS_OK)
		assert_non_null(why);
	return st;
}

static void
read_declared_over_limit_is_too_large_without_reading(void **state)
{
	char buf[MAX + 1];
	size_t len;

	stdin_from("{}", 2);
	assert_int_equal(read_body(MAX + 1, buf, &len), OTAS_ERR_TOO_LARGE);
	assert_int_equal(ftell(stdin), 0);
	assert_int_equal(read_body(9223372036854775807LL, buf, &len),
	    OTAS_ERR_TOO_LARGE);
	assert_int_equal(ftell(stdin), 0);
}

static void
read_undeclared_over_limit_is_too_large(void **state)
{
	char buf[MAX + 1];
	char big[MAX * 4];
	size_t len;

	memset(big, ' ', sizeof(big));
	stdin_from(big, MAX + 1);
	assert_int_equal(read_body(-1, buf, &len), OTAS_ERR_TOO_LARGE);
	stdin_from(big, sizeof(big));
	assert_int_equal(read_body(-1, buf, &len), OTAS_ERR_TOO_LARGE);
}

/* stdin holds in[0..n); read with Content-Length declared (-1: none). */
static const struct {
	const char		*name;
	const char		*in;
	size_t			 n;
	long long		 declared;
	enum otas_status	 status;
	size_t			 len;	/* when read: the bytes in[0..len) */
} reads[] = {
	{ "undeclared, read to the end", "{\"a\": 1}", 8, -1, OTAS_OK, 8 },
	{ "undeclared, the limit", "0123456789abcdef", MAX, -1, OTAS_OK, MAX },
	{ "undeclared, empty", "", 0, -1, OTAS_OK, 0 },
	{ "shorter than declared", "{\"a\"", 4, 10, OTAS_ERR_JSON, 0 },
	{ "empty, one declared", "", 0, 1, OTAS_ERR_JSON, 0 },
	{ "invalid length", "{}", 2, -2, OTAS_ERR_JSON, 0 },
	{ "exact length", "{\"a\": 1}", 8, 8, OTAS_OK, 8 },
	{ "exact length, the limit", "0123456789abcdef", MAX, MAX, OTAS_OK,
	    MAX },
	{ "exact length, empty", "", 0, 0, OTAS_OK, 0 },
	{ "stops at the declared length", "{}trailing", 10, 2, OTAS_OK, 2 },
};

static void
reads_keep_the_declared_bytes_nul_terminated(void **state)
{
	char buf[MAX + 1];
	size_t i, len;
	enum otas_status st;

	for (i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		stdin_from(reads[i].in, reads[i].n);
		st = read_body(reads[i].declared, buf, &len);
		if (st != reads[i].status)
			fail_msg("%s: status %d, want %d", reads[i].name, st,
			    reads[i].status);
		if (st != OTAS_OK)
			continue;
		if (len != reads[i].len || buf[len] != '\0' ||
		    memcmp(buf, reads[i].in, len) != 0)
			fail_msg("%s: %zu bytes read, want %zu", reads[i].name,
			    len, reads[i].len);
	}
}

static void
read_into_a_buffer_below_the_limit_is_server_error(void **state)
{
	struct conn c = { .envp = NULL, .fcgi = NULL };
	const char *why = NULL;
	char buf[MAX];
	size_t len;

	stdin_from("{}", 2);
	assert_int_equal(body_read(&c, 2, MAX, buf, MAX, &len, &why),
	    OTAS_ERR_SERVER);
	assert_non_null(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_body_gives_empty_meta),
		cmocka_unit_test(absent_or_null_meta_gives_empty_meta),
		cmocka_unit_test(meta_object_is_returned_byte_exact),
		cmocka_unit_test(meta_big_numbers_keep_every_digit),
		cmocka_unit_test(meta_unicode_escapes_are_kept_as_sent),
		cmocka_unit_test(duplicate_meta_last_wins),
		cmocka_unit_test(meta_under_an_escaped_name_is_meta),
		cmocka_unit_test(names_that_only_look_like_meta_are_not_meta),
		cmocka_unit_test(nested_meta_is_ignored),
		cmocka_unit_test(not_one_json_object_is_invalid_json),
		cmocka_unit_test(non_rfc_8259_values_are_invalid_json),
		cmocka_unit_test(numbers_outside_the_rfc_8259_grammar_are_invalid_json),
		cmocka_unit_test(numbers_inside_the_rfc_8259_grammar_are_accepted),
		cmocka_unit_test(raw_control_characters_in_strings_are_invalid_json),
		cmocka_unit_test(invalid_utf8_is_invalid_json),
		cmocka_unit_test(valid_utf8_edges_are_accepted),
		cmocka_unit_test(nul_byte_inside_the_body_is_invalid_json),
		cmocka_unit_test(depth_64_is_accepted_and_65_refused),
		cmocka_unit_test(depth_counts_meta_objects_too),
		cmocka_unit_test(meta_that_is_not_an_object_is_invalid_meta),
		cmocka_unit_test(nul_escape_inside_meta_is_invalid_meta),
		cmocka_unit_test(nul_escape_outside_meta_is_fine),
		cmocka_unit_test(whitespace_around_and_inside_the_object_is_allowed),
		cmocka_unit_test(byte_order_mark_is_invalid_json),
		cmocka_unit_test(escaped_backslash_before_u0000_is_not_a_nul),
		cmocka_unit_test(read_declared_over_limit_is_too_large_without_reading),
		cmocka_unit_test(read_undeclared_over_limit_is_too_large),
		cmocka_unit_test(
		    reads_keep_the_declared_bytes_nul_terminated),
		cmocka_unit_test(read_into_a_buffer_below_the_limit_is_server_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
