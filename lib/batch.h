/*
 * batch — group commit.  The threads of one otas-session process each serve
 * a request; their inserts meet here, and whichever thread finds the
 * database idle writes every row waiting at that moment with one statement
 * and one commit (db_create_sessions), then wakes the others.  Each request
 * still gets its answer only after its own row is committed; a row whose
 * key fails fails only its own request.  With one thread this is exactly
 * one row per statement.
 */
#ifndef OTAS_BATCH_H
#define OTAS_BATCH_H

#include "db.h"

#define BATCH_MAX 64		/* rows in one statement */

struct batch;

struct batch	*batch_new(struct db *db);
void		 batch_free(struct batch *b);

/* Inserts row (see db_create_sessions); returns when row->st is final. */
void		 batch_create(struct batch *b, struct db_session *row);

#endif
