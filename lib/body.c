/*
 * body — json-c (strict, UTF-8 checked, depth-limited, whole input consumed)
 * decides whether the body is JSON.  json-c 0.16 still lets through NaN,
 * Infinity and raw control characters in strings, which RFC 8259 forbids;
 * a small scanner over the already-accepted text refuses those and finds
 * the byte span of the top-level "meta" value.  Because the text is known to
 * be well-formed JSON when the scanner runs, it only has to track strings
 * and nesting.
 */
#include <string.h>

#include <json-c/json.h>

#include "body.h"

enum otas_status
body_read(struct conn *c, long long content_length, size_t max, char *buf,
    size_t cap, size_t *len, const char **why)
{
	size_t want;
	long got;

	*len = 0;
	if (cap < max + 1) {
		*why = "body buffer smaller than the limit";
		return OTAS_ERR_SERVER;
	}
	if (content_length == -2) {
		*why = "CONTENT_LENGTH is not a number";
		return OTAS_ERR_JSON;
	}
	if (content_length > (long long)max) {
		*why = "declared body over the limit";
		return OTAS_ERR_TOO_LARGE;
	}
	/* Unknown length: read one byte past the limit to see it exceeded. */
	want = content_length < 0 ? max + 1 : (size_t)content_length;
	if ((got = conn_read(c, buf, want)) < 0) {
		*why = "reading the body failed";
		return OTAS_ERR_SERVER;
	}
	if ((size_t)got > max) {
		*why = "body over the limit";
		return OTAS_ERR_TOO_LARGE;
	}
	if (content_length >= 0 && (size_t)got != want) {
		*why = "body shorter than CONTENT_LENGTH";
		return OTAS_ERR_JSON;
	}
	buf[got] = '\0';
	*len = (size_t)got;
	return OTAS_OK;
}

/* json-c's verdict: one complete strict JSON object and nothing after it. */
static enum otas_status
json_check(const char *buf, size_t len, const char **why)
{
	struct json_tokener *tok;
	json_object *root;
	enum otas_status st = OTAS_ERR_JSON;

	if (len >= 0x7fffffff) {
		*why = "body too large for the JSON parser";
		return OTAS_ERR_JSON;
	}
	if ((tok = json_tokener_new_ex(BODY_MAX_DEPTH)) == NULL) {
		*why = "out of memory";
		return OTAS_ERR_SERVER;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	/*
	 * len + 1 passes the NUL, so json-c knows the input has ended (else a
	 * bare number or a truncated body is "continue", not an error); the
	 * NUL itself is not counted in parse_end, a NUL inside the body stops
	 * the parse short of len.
	 */
	root = json_tokener_parse_ex(tok, buf, (int)len + 1);
	if (root == NULL)
		*why = json_tokener_error_desc(json_tokener_get_error(tok));
	else if (json_tokener_get_parse_end(tok) != len)
		*why = "bytes after the JSON value";
	else if (!json_object_is_type(root, json_type_object))
		*why = "body is not a JSON object";
	else
		st = OTAS_OK;
	json_object_put(root);
	json_tokener_free(tok);
	return st;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The code unit of the \uXXXX escape at p (p[0] == 'u'), or -1. */
static long
u_escape(const char *p, const char *end)
{
	long v = 0;
	int i, h;

	if (end - p < 5)
		return -1;
	for (i = 1; i <= 4; i++) {
		if ((h = hexval(p[i])) < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* The byte a one-letter escape stands for: only compared, never stored. */
static char
unescape(char c)
{
	switch (c) {
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	default: return c;	/* '"', '\\', '/' */
	}
}

/*
 * Length of the well-formed UTF-8 sequence at p (RFC 3629 table 3: no
 * overlong forms, no surrogates, nothing past U+10FFFF), or 0.  json-c
 * 0.16's own check lets overlong forms such as C0 AF through.
 */
static int
utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned char lo = 0x80, hi = 0xbf;
	int n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (end - p < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

struct scan {
	char		*p, *end;
	int		 unstorable;	/* \u0000 or a lone surrogate: no jsonb */
	char		 text[5];	/* first bytes of the decoded string */
	size_t		 text_len;	/* decoded length, saturating */
};

/*
 * Steps over the string whose opening quote is at s->p; on return s->p is
 * just past the closing quote.  Returns -1 on a raw control character or
 * a byte sequence that is not UTF-8.
 */
static int
scan_string(struct scan *s)
{
	char *p = s->p + 1;
	long u, low;

	s->unstorable = 0;
	s->text_len = 0;
	for (; p < s->end && *p != '"'; p++) {
		char out = *p;

		if ((unsigned char)*p < 0x20)
			return -1;
		if ((unsigned char)*p >= 0x80) {
			int n = utf8_len((unsigned char *)p,
			    (unsigned char *)s->end);

			if (n == 0)
				return -1;
			out = '\x80';	/* never part of a name we look for */
			p += n - 1;
		} else if (*p == '\\') {
			p++;
			if (*p == 'u' && (u = u_escape(p, s->end)) >= 0) {
				p += 4;
				if (u >= 0xd800 && u <= 0xdbff && p + 2 < s->end &&
				    p[1] == '\\' && p[2] == 'u' &&
				    (low = u_escape(p + 2, s->end)) >= 0xdc00 &&
				    low <= 0xdfff)
					p += 6;		/* a valid pair */
				else if (u >= 0xd800 && u <= 0xdfff)
					s->unstorable = 1;
				s->unstorable |= u == 0;
				out = u < 0x80 ? (char)u : '\x80';
			} else
				out = unescape(*p);
		}
		if (s->text_len < sizeof(s->text))
			s->text[s->text_len] = out;
		s->text_len++;
	}
	s->p = p + 1;
	return 0;
}

static int
is_meta_key(const struct scan *s)
{
	return s->text_len == 4 && memcmp(s->text, "meta", 4) == 0;
}

/*
 * Outside strings and numbers, RFC 8259 JSON has only structure and the
 * letters of true, false and null; json-c 0.16 strict mode still passes
 * NaN, Infinity and single quotes, which fail this test.
 */
static int
bare_byte_ok(char c)
{
	return c != '\0' && strchr(" \t\r\n{}[],:truefalsn", c) != NULL;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Steps over the number at s->p, which must match RFC 8259's grammar
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? — json-c 0.16 also takes
 * "-01", "1." and "-.5".  Returns -1 when it does not.
 */
static int
scan_number(struct scan *s)
{
	char *p = s->p, *end = s->end;

	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else if (p < end && *p >= '1' && *p <= '9')
		while (p < end && is_digit(*p))
			p++;
	else
		return -1;
	if (p < end && *p == '.') {
		if (++p >= end || !is_digit(*p))
			return -1;
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || !is_digit(*p))
			return -1;
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && (is_digit(*p) || *p == '.'))
		return -1;		/* "01", "0.1.2" */
	s->p = p;
	return 0;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Walks the accepted text once.  Depth 1 is the top-level object: there a
 * string right after '{' or ',' is a member name, and a "meta" name's value
 * runs from after the ':' to the ',' or '}' that returns to depth 1.  The
 * last "meta" wins, as in json-c and jsonb.
 */
static enum otas_status
scan_body(char *buf, size_t len, struct body_meta *meta, const char **why)
{
	struct scan s = { buf, buf + len, 0, { 0 }, 0 };
	char *vstart = NULL, *mstart = NULL, *mend = NULL;
	int depth = 0, want_name = 0, in_meta = 0, meta_nul = 0, last_nul = 0;

	while (s.p < s.end) {
		char c = *s.p;

		if (c == '"') {
			int name = depth == 1 && want_name;

			if (scan_string(&s) == -1) {
				*why = "control character or bad UTF-8 in a "
				    "string";
				return OTAS_ERR_JSON;
			}
			if (name)
				in_meta = is_meta_key(&s);
			else if (vstart != NULL)
				meta_nul |= s.unstorable;
			want_name = 0;
			continue;
		}
		if (c == '-' || is_digit(c)) {
			if (scan_number(&s) == -1) {
				*why = "number outside the JSON grammar";
				return OTAS_ERR_JSON;
			}
			continue;
		}
		if (!bare_byte_ok(c)) {
			*why = "NaN, Infinity or a quote json-c let through";
			return OTAS_ERR_JSON;
		}
		if (c == '{' || c == '[') {
			depth++;
			want_name = c == '{';
		} else if (c == '}' || c == ']' || c == ',') {
			if (depth == 1 && vstart != NULL) {
				mstart = vstart;
				mend = s.p;
				last_nul = meta_nul;
				vstart = NULL;
			}
			if (c != ',')
				depth--;
			want_name = c == ',' && depth >= 1;
		} else if (c == ':' && depth == 1 && in_meta) {
			vstart = s.p + 1;
			meta_nul = 0;
			in_meta = 0;
		}
		s.p++;
	}
	if (mstart == NULL) {
		meta->json = "{}";
		meta->len = 2;
		return OTAS_OK;
	}
	while (is_space(*mstart))
		mstart++;
	while (mend > mstart && is_space(mend[-1]))
		mend--;
	if (*mstart == 'n') {		/* null */
		meta->json = "{}";
		meta->len = 2;
		return OTAS_OK;
	}
	if (*mstart != '{') {
		*why = "meta is not an object";
		return OTAS_ERR_META;
	}
	if (last_nul) {
		*why = "meta holds \\u0000 or a lone surrogate, which jsonb "
		    "cannot store";
		return OTAS_ERR_META;
	}
	*mend = '\0';
	meta->json = mstart;
	meta->len = (size_t)(mend - mstart);
	return OTAS_OK;
}

enum otas_status
body_parse(char *buf, size_t len, struct body_meta *meta, const char **why)
{
	enum otas_status st;

	meta->json = "{}";
	meta->len = 2;
	if (len == 0)
		return OTAS_OK;
	if ((st = json_check(buf, len, why)) != OTAS_OK)
		return st;
	return scan_body(buf, len, meta, why);
}
