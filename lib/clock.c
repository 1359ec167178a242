/*
 * clock — clock_gettime(2) read in one place.  On Linux both clocks are
 * always there, so the only failure left is a wall clock set before
 * 1970, which clock_wall reports (a UUIDv7 or a timestamp cannot hold
 * it) and clock_wall_sec passes on as the negative number it is.
 */
#include "clock.h"

static struct timespec
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

long long
clock_mono_usec(void)
{
	struct timespec ts = mono();

	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long long
clock_mono_msec(void)
{
	struct timespec ts = mono();

	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long
clock_mono_sec(void)
{
	return (long long)mono().tv_sec;
}

double
clock_mono_seconds(void)
{
	struct timespec ts = mono();

	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long long
clock_wall_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec;
}

int
clock_wall(struct timespec *ts)
{
	if (clock_gettime(CLOCK_REALTIME, ts) == -1 || ts->tv_sec < 0)
		return -1;
	return 0;
}
