/*
 * test_clock — the units agree with each other and with the system's own
 * reading, and the monotonic clock never goes back.  Only orderings are
 * asserted, never how long anything took.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include "clock.h"

static void
monotonic_units_agree(void **state)
{
	long long us = clock_mono_usec();
	long long ms = clock_mono_msec();
	long long s = clock_mono_sec();
	double sf = clock_mono_seconds();
	long long us2 = clock_mono_usec();

	assert_true(us <= us2);
	/* Each reading lies between the two in microseconds, in its unit. */
	assert_true(us / 1000 <= ms && ms <= us2 / 1000);
	assert_true(us / 1000000 <= s && s <= us2 / 1000000);
	assert_true((double)us / 1e6 - 1e-6 <= sf);
	assert_true(sf <= (double)us2 / 1e6 + 1e-6);
}

static void
monotonic_never_goes_back(void **state)
{
	long long prev = clock_mono_usec();
	int i;

	for (i = 0; i < 10000; i++) {
		long long now = clock_mono_usec();

		assert_true(now >= prev);
		prev = now;
	}
}

static void
wall_is_the_epoch_time(void **state)
{
	time_t before = time(NULL);
	long long sec = clock_wall_sec();
	struct timespec ts;
	time_t after;

	assert_int_equal(clock_wall(&ts), 0);
	after = time(NULL);
	/* time(2) may read a coarse clock, up to a tick behind: 1 s slack. */
	assert_true((long long)before - 1 <= sec);
	assert_true(sec <= (long long)after + 1);
	assert_true(sec <= (long long)ts.tv_sec);
	assert_true((long long)ts.tv_sec <= (long long)after + 1);
	assert_true(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(monotonic_units_agree),
		cmocka_unit_test(monotonic_never_goes_back),
		cmocka_unit_test(wall_is_the_epoch_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
