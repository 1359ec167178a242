/*
 * test_health — the readiness verdict from a fake question: ready, behind,
 * no answer; and the bound that matters to the database, one question per
 * HEALTH_TTL_MS however often the verdict is asked for.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#include "health.h"

struct fake {
	int		 asked;
	long		 version;
	enum otas_status st;
};

static enum otas_status
ask(void *arg, long *version, const char **why)
{
	struct fake *f = arg;

	f->asked++;
	if (f->st != OTAS_OK) {
		*why = "cannot connect to the database";
		return f->st;
	}
	*version = f->version;
	return OTAS_OK;
}

static enum otas_status
check_at(struct health *h, long long ms)
{
	const char *why = NULL;
	enum otas_status st = health_check(h, ms, &why);

	assert_non_null(why);
	return st;
}

static void
ready_when_the_schema_is_at_or_past_the_build(void **state)
{
	struct fake f = { 0, 3, OTAS_OK };
	struct health *h = health_new(ask, &f, 3);

	assert_int_equal(check_at(h, 0), OTAS_READY);
	f.version = 4;
	assert_int_equal(check_at(h, 5000), OTAS_READY);
	health_free(h);
}

static void
schema_behind_or_unrecorded_is_not_current(void **state)
{
	struct fake f = { 0, 2, OTAS_OK };
	struct health *h = health_new(ask, &f, 3);

	assert_int_equal(check_at(h, 0), OTAS_ERR_SCHEMA);
	f.version = 0;
	assert_int_equal(check_at(h, 5000), OTAS_ERR_SCHEMA);
	health_free(h);
}

static void
a_database_that_does_not_answer_is_unavailable(void **state)
{
	struct fake f = { 0, 3, OTAS_ERR_UNAVAILABLE };
	struct health *h = health_new(ask, &f, 3);

	assert_int_equal(check_at(h, 0), OTAS_ERR_UNAVAILABLE);
	f.st = OTAS_ERR_SERVER;		/* e.g. no tracking table */
	assert_int_equal(check_at(h, 5000), OTAS_ERR_UNAVAILABLE);
	health_free(h);
}

static void
asks_once_per_ttl_however_often_polled(void **state)
{
	struct fake f = { 0, 3, OTAS_OK };
	struct health *h = health_new(ask, &f, 3);
	long long ms;

	/* Every millisecond for ten seconds: one question per second. */
	for (ms = 0; ms < 10 * HEALTH_TTL_MS; ms++)
		assert_int_equal(check_at(h, ms), OTAS_READY);
	assert_int_equal(f.asked, 10);
	health_free(h);
}

static void
the_remembered_answer_is_the_last_one_asked(void **state)
{
	struct fake f = { 0, 3, OTAS_OK };
	struct health *h = health_new(ask, &f, 3);

	assert_int_equal(check_at(h, 0), OTAS_READY);
	f.st = OTAS_ERR_UNAVAILABLE;
	assert_int_equal(check_at(h, HEALTH_TTL_MS - 1), OTAS_READY);
	assert_int_equal(check_at(h, HEALTH_TTL_MS), OTAS_ERR_UNAVAILABLE);
	f.st = OTAS_OK;
	assert_int_equal(check_at(h, HEALTH_TTL_MS + 1), OTAS_ERR_UNAVAILABLE);
	assert_int_equal(check_at(h, 2 * HEALTH_TTL_MS), OTAS_READY);
	assert_int_equal(f.asked, 3);
	health_free(h);
}

static void
a_clock_that_goes_back_asks_again(void **state)
{
	struct fake f = { 0, 3, OTAS_OK };
	struct health *h = health_new(ask, &f, 3);

	check_at(h, 10000);
	check_at(h, 5000);
	assert_int_equal(f.asked, 2);
	health_free(h);
}

struct poller {
	struct health	*h;
	int		 ready;
};

static void *
poll_many(void *arg)
{
	struct poller *p = arg;
	const char *why;
	int i;

	for (i = 0; i < 10000; i++)
		p->ready += health_check(p->h, 42, &why) == OTAS_READY;
	return NULL;
}

static void
threads_polling_at_once_share_one_question(void **state)
{
	struct fake f = { 0, 3, OTAS_OK };
	struct health *h = health_new(ask, &f, 3);
	struct poller p[4];
	pthread_t t[4];
	int i;

	for (i = 0; i < 4; i++) {
		p[i].h = h;
		p[i].ready = 0;
	}
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, poll_many, &p[i]),
		    0);
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(p[i].ready, 10000);
	}
	assert_int_equal(f.asked, 1);
	health_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ready_when_the_schema_is_at_or_past_the_build),
		cmocka_unit_test(schema_behind_or_unrecorded_is_not_current),
		cmocka_unit_test(a_database_that_does_not_answer_is_unavailable),
		cmocka_unit_test(asks_once_per_ttl_however_often_polled),
		cmocka_unit_test(the_remembered_answer_is_the_last_one_asked),
		cmocka_unit_test(a_clock_that_goes_back_asks_again),
		cmocka_unit_test(threads_polling_at_once_share_one_question),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
