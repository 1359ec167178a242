/*
 * keycache — one fixed, direct-mapped table; a colliding newcomer evicts
 * the old entry, which costs at most one more slow hash later.  The slot
 * comes from the SHA-256 digest, which a client cannot steer toward
 * someone else's entry without knowing their key.
 */
#include <pthread.h>
#include <string.h>

#include "keycache.h"

#define VERIFIED_SLOTS	1024

struct verified {
	int			used;
	struct keycache_entry	e;
};

static struct verified verified[VERIFIED_SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static struct verified *
verified_slot(const unsigned char *d)
{
	return &verified[((unsigned)d[0] << 8 | d[1]) % VERIFIED_SLOTS];
}

int
keycache_get(const unsigned char digest[KEYCACHE_DIGEST_LEN],
    struct keycache_entry *out)
{
	struct verified *v;
	int hit = 0;

	pthread_mutex_lock(&lock);
	v = verified_slot(digest);
	if (v->used && memcmp(v->e.digest, digest, KEYCACHE_DIGEST_LEN) == 0) {
		*out = v->e;
		hit = 1;
	}
	pthread_mutex_unlock(&lock);
	return hit;
}

void
keycache_put(const struct keycache_entry *e)
{
	struct verified *v;

	pthread_mutex_lock(&lock);
	v = verified_slot(e->digest);
	v->e = *e;
	v->used = 1;
	pthread_mutex_unlock(&lock);
}

void
keycache_drop(const unsigned char digest[KEYCACHE_DIGEST_LEN])
{
	struct verified *v;

	pthread_mutex_lock(&lock);
	v = verified_slot(digest);
	if (v->used && memcmp(v->e.digest, digest, KEYCACHE_DIGEST_LEN) == 0)
		v->used = 0;
	pthread_mutex_unlock(&lock);
}
