/*
 * pgarray — the one writer of PostgreSQL array literals ("{\"a\",\"b\"}"),
 * the text form of a text[] parameter.  Statements that take many values
 * at once (every candidate prefix of a key, every session of a group
 * commit) bind one array per column, so the SQL stays a fixed string and
 * every value still travels as a parameter, never as SQL.
 *
 * Each element is double-quoted with '"' and '\' escaped, which is the
 * whole quoting rule of the array input syntax, so any byte string but NUL
 * round-trips.  The caller adds the elements of one column explicitly.
 */
#ifndef OTAS_PGARRAY_H
#define OTAS_PGARRAY_H

#include <stddef.h>

struct pgarray {
	char	*buf;		/* malloc'd; NULL until the first element */
	size_t	 len, cap;
};

#define PGARRAY_INIT { NULL, 0, 0 }

/* Appends s[0..len) as one element; 0, or -1 when out of memory. */
int		 pgarray_add(struct pgarray *a, const char *s, size_t len);

/*
 * Closes the literal and returns it (NUL-terminated, owned by a; "{}" when
 * nothing was added), or NULL when out of memory.  Add nothing after.
 */
const char	*pgarray_end(struct pgarray *a);

void		 pgarray_free(struct pgarray *a);

#endif
