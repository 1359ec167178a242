/*
 * clock — the one place the programs read the time.  Two clocks, two
 * uses: the monotonic one for how long something took or how long until a
 * deadline (a change of the wall clock neither stretches nor shrinks
 * those), and the wall clock for what is shown to others or compared with
 * their times (token iat/exp, log timestamps, UUIDv7, metrics' start).
 * CLOCK_MONOTONIC is the same for every process of a host, so values in
 * shared files (the hash budget) compare across processes.
 */
#ifndef OTAS_CLOCK_H
#define OTAS_CLOCK_H

#include <time.h>

/* The monotonic clock in microseconds, milliseconds, whole seconds. */
long long	clock_mono_usec(void);
long long	clock_mono_msec(void);
long long	clock_mono_sec(void);
/* The monotonic clock in seconds with their fraction (arithmetic in s). */
double		clock_mono_seconds(void);

/* Seconds since the epoch (time(NULL)). */
long long	clock_wall_sec(void);
/* The wall clock whole; 0, or -1 when it reads before the epoch. */
int		clock_wall(struct timespec *ts);

#endif
