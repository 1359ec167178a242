/*
 * health — the readiness verdict a load balancer polls: the database
 * answers and its schema is at least the version this build was made for.
 * The verdict is remembered for HEALTH_TTL_MS per process (shared by its
 * threads), so however often it is polled a process asks the database at
 * most once a second.  The question itself is a callback (otas-session
 * passes schema_version, schema.h), so the cache is testable alone.
 */
#ifndef OTAS_HEALTH_H
#define OTAS_HEALTH_H

#include "status.h"

#define HEALTH_TTL_MS 1000

/*
 * Asks the schema version: OTAS_OK with *version set, or another status
 * (OTAS_ERR_UNAVAILABLE, OTAS_ERR_SERVER) with *why, a static string.
 */
typedef enum otas_status (*health_ask_fn)(void *arg, long *version,
		    const char **why);

struct health;

/* want: the newest migration this build knows.  NULL when out of memory. */
struct health	*health_new(health_ask_fn ask, void *arg, long want);
void		 health_free(struct health *h);

/*
 * OTAS_READY, OTAS_ERR_SCHEMA (behind, or no version recorded) or
 * OTAS_ERR_UNAVAILABLE (the database did not answer, or refused the
 * question), with *why for the log.  now_ms: a monotonic clock.  Asks
 * only when the last answer is HEALTH_TTL_MS old or older; concurrent
 * callers wait for that one answer.  Thread-safe.
 */
enum otas_status health_check(struct health *h, long long now_ms,
		    const char **why);

#endif
