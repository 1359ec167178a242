/*
 * keycache — two fixed, direct-mapped tables; a colliding newcomer evicts
 * the old entry, which costs at most one more hash later.  Slots are chosen
 * from the SHA-256 digest (verified keys) or a keyed hash of the prefix
 * with a per-process random seed (failures), so a client cannot aim
 * collisions at someone else's slot.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "keycache.h"

#define VERIFIED_SLOTS	1024
#define FAILURE_SLOTS	512
#define FAILURE_WINDOW	60	/* seconds */

struct verified {
	int			used;
	struct keycache_entry	e;
};

struct failures {
	char	prefix[KEY_PREFIX_MAX + 1];
	time_t	window_start;
	long	count;
};

static struct verified verified[VERIFIED_SLOTS];
static struct failures failures[FAILURE_SLOTS];
static unsigned long long seed;
static int seeded;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static EVP_MD *sha256;			/* fetched once: see digest_setup */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

/* OpenSSL 3 looks EVP_sha256() up in its provider on every use; once is enough. */
static void
digest_setup(void)
{
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int
keycache_digest(const char *key, size_t len,
    unsigned char out[KEYCACHE_DIGEST_LEN])
{
	unsigned int n = 0;

	pthread_once(&sha256_once, digest_setup);
	if (sha256 == NULL ||
	    EVP_Digest(key, len, out, &n, sha256, NULL) != 1 ||
	    n != KEYCACHE_DIGEST_LEN)
		return -1;
	return 0;
}

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
keycache_slow_allowed(const char *prefix, long limit, time_t now)
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
keycache_slow_failed(const char *prefix, time_t now)
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
