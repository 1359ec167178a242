/*
 * uuid — UUIDv7 session ids (RFC 9562 §5.7) and the validator for uuid text
 * that comes from outside.
 *
 * Layout: 48 bits of unix milliseconds, version 7, then a 42-bit counter
 * (the 12 bits of rand_a and the top 30 bits of rand_b), then 32 random
 * bits.  This is §6.2 method 1 ("fixed-length dedicated counter"): the
 * counter is seeded at random at each new millisecond with its top bit
 * clear, so there is room to count up, and incremented by one inside a
 * millisecond.  Ids therefore sort in the order they were made, which keeps
 * the primary-key B-tree appending at its right edge.
 *
 * If the clock steps back, the last millisecond is reused, and a counter
 * overflow borrows the next millisecond (both as §6.2 allows): a later call
 * never returns a smaller id.  The state sits behind one mutex because a
 * threaded caller may make ids concurrently; it is keyed by pid so a forked
 * child reseeds instead of repeating its parent's counter.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "clock.h"
#include "hex.h"
#include "uuid.h"

#define COUNTER_BITS	42
#define COUNTER_MAX	((UINT64_C(1) << COUNTER_BITS) - 1)
#define TS_MAX		((UINT64_C(1) << 48) - 1)

static pthread_mutex_t	 uuid_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t		 uuid_last_ms;	/* 0: nothing made yet */
static uint64_t		 uuid_counter;
static pthread_once_t	 uuid_once = PTHREAD_ONCE_INIT;
/* Random bytes drawn in bulk: RAND_bytes per id cost more than the rest. */
static unsigned char	 uuid_pool[512];
static size_t		 uuid_pool_left;

static int
uuid_now_ms(uint64_t *ms)
{
	struct timespec	 ts;

	if (clock_wall(&ts) == -1)
		return -1;
	*ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	return 0;
}

static uint64_t
uuid_be_bits(const unsigned char *p, size_t n)
{
	uint64_t	 v = 0;
	size_t		 i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/*
 * Picks the (ms, counter) pair of the next id under the lock.  rnd holds 6
 * random bytes for a fresh counter seed.  Returns -1 only when the 48-bit
 * timestamp would overflow (year 10889), never in practice.
 */
static int
uuid_next(uint64_t now, const unsigned char rnd[6], uint64_t *ms,
    uint64_t *counter)
{
	if (now > uuid_last_ms) {
		uuid_last_ms = now;
		/* Top counter bit clear: at least 2^41 increments of room. */
		uuid_counter = uuid_be_bits(rnd, 6) & (COUNTER_MAX >> 1);
	} else if (uuid_counter < COUNTER_MAX) {
		uuid_counter++;
	} else {
		uuid_last_ms++;
		uuid_counter = uuid_be_bits(rnd, 6) & (COUNTER_MAX >> 1);
	}
	if (uuid_last_ms > TS_MAX)
		return -1;
	*ms = uuid_last_ms;
	*counter = uuid_counter;
	return 0;
}

/* A forked child starts afresh: it must not reuse its parent's bytes. */
static void
uuid_forget(void)
{
	uuid_last_ms = 0;
	uuid_pool_left = 0;
}

static void
uuid_setup(void)
{
	pthread_atfork(NULL, NULL, uuid_forget);
}

/* n bytes from the pool, refilled when short; uuid_lock is held. */
static int
uuid_random(unsigned char *out, size_t n)
{
	if (uuid_pool_left < n) {
		if (RAND_bytes(uuid_pool, sizeof(uuid_pool)) != 1)
			return -1;
		uuid_pool_left = sizeof(uuid_pool);
	}
	uuid_pool_left -= n;
	memcpy(out, uuid_pool + uuid_pool_left, n);
	OPENSSL_cleanse(uuid_pool + uuid_pool_left, n);
	return 0;
}

/* 8-4-4-4-12 digits; each group's NUL is overwritten by the next dash. */
static void
uuid_format(const unsigned char b[16], char out[UUID_STR_LEN + 1])
{
	static const size_t group[] = { 4, 2, 2, 2, 6 };	/* bytes */
	size_t		 g, i = 0, o = 0;

	for (g = 0; g < sizeof(group) / sizeof(group[0]); g++) {
		if (g > 0)
			out[o++] = '-';
		hex_encode(b + i, group[g], out + o);
		i += group[g];
		o += 2 * group[g];
	}
}

int
uuid7_make(char out[UUID_STR_LEN + 1])
{
	unsigned char	 rnd[10], b[16];
	uint64_t	 now, ms, counter;
	int		 rc;

	out[0] = '\0';
	pthread_once(&uuid_once, uuid_setup);
	if (uuid_now_ms(&now) == -1)
		return -1;
	if (pthread_mutex_lock(&uuid_lock) != 0)
		return -1;
	/* 6 bytes for a counter seed, 4 for the random tail. */
	rc = uuid_random(rnd, sizeof(rnd));
	if (rc == 0)
		rc = uuid_next(now, rnd, &ms, &counter);
	pthread_mutex_unlock(&uuid_lock);
	if (rc == -1)
		return -1;

	b[0] = (unsigned char)(ms >> 40);
	b[1] = (unsigned char)(ms >> 32);
	b[2] = (unsigned char)(ms >> 24);
	b[3] = (unsigned char)(ms >> 16);
	b[4] = (unsigned char)(ms >> 8);
	b[5] = (unsigned char)ms;
	/* ver 0111, then the counter's top 12 bits as rand_a. */
	b[6] = (unsigned char)(0x70 | ((counter >> 38) & 0x0f));
	b[7] = (unsigned char)(counter >> 30);
	/* var 10, then the counter's low 30 bits heading rand_b. */
	b[8] = (unsigned char)(0x80 | ((counter >> 24) & 0x3f));
	b[9] = (unsigned char)(counter >> 16);
	b[10] = (unsigned char)(counter >> 8);
	b[11] = (unsigned char)counter;
	memcpy(&b[12], &rnd[6], 4);
	uuid_format(b, out);
	return 0;
}

int
uuid_valid(const char *s, size_t len)
{
	size_t	 i;

	if (s == NULL || len != UUID_STR_LEN)
		return 0;
	for (i = 0; i < len; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (hex_digit((unsigned char)s[i]) < 0)
			return 0;
	}
	return 1;
}
