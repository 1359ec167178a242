/*
 * hashbudget — one token bucket per host (in the pool's file, under its
 * lock) or, without the file, per process (under a mutex), with the
 * addresses that have hashes queued in it.  The clock is CLOCK_MONOTONIC,
 * the same for every process of the host, so a change of the wall clock
 * neither refills nor drains it.  hashbudget_take and hashbudget_take_fair
 * are kept free of clocks and locks so that the bound and the fairness
 * they promise can be tested with made-up times.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "hashbudget.h"
#include "metrics.h"

static struct hashbudget_pool own;	/* without the pool's file */
static pthread_mutex_t own_lock = PTHREAD_MUTEX_INITIALIZER;

/* The bucket's arithmetic, without a limit of its own. */
static double
debt(struct hashbudget_bucket *b, double rate, double now)
{
	if (!b->started || !isfinite(b->tokens) || !isfinite(b->last)) {
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
	return b->tokens >= 0 ? 0 : -b->tokens / rate;
}

double
hashbudget_take(struct hashbudget_bucket *b, double rate, double iterations,
    double now)
{
	double wait = debt(b, rate, now);

	if (wait > HASHBUDGET_MAX_WAIT)
		return -1;
	b->tokens -= iterations;
	return wait;
}

size_t
hashbudget_addr_key(const char *remote, unsigned char key[HASHBUDGET_ADDR_MAX])
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	unsigned char a[16];

	if (remote == NULL)
		return 0;
	if (inet_pton(AF_INET, remote, a) == 1) {
		memcpy(key, a, 4);
		return 4;
	}
	if (inet_pton(AF_INET6, remote, a) != 1)
		return 0;
	if (memcmp(a, mapped, sizeof(mapped)) == 0) {
		memcpy(key, a + 12, 4);
		return 4;
	}
	memcpy(key, a, 8);		/* one /64: one subscriber */
	return 8;
}

/*
 * The address's entry: its own, else a free or finished one (the one
 * that finished first), taken over.  Never NULL.
 */
static struct hashbudget_addr *
addr_entry(struct hashbudget_pool *p, const unsigned char *key, size_t len,
    double now)
{
	struct hashbudget_addr *a, *spare = &p->addr[0];
	size_t i;

	for (i = 0; i < HASHBUDGET_ADDRS; i++) {
		a = &p->addr[i];
		if (!isfinite(a->until) || a->len > HASHBUDGET_ADDR_MAX)
			a->used = 0;	/* a damaged entry is a free one */
		if (a->used && a->len == len && memcmp(a->key, key, len) == 0)
			return a;
		if (!a->used || (spare->used && a->until < spare->until))
			spare = a;
	}
	if (spare->used && spare->until > now) {
		/* All taken and busy: share the one that ends first. */
		return spare;
	}
	memset(spare, 0, sizeof(*spare));
	memcpy(spare->key, key, len);
	spare->len = (unsigned char)len;
	spare->used = 1;
	spare->until = now;
	return spare;
}

double
hashbudget_take_fair(struct hashbudget_pool *p, const unsigned char *key,
    size_t len, double rate, double iterations, double now)
{
	struct hashbudget_addr *a;
	double wait, end;

	if (len > HASHBUDGET_ADDR_MAX)
		len = HASHBUDGET_ADDR_MAX;
	wait = debt(&p->bucket, rate, now);
	a = addr_entry(p, key, len, now);
	if (wait > HASHBUDGET_MAX_WAIT ||
	    (wait > HASHBUDGET_SHARED_WAIT && a->until > now))
		return -1;
	p->bucket.tokens -= iterations;
	end = now + wait + iterations / rate;
	if (end > a->until)
		a->until = end;
	return wait;
}

/* The turn from the host's pool when there is one, else the process's. */
static double
take(long iterations, long rate, const unsigned char *key, size_t len)
{
	struct hashbudget_pool *p;
	double wait;

	if ((p = metrics_pool_lock()) != NULL) {
		wait = hashbudget_take_fair(p, key, len, (double)rate,
		    (double)iterations, clock_mono_seconds());
		metrics_pool_unlock();
		return wait;
	}
	pthread_mutex_lock(&own_lock);
	wait = hashbudget_take_fair(&own, key, len, (double)rate,
	    (double)iterations, clock_mono_seconds());
	pthread_mutex_unlock(&own_lock);
	return wait;
}

int
hashbudget_wait(long iterations, long rate, const char *remote)
{
	unsigned char key[HASHBUDGET_ADDR_MAX];
	struct timespec ts;
	size_t len = hashbudget_addr_key(remote, key);
	double wait = take(iterations, rate, key, len);

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
