/*
 * duration — digits (decimal.c, so no C library quirk widens what is
 * accepted), then one of s m h d w.
 */
#include "decimal.h"
#include "duration.h"

static long long
unit_seconds(char u)
{
	switch (u) {
	case 's':
		return 1;
	case 'm':
		return 60;
	case 'h':
		return 3600;
	case 'd':
		return 86400;
	case 'w':
		return 7 * 86400;
	default:
		return 0;
	}
}

int
duration_parse(const char *s, size_t len, long long *seconds)
{
	long long n, unit;

	if (len < 2 || (unit = unit_seconds(s[len - 1])) == 0 ||
	    decimal_parse(s, len - 1, 1, DURATION_MAX / unit, &n) == -1)
		return -1;
	*seconds = n * unit;
	return 0;
}
