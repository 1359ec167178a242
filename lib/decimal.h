/*
 * decimal — the one reader of whole numbers from text we did not write:
 * settings, CGI parameters, claims, stored hashes, command-line options,
 * PostgreSQL's answers as text, /proc fields.
 * ASCII digits only, with a '-' allowed only where the range admits
 * negatives; no blank, no '+', no locale, no trailing byte, and overflow
 * is simply out of range.  Callers that want one canonical spelling (no
 * leading zero) say so before calling: that is their format, not parsing.
 */
#ifndef OTAS_DECIMAL_H
#define OTAS_DECIMAL_H

#include <stddef.h>

/*
 * Parses s[0..len) (no NUL needed).  Returns 0 with *out in [min, max], or
 * -1 (and *out untouched) when s is not such a number.
 */
int	decimal_parse(const char *s, size_t len, long long min,
	    long long max, long long *out);

/* decimal_parse of the NUL-terminated s (NULL: -1) into a long. */
int	decimal_long(const char *s, long min, long max, long *out);

/* decimal_parse of the NUL-terminated s (NULL: -1): 64-bit values. */
int	decimal_llong(const char *s, long long min, long long max,
	    long long *out);

#endif
