/*
 * body_json — the parser of record for request bodies is ours: one pass of
 * recursive descent over RFC 8259's grammar (depth bounded, so the
 * recursion is too), which validates and, on the way, finds the byte span
 * of the top-level "meta" value.  No tree is built and nothing is
 * allocated: the bytes of meta go to PostgreSQL as they came, and jsonb
 * is the only thing that ever turns them into values.
 *
 * Why not json-c: it built and freed a whole tree per request only to say
 * yes or no, and json-c 0.16 in strict mode still accepts what RFC 8259
 * forbids (NaN, Infinity, single quotes, raw control bytes in strings,
 * "-01", "1.", overlong UTF-8), so a second scanner had to lex the body
 * again anyway.  json-c stays where an independent parser earns its place:
 * as the oracle of tests/fuzz/fuzz_body.c, which checks that both agree on
 * every input once json-c's known leniencies are accounted for.
 *
 * What json-c decided before and this file now decides the same way (the
 * verdicts did not change): values nest at most BODY_MAX_DEPTH deep,
 * counting the top-level object as 1; whitespace around the object is
 * allowed; numbers of any size pass (jsonb decides what it can hold);
 * \u0000 and lone surrogates are valid JSON (jsonb cannot store them, so
 * inside meta they are invalid_meta, elsewhere they are ignored).
 */
#include <string.h>

#include "body_json.h"
#include "hex.h"

/* The code unit of the \uXXXX escape at p (p[0] == 'u'), or -1. */
static long
u_escape(const unsigned char *p, const unsigned char *end)
{
	return hex_u16(p + 1, (size_t)(end - p - 1));
}

/* The byte a one-letter escape stands for, or -1 for no such escape. */
static int
unescape(unsigned char c)
{
	switch (c) {
	case '"': return '"';
	case '\\': return '\\';
	case '/': return '/';
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	default: return -1;
	}
}

/*
 * Length of the well-formed UTF-8 sequence at p (RFC 3629 table 3: no
 * overlong forms, no surrogates, nothing past U+10FFFF), or 0.
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

struct parser {
	unsigned char	*p, *end;
	int		 depth;		/* of the value being read; top is 1 */
	int		 unstorable;	/* a string held \u0000 or a lone surrogate */
	const char	*why;		/* the first refusal */
	/* The last top-level "meta" member's value, NULL when none. */
	unsigned char	*meta, *meta_end;
	int		 meta_unstorable;
};

static int
refuse(struct parser *ps, const char *why)
{
	ps->why = why;
	return -1;
}

static void
skip_space(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
	    *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

/* A \uXXXX escape at ps->p (on the 'u'), a surrogate pair taken whole. */
static int
parse_u_escape(struct parser *ps, int *out)
{
	long u = u_escape(ps->p, ps->end), low;

	if (u < 0)
		return refuse(ps, "bad \\u escape");
	ps->p += 5;
	if (u >= 0xd800 && u <= 0xdbff && ps->end - ps->p >= 6 &&
	    ps->p[0] == '\\' && ps->p[1] == 'u' &&
	    (low = u_escape(ps->p + 1, ps->end)) >= 0xdc00 && low <= 0xdfff)
		ps->p += 6;		/* a valid pair */
	else if (u >= 0xd800 && u <= 0xdfff)
		ps->unstorable = 1;
	ps->unstorable |= u == 0;
	*out = u < 0x80 ? (int)u : 0x80;
	return 0;
}

/*
 * One character of a string at ps->p (not the closing quote): *out is the
 * byte it stands for when ASCII, 0x80 for anything else (never part of a
 * name we look for).
 */
static int
parse_char(struct parser *ps, int *out)
{
	int n;

	if (*ps->p < 0x20)
		return refuse(ps, "control character in a string");
	if (*ps->p >= 0x80) {
		if ((n = utf8_len(ps->p, ps->end)) == 0)
			return refuse(ps, "bad UTF-8 in a string");
		ps->p += n;
		*out = 0x80;
		return 0;
	}
	if (*ps->p != '\\') {
		*out = *ps->p++;
		return 0;
	}
	if (++ps->p >= ps->end)
		return refuse(ps, "unfinished string");
	if (*ps->p == 'u')
		return parse_u_escape(ps, out);
	if ((*out = unescape(*ps->p)) == -1)
		return refuse(ps, "bad escape in a string");
	ps->p++;
	return 0;
}

/*
 * The string at ps->p (on its opening quote).  text gets the first bytes
 * of what it stands for and *text_len its decoded length, so a member name
 * can be compared however it was escaped.
 */
static int
parse_string(struct parser *ps, char text[5], size_t *text_len)
{
	int c;

	*text_len = 0;
	ps->p++;
	while (ps->p < ps->end && *ps->p != '"') {
		if (parse_char(ps, &c) == -1)
			return -1;
		if (*text_len < 5)
			text[*text_len] = (char)c;
		(*text_len)++;
	}
	if (ps->p >= ps->end)
		return refuse(ps, "unfinished string");
	ps->p++;
	return 0;
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static void
skip_digits(struct parser *ps)
{
	while (ps->p < ps->end && is_digit(*ps->p))
		ps->p++;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, of any size. */
static int
parse_number(struct parser *ps)
{
	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p < ps->end && *ps->p == '0')
		ps->p++;
	else if (ps->p < ps->end && *ps->p >= '1' && *ps->p <= '9')
		skip_digits(ps);
	else
		return refuse(ps, "number outside the JSON grammar");
	if (ps->p < ps->end && *ps->p == '.') {
		if (++ps->p >= ps->end || !is_digit(*ps->p))
			return refuse(ps, "number outside the JSON grammar");
		skip_digits(ps);
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		if (++ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (ps->p >= ps->end || !is_digit(*ps->p))
			return refuse(ps, "number outside the JSON grammar");
		skip_digits(ps);
	}
	return 0;
}

static int
parse_literal(struct parser *ps, const char *word, size_t n)
{
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return refuse(ps, "not a JSON value");
	ps->p += n;
	return 0;
}

static int parse_value(struct parser *ps);

/* A member name, the ':' and the value; at the top, meta is noted. */
static int
parse_member(struct parser *ps)
{
	unsigned char *start;
	char name[5];
	size_t name_len;
	int is_meta;

	if (ps->p >= ps->end || *ps->p != '"')
		return refuse(ps, "member name expected");
	if (parse_string(ps, name, &name_len) == -1)
		return -1;
	is_meta = ps->depth == 1 && name_len == 4 &&
	    memcmp(name, "meta", 4) == 0;
	skip_space(ps);
	if (ps->p >= ps->end || *ps->p != ':')
		return refuse(ps, "':' expected after a member name");
	ps->p++;
	skip_space(ps);
	start = ps->p;
	if (ps->depth == 1)	/* counted per top-level value, keys included */
		ps->unstorable = 0;
	if (parse_value(ps) == -1)
		return -1;
	if (is_meta) {		/* the last one wins, as in jsonb */
		ps->meta = start;
		ps->meta_end = ps->p;
		ps->meta_unstorable = ps->unstorable;
	}
	return 0;
}

/* An object or an array at ps->p (on its opening bracket). */
static int
parse_container(struct parser *ps)
{
	int object = *ps->p == '{';
	unsigned char close = object ? '}' : ']';

	ps->p++;
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return 0;
	}
	for (;;) {
		if ((object ? parse_member(ps) : parse_value(ps)) == -1)
			return -1;
		skip_space(ps);
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			return 0;
		}
		if (ps->p >= ps->end || *ps->p != ',')
			return refuse(ps, "',' or the closing bracket expected");
		ps->p++;
		skip_space(ps);
	}
}

static int
parse_value(struct parser *ps)
{
	int rc;

	if (ps->p >= ps->end)
		return refuse(ps, "value expected");
	if (++ps->depth > BODY_MAX_DEPTH)
		return refuse(ps, "nested deeper than the limit");
	switch (*ps->p) {
	case '{':
	case '[':
		rc = parse_container(ps);
		break;
	case '"': {
		char text[5];
		size_t n;

		rc = parse_string(ps, text, &n);
		break;
	}
	case 't':
		rc = parse_literal(ps, "true", 4);
		break;
	case 'f':
		rc = parse_literal(ps, "false", 5);
		break;
	case 'n':
		rc = parse_literal(ps, "null", 4);
		break;
	default:
		rc = parse_number(ps);
		break;
	}
	ps->depth--;
	return rc;
}

/* The meta span found by the parse, as body_parse promises it. */
static enum otas_status
take_meta(struct parser *ps, struct body_meta *meta, const char **why)
{
	if (ps->meta == NULL || *ps->meta == 'n')	/* absent or null */
		return OTAS_OK;
	if (*ps->meta != '{') {
		*why = "meta is not an object";
		return OTAS_ERR_META;
	}
	if (ps->meta_unstorable) {
		*why = "meta holds \\u0000 or a lone surrogate, which jsonb "
		    "cannot store";
		return OTAS_ERR_META;
	}
	*ps->meta_end = '\0';	/* the caller's buffer: ends meta in place */
	meta->json = (const char *)ps->meta;
	return OTAS_OK;
}

enum otas_status
body_parse(char *buf, size_t len, struct body_meta *meta, const char **why)
{
	struct parser ps;

	meta->json = "{}";
	if (len == 0)
		return OTAS_OK;
	memset(&ps, 0, sizeof(ps));
	ps.p = (unsigned char *)buf;
	ps.end = ps.p + len;
	skip_space(&ps);
	if (ps.p < ps.end && *ps.p != '{') {
		*why = "body is not a JSON object";
		return OTAS_ERR_JSON;
	}
	if (parse_value(&ps) == -1) {
		*why = ps.why;
		return OTAS_ERR_JSON;
	}
	skip_space(&ps);
	if (ps.p != ps.end) {
		*why = "bytes after the JSON value";
		return OTAS_ERR_JSON;
	}
	return take_meta(&ps, meta, why);
}
