/*
 * batch — leader and followers: no thread of its own, no timer.  A request
 * never waits for company; rows only group up while the previous statement
 * is running, which is exactly when waiting costs nothing.  Each waiter
 * sleeps on its own condition variable, so a finished statement wakes
 * exactly its rows' threads and the one that leads next, never the whole
 * queue (a broadcast cost five futex calls per request at 8 threads).
 */
#include <pthread.h>
#include <stdlib.h>

#include "batch.h"
#include "metrics.h"

struct waiter {
	struct agent_session_row	*row;
	pthread_cond_t		 wake;	/* done, or next to lead */
	int			 done;
	struct waiter		*next;
};

struct batch {
	pthread_mutex_t	 lock;
	struct waiter	*head, **tail;
	int		 leading;	/* a thread is running a statement */
	struct db	*db;
};

struct batch *
batch_new(struct db *db)
{
	struct batch *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	pthread_mutex_init(&b->lock, NULL);
	b->tail = &b->head;
	b->db = db;
	return b;
}

void
batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* Detaches up to BATCH_MAX waiters from the queue; b->lock is held. */
static int
take(struct batch *b, struct waiter **taken)
{
	int n = 0;

	while (b->head != NULL && n < BATCH_MAX) {
		taken[n++] = b->head;
		b->head = b->head->next;
	}
	if (b->head == NULL)
		b->tail = &b->head;
	return n;
}

/* Runs one statement for the taken rows, without holding b->lock. */
static void
write_rows(struct batch *b, struct waiter **taken, int n)
{
	struct agent_session_row rows[BATCH_MAX];
	int i;

	for (i = 0; i < n; i++)
		rows[i] = *taken[i]->row;
	agent_session_insert(b->db, rows, n);
	metrics_commit_rows(n);
	for (i = 0; i < n; i++)
		*taken[i]->row = rows[i];
}

/*
 * Marks the taken rows done and wakes their threads, then the first of
 * those still queued, which leads the next statement; b->lock is held.
 */
static void
hand_over(struct batch *b, struct waiter **taken, int n,
    const struct waiter *self)
{
	int i;

	for (i = 0; i < n; i++) {
		taken[i]->done = 1;
		if (taken[i] != self)
			pthread_cond_signal(&taken[i]->wake);
	}
	b->leading = 0;
	if (b->head != NULL && b->head != self)
		pthread_cond_signal(&b->head->wake);
}

enum otas_status
batch_create(struct batch *b, struct agent_session_row *row,
    const char **why)
{
	struct waiter self = { .row = row }, *taken[BATCH_MAX];
	int n;

	if (pthread_cond_init(&self.wake, NULL) != 0) {
		*why = "cannot make a condition variable";
		return OTAS_ERR_SERVER;
	}
	pthread_mutex_lock(&b->lock);
	*b->tail = &self;
	b->tail = &self.next;
	while (!self.done) {
		if (b->leading) {
			pthread_cond_wait(&self.wake, &b->lock);
			continue;
		}
		b->leading = 1;
		n = take(b, taken);
		pthread_mutex_unlock(&b->lock);
		write_rows(b, taken, n);
		pthread_mutex_lock(&b->lock);
		hand_over(b, taken, n, &self);
	}
	pthread_mutex_unlock(&b->lock);
	pthread_cond_destroy(&self.wake);
	*why = row->why;
	return row->st;
}
