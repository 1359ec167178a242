/*
 * health — one remembered verdict behind a mutex.  The mutex is held
 * while the question (the callback: the database, in otas-session) is
 * asked: threads polling at that moment wait for the one answer instead
 * of each asking, which is what keeps the bound at one question per
 * second per process.
 */
#include <pthread.h>
#include <stdlib.h>

#include "health.h"

struct health {
	pthread_mutex_t	 lock;
	health_ask_fn	 ask;
	void		*arg;
	long		 want;
	int		 asked;		/* 0 until the first answer */
	long long	 asked_ms;	/* when it was asked */
	enum otas_status last;
	const char	*why;
};

struct health *
health_new(health_ask_fn ask, void *arg, long want)
{
	struct health *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	pthread_mutex_init(&h->lock, NULL);
	h->ask = ask;
	h->arg = arg;
	h->want = want;
	return h;
}

void
health_free(struct health *h)
{
	if (h == NULL)
		return;
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/* The verdict of one question; refusals of any kind mean "not ready". */
static enum otas_status
verdict(struct health *h, const char **why)
{
	enum otas_status st;
	long version = 0;

	st = h->ask(h->arg, &version, why);
	if (st != OTAS_OK)
		return OTAS_ERR_UNAVAILABLE;
	if (version < h->want) {
		*why = version == 0 ? "no migration recorded" :
		    "schema older than this build";
		return OTAS_ERR_SCHEMA;
	}
	*why = "ready";
	return OTAS_READY;
}

enum otas_status
health_check(struct health *h, long long now_ms, const char **why)
{
	enum otas_status st;

	pthread_mutex_lock(&h->lock);
	/* A clock that went back (it should not) also counts as stale. */
	if (!h->asked || now_ms - h->asked_ms >= HEALTH_TTL_MS ||
	    now_ms < h->asked_ms) {
		h->last = verdict(h, &h->why);
		h->asked = 1;
		h->asked_ms = now_ms;
	}
	st = h->last;
	*why = h->why;
	pthread_mutex_unlock(&h->lock);
	return st;
}
