/*
 * duration — the one spelling of a span of time in settings and options
 * (OTAS_SESSION_RETENTION, otas-admin session purge --older-than): a whole
 * number with one unit letter, "90d", "12h", "30m", "45s", "2w".  One
 * unit, no sign, no blanks, no fractions: what an operator writes is what
 * is read, and a typo is refused instead of being guessed at.
 */
#ifndef OTAS_DURATION_H
#define OTAS_DURATION_H

#include <stddef.h>

#define DURATION_MAX (100LL * 365 * 86400)	/* a hundred years */

/*
 * Parses s[0..len) (no NUL needed).  Returns 0 with *seconds in
 * [1, DURATION_MAX], or -1 when s is not such a duration.
 */
int	duration_parse(const char *s, size_t len, long long *seconds);

#endif
