/*
 * test_hashbudget — the slow-hash budget of a host: hashes wait their turn,
 * none is queued more than HASHBUDGET_MAX_WAIT ahead, and however many are
 * asked for, the iterations started over any stretch of time stay within
 * rate * (T + 1) plus the one in hand; one address flooding the budget
 * leaves room for another; addresses are keyed by IPv4 address or IPv6
 * /64.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "hashbudget.h"

#define RATE	1000000.0
#define LEGACY	260000.0	/* the original backend's iterations */

static void
an_idle_process_hashes_without_waiting(void **state)
{
	struct hashbudget_bucket b = { 0 };

	assert_true(hashbudget_take(&b, RATE, LEGACY, 100.0) == 0);
	/* A second later the bucket is full again. */
	assert_true(hashbudget_take(&b, RATE, LEGACY, 101.0) == 0);
}

static void
a_burst_waits_in_turn(void **state)
{
	struct hashbudget_bucket b = { 0 };
	double wait, prev = 0;
	int i;

	/* 8 guesses at the same instant: one second of budget, then debt. */
	for (i = 0; i < 8; i++) {
		wait = hashbudget_take(&b, RATE, LEGACY, 5.0);
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
	struct hashbudget_bucket b = { 0 };
	double wait;
	int i, queued = 0;

	for (i = 0; i < 100; i++) {
		wait = hashbudget_take(&b, RATE, LEGACY, 5.0);
		if (wait < 0)
			continue;
		assert_true(wait <= HASHBUDGET_MAX_WAIT);
		queued++;
	}
	/* One second in hand plus at most HASHBUDGET_MAX_WAIT of debt. */
	assert_true(queued <= (int)((1 + HASHBUDGET_MAX_WAIT) * RATE / LEGACY) + 1);
	/* Later, when the debt is paid, hashes are queued again. */
	assert_true(hashbudget_take(&b, RATE, LEGACY, 5.0 + 10) == 0);
}

/* Hashes that start (now + wait) within [t0, t0 + span]: their iterations. */
/*
 * Hashes of LEGACY iterations started at start[0..n): more than ten, and
 * no 10-second window from 0 on (in half-second steps) holds more than
 * the rate allows, plus one hash.
 */
static void
assert_no_window_over_the_rate(const double start[], int n)
{
	double	 span = 10, t0, sum;
	int	 j;

	assert_true(n > 10);
	for (t0 = 0; t0 < start[n - 1]; t0 += 0.5) {
		for (sum = 0, j = 0; j < n; j++)
			if (start[j] >= t0 && start[j] <= t0 + span)
				sum += LEGACY;
		assert_true(sum <= RATE * (span + 1) + LEGACY);
	}
}

static void
iterations_started_stay_within_the_bound(void **state)
{
	struct hashbudget_bucket b = { 0 };
	double start[20000], now = 0, wait;
	int i, n = 0;

	for (i = 0; i < 20000; i++) {
		now += 0.001;		/* a request every millisecond */
		if ((wait = hashbudget_take(&b, RATE, LEGACY, now)) >= 0)
			start[n++] = now + wait;
	}
	assert_no_window_over_the_rate(start, n);
}

static void
a_clock_going_back_adds_nothing(void **state)
{
	struct hashbudget_bucket b = { 0 };

	assert_true(hashbudget_take(&b, RATE, RATE, 50.0) == 0);
	assert_true(hashbudget_take(&b, RATE, RATE, 50.0) == 0);
	/* In debt by one second; an earlier time refills nothing. */
	assert_true(hashbudget_take(&b, RATE, 1, 10.0) > 0.999);
}

static const unsigned char A[4] = { 127, 0, 0, 1 }, B[4] = { 127, 0, 0, 2 };

static void
one_address_flooding_leaves_room_for_another(void **state)
{
	static struct hashbudget_pool p;
	double wait;
	int i, queued = 0;

	memset(&p, 0, sizeof(p));
	for (i = 0; i < 100; i++)
		if (hashbudget_take_fair(&p, A, 4, RATE, LEGACY, 5.0) >= 0)
			queued++;
	/* A filled the bucket and the shared part of the queue, no more. */
	assert_true(queued >= 4);
	assert_true(queued <= (int)((1 + HASHBUDGET_SHARED_WAIT) * RATE /
	    LEGACY) + 1);
	wait = hashbudget_take_fair(&p, B, 4, RATE, LEGACY, 5.0);
	assert_true(wait > 0);
	assert_true(wait <= HASHBUDGET_SHARED_WAIT + LEGACY / RATE + 1e-9);
	/* B's next one, still queued behind its first, is refused too. */
	assert_true(hashbudget_take_fair(&p, B, 4, RATE, LEGACY, 5.0) < 0);
}

static void
an_address_alone_may_fill_the_whole_queue_one_at_a_time(void **state)
{
	static struct hashbudget_pool p;
	double now = 1.0;
	int i, refused = 0;

	/* One hash at a time, each ending before the next asks. */
	memset(&p, 0, sizeof(p));
	for (i = 0; i < 50; i++) {
		double wait = hashbudget_take_fair(&p, A, 4, RATE, LEGACY, now);

		if (wait < 0)
			refused++;
		else
			now += wait + LEGACY / RATE;
	}
	assert_int_equal(refused, 0);
}

/* Many addresses at once: the host's bound holds all the same. */
static void
iterations_started_by_all_addresses_stay_within_the_bound(void **state)
{
	static struct hashbudget_pool p;
	static double start[20000];
	double now = 0, wait;
	unsigned char who[4] = { 10, 0, 0, 0 };
	int i, n = 0;

	memset(&p, 0, sizeof(p));
	for (i = 0; i < 20000; i++) {
		now += 0.001;
		who[3] = (unsigned char)i;
		who[2] = (unsigned char)(i >> 8);
		if ((wait = hashbudget_take_fair(&p, who, 4, RATE, LEGACY, now))
		    >= 0)
			start[n++] = now + wait;
	}
	assert_no_window_over_the_rate(start, n);
}

static void
a_damaged_bucket_starts_afresh(void **state)
{
	static struct hashbudget_pool p;

	memset(&p, 0, sizeof(p));
	p.bucket.started = 1;
	p.bucket.tokens = NAN;
	p.bucket.last = 3.0;
	p.addr[0].used = 1;
	p.addr[0].len = 200;
	p.addr[0].until = INFINITY;
	assert_true(hashbudget_take_fair(&p, A, 4, RATE, LEGACY, 5.0) == 0);
	assert_true(isfinite(p.bucket.tokens));
}

static void
addresses_are_keyed_by_ipv4_or_ipv6_slash_64(void **state)
{
	unsigned char k1[HASHBUDGET_ADDR_MAX], k2[HASHBUDGET_ADDR_MAX];

	assert_int_equal(hashbudget_addr_key("127.0.0.2", k1), 4);
	assert_memory_equal(k1, B, 4);
	assert_int_equal(hashbudget_addr_key("::ffff:127.0.0.2", k2), 4);
	assert_memory_equal(k2, B, 4);
	assert_int_equal(hashbudget_addr_key("2001:db8:1:2::1", k1), 8);
	assert_int_equal(hashbudget_addr_key("2001:db8:1:2:ffff::9", k2), 8);
	assert_memory_equal(k1, k2, 8);
	assert_int_equal(hashbudget_addr_key("2001:db8:1:3::1", k2), 8);
	assert_memory_not_equal(k1, k2, 8);
	assert_int_equal(hashbudget_addr_key(NULL, k1), 0);
	assert_int_equal(hashbudget_addr_key("unix:", k1), 0);
	assert_int_equal(hashbudget_addr_key("127.0.0.1 ", k1), 0);
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
		cmocka_unit_test(one_address_flooding_leaves_room_for_another),
		cmocka_unit_test(
		    an_address_alone_may_fill_the_whole_queue_one_at_a_time),
		cmocka_unit_test(
		    iterations_started_by_all_addresses_stay_within_the_bound),
		cmocka_unit_test(a_damaged_bucket_starts_afresh),
		cmocka_unit_test(addresses_are_keyed_by_ipv4_or_ipv6_slash_64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
