/*
 * rate — digits through decimal.c (so no C library quirk widens what is
 * accepted), one '/', then a unit from a four-row table.
 */
#include <stdio.h>
#include <string.h>

#include "decimal.h"
#include "rate.h"
#include "span.h"

static const struct {
	const char	*name;
	long		 seconds;
} units[] = {
	{ "s", 1 }, { "min", 60 }, { "h", 3600 }, { "d", 86400 },
};

#define NUNITS	(sizeof(units) / sizeof(units[0]))

static long
unit_seconds(const char *u, size_t len)
{
	size_t i;

	for (i = 0; i < NUNITS; i++)
		if (span_is(u, len, units[i].name))
			return units[i].seconds;
	return 0;
}

static const char *
unit_name(long seconds)
{
	size_t i;

	for (i = 0; i < NUNITS; i++)
		if (units[i].seconds == seconds)
			return units[i].name;
	return NULL;
}

int
rate_parse(const char *s, size_t len, struct rate *r)
{
	const char *slash;
	long long n;
	long w;

	if (span_is(s, len, "off")) {
		r->quota = r->window = r->burst = 0;
		return 0;
	}
	if ((slash = memchr(s, '/', len)) == NULL ||
	    (w = unit_seconds(slash + 1, len - (size_t)(slash - s) - 1)) == 0 ||
	    decimal_parse(s, (size_t)(slash - s), 1, RATE_QUOTA_MAX, &n) == -1)
		return -1;
	r->quota = r->burst = (long)n;
	r->window = w;
	return 0;
}

int
rate_format(const struct rate *r, char *buf, size_t cap)
{
	const char *u = unit_name(r->window);
	int n, m = 0;

	if (r->quota == 0)
		n = snprintf(buf, cap, "off");
	else if (u != NULL)
		n = snprintf(buf, cap, "%ld/%s", r->quota, u);
	else
		n = snprintf(buf, cap, "%ld/%lds", r->quota, r->window);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	if (r->quota != 0 && r->burst != r->quota)
		m = snprintf(buf + n, cap - (size_t)n, " burst %ld", r->burst);
	return m < 0 || (size_t)m >= cap - (size_t)n ? -1 : 0;
}
