/*
 * test_slowhash — the slow-hash budget of a process: hashes wait their turn,
 * none is queued more than SLOWHASH_MAX_WAIT ahead, and however many are
 * asked for, the iterations started over any stretch of time stay within
 * rate * (T + 1) plus the one in hand.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "slowhash.h"

#define RATE	1000000.0
#define LEGACY	260000.0	/* the original backend's iterations */

static void
an_idle_process_hashes_without_waiting(void **state)
{
	struct slowhash_bucket b = { 0 };

	assert_true(slowhash_take(&b, RATE, LEGACY, 100.0) == 0);
	/* A second later the bucket is full again. */
	assert_true(slowhash_take(&b, RATE, LEGACY, 101.0) == 0);
}

static void
a_burst_waits_in_turn(void **state)
{
	struct slowhash_bucket b = { 0 };
	double wait, prev = 0;
	int i;

	/* 8 guesses at the same instant: one second of budget, then debt. */
	for (i = 0; i < 8; i++) {
		wait = slowhash_take(&b, RATE, LEGACY, 5.0);
		assert_true(wait >= prev);
		prev = wait;
	}
	/* The 8th starts only when 7 hashes less one second were paid. */
	assert_true(prev > (7 * LEGACY - RATE) / RATE - 1e-9);
	assert_true(prev < (7 * LEGACY - RATE) / RATE + 1e-9);
}

static void
a_turn_too_far_away_is_not_queued(void **state)
{
	struct slowhash_bucket b = { 0 };
	double wait;
	int i, queued = 0;

	for (i = 0; i < 100; i++) {
		wait = slowhash_take(&b, RATE, LEGACY, 5.0);
		if (wait < 0)
			continue;
		assert_true(wait <= SLOWHASH_MAX_WAIT);
		queued++;
	}
	/* One second in hand plus at most SLOWHASH_MAX_WAIT of debt. */
	assert_true(queued <= (int)((1 + SLOWHASH_MAX_WAIT) * RATE / LEGACY) + 1);
	/* Later, when the debt is paid, hashes are queued again. */
	assert_true(slowhash_take(&b, RATE, LEGACY, 5.0 + 10) == 0);
}

/* Hashes that start (now + wait) within [t0, t0 + span]: their iterations. */
static void
iterations_started_stay_within_the_bound(void **state)
{
	struct slowhash_bucket b = { 0 };
	double start[20000], now = 0, span = 10, t0, sum, wait;
	int i, j, n = 0;

	for (i = 0; i < 20000; i++) {
		now += 0.001;		/* a request every millisecond */
		if ((wait = slowhash_take(&b, RATE, LEGACY, now)) >= 0)
			start[n++] = now + wait;
	}
	assert_true(n > 10);
	for (t0 = 0; t0 < start[n - 1]; t0 += 0.5) {
		for (sum = 0, j = 0; j < n; j++)
			if (start[j] >= t0 && start[j] <= t0 + span)
				sum += LEGACY;
		assert_true(sum <= RATE * (span + 1) + LEGACY);
	}
}

static void
a_clock_going_back_adds_nothing(void **state)
{
	struct slowhash_bucket b = { 0 };

	assert_true(slowhash_take(&b, RATE, RATE, 50.0) == 0);
	assert_true(slowhash_take(&b, RATE, RATE, 50.0) == 0);
	/* In debt by one second; an earlier time refills nothing. */
	assert_true(slowhash_take(&b, RATE, 1, 10.0) > 0.999);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(an_idle_process_hashes_without_waiting),
		cmocka_unit_test(a_burst_waits_in_turn),
		cmocka_unit_test(a_turn_too_far_away_is_not_queued),
		cmocka_unit_test(iterations_started_stay_within_the_bound),
		cmocka_unit_test(a_clock_going_back_adds_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
