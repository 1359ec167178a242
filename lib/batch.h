/*
 * batch — group commit.  The threads of one otas-session process each serve
 * a request; their inserts meet here, and whichever thread finds the
 * database idle writes every row waiting at that moment with one statement
 * and one commit (agent_session_insert), then wakes the others.  Each request
 * still gets its answer only after its own row is committed; a row whose
 * key fails fails only its own request.  With one thread this is exactly
 * one row per statement.
 */
#ifndef OTAS_BATCH_H
#define OTAS_BATCH_H

#include "agent_session.h"

#define BATCH_MAX 64		/* rows in one statement */

struct batch;

struct batch	*batch_new(struct db *db);
void		 batch_free(struct batch *b);

/*
 * Inserts row with the rows of other threads (see agent_session_insert)
 * and returns its own outcome once it is final, *why set when not OTAS_OK.
 */
enum otas_status batch_create(struct batch *b, struct agent_session_row *row,
		    const char **why);

#endif
