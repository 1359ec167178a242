/*
 * slowhash — the budget of failed slow verifications per key prefix, so a
 * wrong secret for a known prefix cannot buy an attacker a slow PBKDF2 per
 * request.  A hash is "slow" when its iterations exceed
 * OTAS_SLOW_HASH_ITERATIONS (verify.c decides); this file only counts.
 * Per process, bounded, thread-safe.
 */
#ifndef OTAS_SLOWHASH_H
#define OTAS_SLOWHASH_H

#include <time.h>

/*
 * slowhash_allowed is 1 while fewer than limit slow verifications for
 * prefix have failed in its current one-minute window, which opens at the
 * first failure (so at most 2 x limit fit in any 60 s; limit 0: never
 * refused); slowhash_failed counts one.
 */
int	slowhash_allowed(const char *prefix, long limit, time_t now);
void	slowhash_failed(const char *prefix, time_t now);

#endif
