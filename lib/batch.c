/*
 * batch — leader and followers: no thread of its own, no timer.  A request
 * never waits for company; rows only group up while the previous statement
 * is running, which is exactly when waiting costs nothing.
 */
#include <pthread.h>
#include <stdlib.h>

#include "batch.h"

struct waiter {
	struct agent_session_row	*row;
	int			 done;
	struct waiter		*next;
};

struct batch {
	pthread_mutex_t	 lock;
	pthread_cond_t	 finished;
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
	pthread_cond_init(&b->finished, NULL);
	b->tail = &b->head;
	b->db = db;
	return b;
}

void
batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	pthread_cond_destroy(&b->finished);
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
	for (i = 0; i < n; i++)
		*taken[i]->row = rows[i];
}

enum otas_status
batch_create(struct batch *b, struct agent_session_row *row,
    const char **why)
{
	struct waiter self = { row, 0, NULL }, *taken[BATCH_MAX];
	int i, n;

	pthread_mutex_lock(&b->lock);
	*b->tail = &self;
	b->tail = &self.next;
	while (!self.done) {
		if (b->leading) {
			pthread_cond_wait(&b->finished, &b->lock);
			continue;
		}
		b->leading = 1;
		n = take(b, taken);
		pthread_mutex_unlock(&b->lock);
		write_rows(b, taken, n);
		pthread_mutex_lock(&b->lock);
		for (i = 0; i < n; i++)
			taken[i]->done = 1;
		b->leading = 0;
		pthread_cond_broadcast(&b->finished);
	}
	pthread_mutex_unlock(&b->lock);
	*why = row->why;
	return row->st;
}
