/*
 * slowhash — one token bucket per process under a mutex.  The clock is
 * CLOCK_MONOTONIC, so a change of the wall clock neither refills nor
 * drains it.  slowhash_take is kept free of clocks and locks so that the
 * bound it promises can be tested with made-up times.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "slowhash.h"

static struct slowhash_bucket bucket;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

double
slowhash_take(struct slowhash_bucket *b, double rate, double iterations,
    double now)
{
	double wait;

	if (!b->started) {
		b->tokens = rate;
		b->last = now;
		b->started = 1;
	}
	if (now > b->last) {
		b->tokens += rate * (now - b->last);
		b->last = now;
	}
	if (b->tokens > rate)		/* hold at most one second of budget */
		b->tokens = rate;
	wait = b->tokens >= 0 ? 0 : -b->tokens / rate;
	if (wait > SLOWHASH_MAX_WAIT)
		return -1;
	b->tokens -= iterations;
	return wait;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
slowhash_wait(long iterations, long rate)
{
	struct timespec ts;
	double wait;

	pthread_mutex_lock(&lock);
	wait = slowhash_take(&bucket, (double)rate, (double)iterations,
	    now_seconds());
	pthread_mutex_unlock(&lock);
	if (wait < 0)
		return -1;
	if (wait == 0)
		return 0;
	ts.tv_sec = (time_t)wait;
	ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	return 0;
}
