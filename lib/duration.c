/*
 * duration — digits, then one of s m h d w.  Digits are accumulated with
 * an overflow check against DURATION_MAX, so no strtol quirk (leading
 * blanks, a '+', locale) can widen what is accepted.
 */
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
	long long n = 0, unit;
	size_t i;

	if (len < 2 || (unit = unit_seconds(s[len - 1])) == 0)
		return -1;
	for (i = 0; i + 1 < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (s[i] - '0');
		if (n > DURATION_MAX)
			return -1;
	}
	if (n == 0 || n > DURATION_MAX / unit)
		return -1;
	*seconds = n * unit;
	return 0;
}
