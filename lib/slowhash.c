/*
 * slowhash — a fixed, direct-mapped table; a colliding newcomer evicts the
 * old prefix's count.  Slots come from a keyed hash of the prefix with a
 * per-process random seed, so a client cannot aim collisions at someone
 * else's slot to reset its budget.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "key.h"
#include "slowhash.h"

#define FAILURE_SLOTS	512
#define FAILURE_WINDOW	60	/* seconds */

struct failures {
	char	prefix[KEY_PREFIX_MAX + 1];
	time_t	window_start;
	long	count;
};

static struct failures failures[FAILURE_SLOTS];
static unsigned long long seed;
static int seeded;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* FNV-1a over the prefix, started from a random per-process seed. */
static struct failures *
failure_slot(const char *prefix)
{
	unsigned long long h;

	if (!seeded) {
		if (RAND_bytes((unsigned char *)&seed, sizeof(seed)) != 1)
			seed = 0;
		seeded = 1;
	}
	h = 1469598103934665603ULL ^ seed;
	for (; *prefix != '\0'; prefix++)
		h = (h ^ (unsigned char)*prefix) * 1099511628211ULL;
	return &failures[h % FAILURE_SLOTS];
}

int
slowhash_allowed(const char *prefix, long limit, time_t now)
{
	struct failures *f;
	int allowed = 1;

	if (limit == 0)
		return 1;
	pthread_mutex_lock(&lock);
	f = failure_slot(prefix);
	if (strcmp(f->prefix, prefix) == 0 &&
	    now - f->window_start < FAILURE_WINDOW && f->count >= limit)
		allowed = 0;
	pthread_mutex_unlock(&lock);
	return allowed;
}

void
slowhash_failed(const char *prefix, time_t now)
{
	struct failures *f;

	pthread_mutex_lock(&lock);
	f = failure_slot(prefix);
	if (strcmp(f->prefix, prefix) != 0 ||
	    now - f->window_start >= FAILURE_WINDOW) {
		snprintf(f->prefix, sizeof(f->prefix), "%s", prefix);
		f->window_start = now;
		f->count = 0;
	}
	f->count++;
	pthread_mutex_unlock(&lock);
}
