/*
 * fuzz_body — libFuzzer target for body_parse (lib/body_json.h), our one-pass
 * strict JSON parser and "meta" locator, held against json-c 0.16 as an
 * independent oracle (strict, UTF-8 checked, depth BODY_MAX_DEPTH, the
 * whole input consumed: what decided before our parser did).
 *
 * Both must agree, except where json-c is known to be lenient:
 *  - we accept: json-c accepts the same bytes as one object, and the meta
 *    we hand on, read alone by json-c, equals the object's "meta" member
 *    (json-c keeps the last of a repeated name, as jsonb does), or is the
 *    constant "{}" when that member is absent or null; meta is
 *    NUL-terminated and either that constant or a span of the body;
 *  - we refuse as invalid_json: json-c refuses too, unless the input holds
 *    one of json-c's known leniencies (see lenient());
 *  - we refuse as invalid_meta: json-c sees a meta that is not an object
 *    or null, or one holding a \u escape (\u0000 and lone surrogates,
 *    which json-c decodes and jsonb cannot store).
 * json-c keeps a member name only up to an embedded NUL, so for it
 * "meta\u0000" is "meta"; the oracle reads a copy where every \u0000
 * escape is \u0001 (see without_nul()).
 * The input is copied into a buffer of exactly len + 1 bytes (body_read's
 * contract: buf[len] == '\0'), so ASan sees any read or write past it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "body_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* json-c's verdict on d[0..n) (d[n] == '\0'): the root object, or NULL. */
static json_object *
oracle(const char *d, size_t n)
{
	struct json_tokener *tok;
	json_object *root;

	if ((tok = json_tokener_new_ex(BODY_MAX_DEPTH)) == NULL)
		abort();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, d, (int)n + 1);
	if (root != NULL && (json_tokener_get_parse_end(tok) != n ||
	    !json_object_is_type(root, json_type_object))) {
		json_object_put(root);
		root = NULL;
	}
	json_tokener_free(tok);
	return root;
}

static int
digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* A number json-c takes and RFC 8259 does not: "-01", "1.", "-.5", "01". */
static int
odd_number(const unsigned char *d, size_t n, size_t i)
{
	unsigned char prev = i > 0 ? d[i - 1] : ' ';

	if (d[i] == '.' && (i + 1 >= n || !digit(d[i + 1])))
		return 1;
	if (d[i] == '-' && (i + 1 >= n || !digit(d[i + 1])))
		return 1;
	return d[i] == '0' && i + 1 < n && digit(d[i + 1]) &&
	    !digit(prev) && prev != '.';
}

/*
 * What json-c 0.16 accepts and RFC 8259 forbids, over-approximated: any
 * byte >= 0x80 (its UTF-8 check lets overlong forms through), a control
 * byte inside a string, and outside strings NaN, Infinity, single quotes
 * or a number outside the grammar.
 */
static int
lenient(const unsigned char *d, size_t n)
{
	size_t i;
	int in_string = 0;

	for (i = 0; i < n; i++) {
		if (d[i] >= 0x80)
			return 1;
		if (in_string) {
			if (d[i] < 0x20)
				return 1;
			if (d[i] == '\\')
				i++;
			else if (d[i] == '"')
				in_string = 0;
			continue;
		}
		if (d[i] == '"')
			in_string = 1;
		else if (strchr("NnIi'", d[i]) != NULL && d[i] != '\0' &&
		    !(d[i] == 'n' && i + 3 < n && memcmp(d + i, "null", 4) == 0))
			return 1;
		else if (odd_number(d, n, i))
			return 1;
	}
	return 0;
}

/*
 * d[0..n) with each \u0000 escape inside a string turned into \u0001, for
 * json-c: the names stay as distinct as RFC 8259 makes them, and no value
 * we compare changes, since a meta holding \u0000 is refused before any
 * comparison.  An escaped backslash ("\\u0000") is left as it is.
 */
static void
without_nul(char *d, size_t n)
{
	size_t i;
	int in_string = 0;

	for (i = 0; i < n; i++) {
		if (!in_string) {
			in_string = d[i] == '"';
			continue;
		}
		if (d[i] == '"') {
			in_string = 0;
		} else if (d[i] == '\\') {
			if (i + 6 <= n && memcmp(d + i + 1, "u0000", 5) == 0)
				d[i + 5] = '1';
			i++;
		}
	}
}

/* json-c's idea of meta: the member, or NULL when absent or null. */
static json_object *
oracle_meta(json_object *root)
{
	json_object *m;

	if (!json_object_object_get_ex(root, "meta", &m))
		return NULL;
	return m;
}

static void
check_accepted(const char *buf, size_t size, const struct body_meta *m,
    json_object *root)
{
	json_object *want, *got;
	size_t len;

	if (root == NULL || m->json == NULL || m->json[0] != '{')
		abort();
	len = strlen(m->json);
	if ((m->json < buf || m->json + len > buf + size) &&
	    strcmp(m->json, "{}") != 0)
		abort();
	want = oracle_meta(root);
	if ((got = oracle(m->json, len)) == NULL)	/* meta alone, same rules */
		abort();
	if (want == NULL ? json_object_object_length(got) != 0 :
	    !json_object_equal(got, want))
		abort();
	json_object_put(got);
}

static void
check_meta_refused(const char *copy, json_object *root)
{
	json_object *m;

	if (root == NULL || (m = oracle_meta(root)) == NULL)
		abort();
	if (json_object_is_type(m, json_type_object) &&
	    strstr(copy, "\\u") == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct body_meta meta;
	const char *why = NULL;
	enum otas_status st;
	json_object *root;
	char *buf, *copy;

	if (size > 1 << 20)
		return 0;
	if ((buf = malloc(size + 1)) == NULL || (copy = malloc(size + 1)) ==
	    NULL)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	memcpy(copy, buf, size + 1);
	without_nul(copy, size);

	st = body_parse(buf, size, &meta, &why);
	root = size > 0 ? oracle(copy, size) : json_object_new_object();
	if (st != OTAS_OK && why == NULL)
		abort();
	if (st == OTAS_OK)
		check_accepted(buf, size, &meta, root);
	else if (st == OTAS_ERR_META)
		check_meta_refused(copy, root);
	else if (st != OTAS_ERR_JSON || (root != NULL && !lenient(data, size)))
		abort();
	json_object_put(root);
	free(copy);
	free(buf);
	return 0;
}
