/*
 * tokjson — one pass of recursive descent over a token segment's JSON
 * (see tokjson.h for the rules and why).  Nothing is allocated and no tree
 * is built: libjwt builds the tree; this only decides whether the text is
 * one whose tree every reader agrees on, and notes where the top-level
 * members are, with their JSON type.
 *
 * Depth is bounded (so is the recursion: TOKJSON_MAX_DEPTH frames of a
 * few hundred bytes each), and so is an object's size, which keeps the
 * duplicate check, a comparison with each earlier name, linear in the
 * text for all practical purposes (at most 31 comparisons a member).
 */
#include <string.h>

#include "tokjson.h"

struct scan {
	const char	*p, *end;
	const char	*why;
	int		 depth;
};

static int
fail(struct scan *s, const char *why)
{
	s->why = why;
	return -1;
}

static void
skip_space(struct scan *s)
{
	while (s->p < s->end && *s->p == ' ')
		s->p++;
}

/* The next byte is c; it is consumed. */
static int
expect(struct scan *s, char c, const char *why)
{
	if (s->p == s->end || *s->p != c)
		return fail(s, why);
	s->p++;
	return 0;
}

/* A string with no escape: its bytes between the quotes. */
static int
scan_string(struct scan *s, const char **start, size_t *len)
{
	const char	*q;

	if (expect(s, '"', "JSON syntax") == -1)
		return -1;
	for (q = s->p; q < s->end && *q != '"'; q++)
		if (*q == '\\')
			return fail(s, "JSON escape");
	if (q == s->end)
		return fail(s, "JSON syntax");
	*start = s->p;
	*len = (size_t)(q - s->p);
	s->p = q + 1;
	return 0;
}

/* One or more digits, at most 18 (every integer then fits in 64 bits). */
static int
scan_digits(struct scan *s)
{
	const char	*start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	if (s->p == start)
		return fail(s, "JSON syntax");
	if (s->p - start > 18)
		return fail(s, "JSON number too long");
	return 0;
}

static int
peek(const struct scan *s, char c)
{
	return s->p < s->end && *s->p == c;
}

/* RFC 8259 §6: -? (0 | [1-9][0-9]*) (. digits)? ([eE] [+-]? digits)? */
static int
scan_number(struct scan *s, enum tokjson_kind *kind)
{
	*kind = TOKJSON_INTEGER;
	if (peek(s, '-'))
		s->p++;
	if (peek(s, '0'))
		s->p++;
	else if (scan_digits(s) == -1)
		return -1;
	if (peek(s, '.')) {
		s->p++;
		*kind = TOKJSON_REAL;
		if (scan_digits(s) == -1)
			return -1;
	}
	if (peek(s, 'e') || peek(s, 'E')) {
		s->p++;
		*kind = TOKJSON_REAL;
		if (peek(s, '+') || peek(s, '-'))
			s->p++;
		if (scan_digits(s) == -1)
			return -1;
	}
	return 0;
}

static int
scan_word(struct scan *s, const char *word)
{
	size_t	 n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return fail(s, "JSON syntax");
	s->p += n;
	return 0;
}

static int scan_value(struct scan *s, struct tokjson_member *m);

static int
enter(struct scan *s)
{
	if (++s->depth > TOKJSON_MAX_DEPTH)
		return fail(s, "JSON nested too deep");
	s->p++;			/* the opening bracket */
	skip_space(s);
	return 0;
}

/* A name not seen before in o, which has room for it. */
static int
new_member(struct scan *s, struct tokjson_object *o, const char *name,
    size_t len)
{
	size_t	 i;

	for (i = 0; i < o->n; i++)
		if (o->member[i].name_len == len &&
		    memcmp(o->member[i].name, name, len) == 0)
			return fail(s, "duplicate JSON member");
	if (o->n == TOKJSON_MAX_MEMBERS)
		return fail(s, "JSON object with too many members");
	memset(&o->member[o->n], 0, sizeof(o->member[o->n]));
	o->member[o->n].name = name;
	o->member[o->n].name_len = len;
	return 0;
}

/*
 * The items of an object or array up to close, each read by item (arg
 * passed on), separated by commas: the one loop both containers share.
 */
static int
scan_items(struct scan *s, char close,
    int (*item)(struct scan *, void *), void *arg)
{
	if (enter(s) == -1)
		return -1;
	/* Empty, or items each followed by ',' and another or by close. */
	if (!peek(s, close))
		for (;;) {
			if (item(s, arg) == -1)
				return -1;
			skip_space(s);
			if (peek(s, close))
				break;
			if (expect(s, ',', "JSON syntax") == -1)
				return -1;
			skip_space(s);
		}
	s->p++;
	s->depth--;
	return 0;
}

/* One "name": value of the object arg. */
static int
scan_member(struct scan *s, void *arg)
{
	struct tokjson_object	*o = arg;
	const char		*name;
	size_t			 len;

	if (scan_string(s, &name, &len) == -1 ||
	    new_member(s, o, name, len) == -1)
		return -1;
	skip_space(s);
	if (expect(s, ':', "JSON syntax") == -1)
		return -1;
	skip_space(s);
	return scan_value(s, &o->member[o->n++]);
}

/* One element of an array: checked, its value not kept. */
static int
scan_element(struct scan *s, void *arg)
{
	struct tokjson_member	 m;

	return scan_value(s, &m);
}

static int
scan_object(struct scan *s, struct tokjson_object *o)
{
	o->n = 0;
	return scan_items(s, '}', scan_member, o);
}

static int
scan_array(struct scan *s)
{
	return scan_items(s, ']', scan_element, NULL);
}

/* Nested objects have their own names to keep apart, on this frame. */
static int
scan_nested_object(struct scan *s)
{
	struct tokjson_object	 o;

	return scan_object(s, &o);
}

/* A value of any kind; m records its kind and, for a scalar, its text. */
static int
scan_value(struct scan *s, struct tokjson_member *m)
{
	const char	*start = s->p;

	m->kind = TOKJSON_OTHER;
	if (s->p == s->end)
		return fail(s, "JSON syntax");
	switch (*s->p) {
	case '{':
		return scan_nested_object(s);
	case '[':
		return scan_array(s);
	case '"':
		m->kind = TOKJSON_STRING;
		return scan_string(s, &m->value, &m->value_len);
	case 't':
		return scan_word(s, "true");
	case 'f':
		return scan_word(s, "false");
	case 'n':
		return scan_word(s, "null");
	default:
		if (*s->p != '-' && (*s->p < '0' || *s->p > '9'))
			return fail(s, "JSON syntax");
		if (scan_number(s, &m->kind) == -1)
			return -1;
		m->value = start;
		m->value_len = (size_t)(s->p - start);
		return 0;
	}
}

enum otas_status
tokjson_scan(const char *text, size_t len, struct tokjson_object *top,
    const char **why)
{
	struct scan	 s = { text, text + len, NULL, 0 };
	size_t		 i;

	top->n = 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x20 ||
		    (unsigned char)text[i] > 0x7e) {
			*why = "JSON byte outside printable ASCII";
			return OTAS_ERR_TOKEN;
		}
	skip_space(&s);
	if (!peek(&s, '{')) {
		*why = "JSON not an object";
		return OTAS_ERR_TOKEN;
	}
	if (scan_object(&s, top) == -1) {
		*why = s.why;
		return OTAS_ERR_TOKEN;
	}
	skip_space(&s);
	if (s.p != s.end) {
		*why = "JSON syntax";
		return OTAS_ERR_TOKEN;
	}
	return OTAS_OK;
}

const struct tokjson_member *
tokjson_get(const struct tokjson_object *o, const char *name)
{
	size_t	 i, len = strlen(name);

	for (i = 0; i < o->n; i++)
		if (o->member[i].name_len == len &&
		    memcmp(o->member[i].name, name, len) == 0)
			return &o->member[i];
	return NULL;
}
