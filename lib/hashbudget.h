/*
 * hashbudget — the CPU budget of slow key verifications on a host.
 *
 * A PBKDF2 hash above OTAS_SLOW_HASH_ITERATIONS (a key from the original
 * backend, 260 000 iterations: about 80 ms of a core) is paid once per
 * process and key, and a wrong secret for a known prefix costs one too.
 * Refusing verifications after some failures would let an attacker who
 * knows a prefix lock its owner out, so a key is never refused for that:
 * each slow hash waits for its share of a budget of OTAS_SLOW_HASH_RATE
 * iterations per second (a token bucket holding at most one second of
 * it).  The bucket lives in the pool's metrics file (metrics.h), shared by
 * every process of the host, so mod_fcgid starting more processes for
 * waiting hashes adds no budget; a process without the file keeps one of
 * its own.  Over any T seconds the host therefore starts slow hashes of at
 * most rate * (T + 1) iterations plus the one in hand; at the default of
 * 1 000 000 that is under a third of one core, however many requests come.
 *
 * The queue is shared fairly by source address (REMOTE_ADDR; IPv6 by its
 * /64): a hash whose turn is more than HASHBUDGET_MAX_WAIT seconds away is
 * not queued, and past HASHBUDGET_SHARED_WAIT only an address with no hash
 * of its own still queued may join.  One address flooding guesses thus
 * fills at most the first part of the queue, and its 503s are cheap; the
 * owner, from another address, always finds room and waits at most about
 * HASHBUDGET_MAX_WAIT.  A refused request is answered 503 with Retry-After,
 * to be tried again, never 401.  A key already verified never meets the
 * budget (verify.c asks the cache first).
 */
#ifndef OTAS_HASHBUDGET_H
#define OTAS_HASHBUDGET_H

#include <stddef.h>

#define HASHBUDGET_MAX_WAIT	2.0	/* seconds */
#define HASHBUDGET_SHARED_WAIT	1.0	/* beyond: none queued only */
#define HASHBUDGET_ADDRS	256	/* addresses remembered at once */
#define HASHBUDGET_ADDR_MAX	8	/* an IPv4 address, or an IPv6 /64 */

/* The bucket, in iterations; zeroed means full at the first use. */
struct hashbudget_bucket {
	double	tokens;
	double	last;		/* seconds, of the clock passed in */
	int	started;
};

/*
 * Takes iterations from b at time now (seconds) for a budget of rate
 * iterations per second, and returns how long the caller must wait before
 * hashing (0 when the bucket is not in debt), or -1 without taking
 * anything when that would be over HASHBUDGET_MAX_WAIT.  The debt is taken
 * at once, so callers are served in the order they asked.  Pure
 * arithmetic.
 */
double	hashbudget_take(struct hashbudget_bucket *b, double rate,
	    double iterations, double now);

/* One source address and when the last hash it queued ends. */
struct hashbudget_addr {
	unsigned char	key[HASHBUDGET_ADDR_MAX];
	unsigned char	len;		/* 0: unknown address */
	unsigned char	used;
	double		until;		/* seconds, of the clock passed in */
};

/* The budget and the addresses queued in it: a file's bytes, untrusted. */
struct hashbudget_pool {
	struct hashbudget_bucket	bucket;
	struct hashbudget_addr	addr[HASHBUDGET_ADDRS];
};

/*
 * REMOTE_ADDR as the key its fair share is kept under: 4 bytes of IPv4
 * (also IPv4-mapped IPv6), the first 8 of IPv6; 0 (all unknown addresses
 * share one key) for NULL or anything else.  Returns the key's length.
 */
size_t	hashbudget_addr_key(const char *remote,
	    unsigned char key[HASHBUDGET_ADDR_MAX]);

/*
 * hashbudget_take for the address key[0..len) in pool p: -1 without taking
 * anything when the turn is over HASHBUDGET_MAX_WAIT away, or over
 * HASHBUDGET_SHARED_WAIT away while the address still has a hash queued.
 * Pure arithmetic; values that are not numbers (a damaged file) start the
 * bucket afresh.
 */
double	hashbudget_take_fair(struct hashbudget_pool *p,
	    const unsigned char *key, size_t len, double rate, double iterations, double now);

/*
 * The host's budget (the pool's file, else the process's): takes
 * iterations at rate for remote (REMOTE_ADDR, or NULL) and sleeps as long
 * as hashbudget_take_fair says (no lock held while sleeping).  Returns 0, or
 * -1 when the hash must not be done now.  Thread-safe.
 */
int	hashbudget_wait(long iterations, long rate, const char *remote);

#endif
