/*
 * slowhash — the CPU budget of slow key verifications in one process.
 *
 * A PBKDF2 hash above OTAS_SLOW_HASH_ITERATIONS (a key from the original
 * backend, 260 000 iterations: about 80 ms of a core) is paid once per
 * process and key, and a wrong secret for a known prefix costs one too.
 * Refusing verifications after some failures would let an attacker who
 * knows a prefix lock its owner out, so a key is never refused for that:
 * each slow hash waits for its share of a budget of OTAS_SLOW_HASH_RATE
 * iterations per second (a token bucket holding at most one second of
 * it).  Over any T seconds a process therefore starts slow hashes of at
 * most rate * (T + 1) iterations plus the one in hand; at the default of
 * 1 000 000 that is under a third of one core, however many requests come.
 * A guesser may make the owner's first verification wait its turn behind
 * his; a key already verified never meets the budget (verify.c asks the
 * cache first).  So that no worker sleeps for long, a hash whose turn is
 * more than SLOWHASH_MAX_WAIT seconds away (only possible with several
 * threads per process) is not queued: that request is answered 503 with
 * Retry-After, to be tried again, never 401.
 */
#ifndef OTAS_SLOWHASH_H
#define OTAS_SLOWHASH_H

#define SLOWHASH_MAX_WAIT	2.0	/* seconds */

/* The bucket, in iterations; zeroed means full at the first use. */
struct slowhash_bucket {
	double	tokens;
	double	last;		/* seconds, of the clock passed in */
	int	started;
};

/*
 * Takes iterations from b at time now (seconds) for a budget of rate
 * iterations per second, and returns how long the caller must wait before
 * hashing (0 when the bucket is not in debt), or -1 without taking
 * anything when that would be over SLOWHASH_MAX_WAIT.  The debt is taken
 * at once, so callers are served in the order they asked.  Pure
 * arithmetic.
 */
double	slowhash_take(struct slowhash_bucket *b, double rate,
	    double iterations, double now);

/*
 * The process's bucket: takes iterations at rate and sleeps as long as
 * slowhash_take says (no lock held while sleeping).  Returns 0, or -1
 * when the turn is too far away and the hash must not be done now.
 * Thread-safe.
 */
int	slowhash_wait(long iterations, long rate);

#endif
