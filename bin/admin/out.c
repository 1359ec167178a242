/*
 * out — how a command's answer reaches stdout: one JSON object with
 * --json, else text lines.  A command gathers its result, then hands each
 * field and each text line to out_*; only these functions look at --json,
 * so no command has a branch of its own for the two forms.  Text lines go
 * out at once (migrate's "applied" lines come before a later failure);
 * the JSON object is printed whole by out_end, or not at all.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"

void
out_start(struct out *o, const struct ctx *c)
{
	o->json = c->json;
	o->obj = o->json ? json_object_new_object() : NULL;
}

/* Adds member key (JSON only); v is consumed, NULL is JSON null. */
void
out_add(struct out *o, const char *key, struct json_object *v)
{
	if (o->json)
		json_object_object_add(o->obj, key, v);
	else
		json_object_put(v);
}

void
out_str(struct out *o, const char *key, const char *s)
{
	if (o->json)
		out_add(o, key, s == NULL ? NULL : json_object_new_string(s));
}

void
out_int(struct out *o, const char *key, long long n)
{
	if (o->json)
		out_add(o, key, json_object_new_int64(n));
}

void
out_bool(struct out *o, const char *key, int b)
{
	if (o->json)
		out_add(o, key, json_object_new_boolean(b));
}

/* The rows of res as an array member (JSON only). */
void
out_rows(struct out *o, const char *key, const PGresult *res,
    const struct jcolumn *cols, int ncols)
{
	if (o->json)
		out_add(o, key, jrows(res, cols, ncols));
}

/* One text line (text only); fmt ends without the newline. */
void
out_line(struct out *o, const char *fmt, ...)
{
	va_list	 ap;

	if (o->json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Prints the JSON object (with --json) and frees it. */
void
out_end(struct out *o)
{
	if (o->json)
		json_print(o->obj);
	o->obj = NULL;
}

/* A failure after out_start: the JSON object is dropped unprinted. */
void
out_drop(struct out *o)
{
	json_object_put(o->obj);
	o->obj = NULL;
}


void
json_print(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

const char *
cell(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/*
 * jsonb text from PostgreSQL, placed in the output verbatim: parsing it
 * again would round big numbers through a double or an int64.
 */
struct json_object *
jraw(const char *text)
{
	struct json_object	*o;
	char			*copy;

	if ((copy = strdup(text)) == NULL)
		return NULL;
	o = json_object_new_object();
	json_object_set_serializer(o, json_object_userdata_to_json_string,
	    copy, json_object_free_userdata);
	return o;
}

/* One cell as the member kind says; NULL (JSON null) for SQL NULL. */
static struct json_object *
jcell(const PGresult *res, int row, int col, enum jkind kind)
{
	const char	*v = cell(res, row, col);
	long long	 n;

	if (v == NULL)
		return NULL;
	switch (kind) {
	case J_BOOL:
		return json_object_new_boolean(strcmp(v, "t") == 0);
	case J_INT:
		if (decimal_parse(v, strlen(v), LLONG_MIN, LLONG_MAX, &n) == -1)
			return NULL;
		return json_object_new_int64(n);
	case J_RAW:
		return jraw(v);
	default:
		return json_object_new_string(v);
	}
}

struct json_object *
jrows(const PGresult *res, const struct jcolumn *cols, int ncols)
{
	struct json_object	*arr = json_object_new_array(), *e;
	int			 i, k;

	for (i = 0; i < PQntuples(res); i++) {
		e = json_object_new_object();
		for (k = 0; k < ncols; k++)
			json_object_object_add(e, cols[k].name,
			    jcell(res, i, k, cols[k].kind));
		json_object_array_add(arr, e);
	}
	return arr;
}

const char *
or_dash(const char *s)
{
	return s == NULL || s[0] == '\0' ? "-" : s;
}

