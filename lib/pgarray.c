/*
 * pgarray — grows one buffer by doubling, so a group commit of many rows
 * costs a handful of allocations per column, and every append reserves
 * the worst case (each byte escaped) before writing: no second pass.
 */
#include <stdlib.h>

#include "pgarray.h"

/* Room for need more bytes; 0, or -1 when out of memory. */
static int
reserve(struct pgarray *a, size_t need)
{
	size_t ncap;
	char *p;

	if (need <= a->cap - a->len)
		return 0;
	if (a->len > (size_t)-1 / 2 || need > (size_t)-1 / 2 - a->len)
		return -1;
	ncap = 2 * (a->len + need);
	if ((p = realloc(a->buf, ncap)) == NULL)
		return -1;
	a->buf = p;
	a->cap = ncap;
	return 0;
}

int
pgarray_add(struct pgarray *a, const char *s, size_t len)
{
	char *p;
	size_t i;

	/* separator or '{', two quotes, every byte escaped, then "}" and NUL */
	if (len > ((size_t)-1 - 5) / 2 || reserve(a, 2 * len + 5) == -1)
		return -1;
	p = a->buf + a->len;
	*p++ = a->len == 0 ? '{' : ',';
	*p++ = '"';
	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			*p++ = '\\';
		*p++ = s[i];
	}
	*p++ = '"';
	a->len = (size_t)(p - a->buf);
	return 0;
}

const char *
pgarray_end(struct pgarray *a)
{
	if (reserve(a, 3) == -1)
		return NULL;
	if (a->len == 0)
		a->buf[a->len++] = '{';
	a->buf[a->len++] = '}';
	a->buf[a->len] = '\0';
	return a->buf;
}

void
pgarray_free(struct pgarray *a)
{
	free(a->buf);
	a->buf = NULL;
	a->len = a->cap = 0;
}
