/*
 * decimal — digits accumulated by hand, toward the sign, with the overflow
 * check before each step: strtoll needs a NUL, skips blanks, takes '+' and
 * sets errno, four things every caller had to undo.
 */
#include <limits.h>
#include <string.h>

#include "decimal.h"

int
decimal_parse(const char *s, size_t len, long long min, long long max,
    long long *out)
{
	long long v = 0;
	size_t i = 0;
	int neg;

	if (s == NULL || len == 0)
		return -1;
	neg = s[0] == '-';
	if (neg && (min >= 0 || len == 1))
		return -1;
	for (i = neg; i < len; i++) {
		int d = s[i] - '0';

		if (s[i] < '0' || s[i] > '9')
			return -1;
		/* v accumulates toward the sign, so LLONG_MIN fits too. */
		if (neg ? v < (LLONG_MIN + d) / 10 : v > (LLONG_MAX - d) / 10)
			return -1;
		v = neg ? v * 10 - d : v * 10 + d;
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
decimal_llong(const char *s, long long min, long long max, long long *out)
{
	if (s == NULL)
		return -1;
	return decimal_parse(s, strlen(s), min, max, out);
}

int
decimal_long(const char *s, long min, long max, long *out)
{
	long long v;

	if (decimal_llong(s, min, max, &v) == -1)
		return -1;
	*out = (long)v;
	return 0;
}
