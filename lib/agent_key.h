/*
 * agent_key — the key lookup of the request path: the rows of agent_key
 * whose prefix is one of a presented key's candidates, with the state that
 * decides whether a matching row may be used.  Its SQL and what its
 * answers mean live in agent_key.c; the connection is db.c's.
 */
#ifndef OTAS_AGENT_KEY_H
#define OTAS_AGENT_KEY_H

#include "db.h"
#include "key.h"
#include "status.h"
#include "uuid.h"

#define AGENT_KEY_MAX_ROWS 16	/* rows examined for one presented key */

struct agent_key_row {
	char	 id[UUID_STR_LEN + 1];
	char	 agent_id[UUID_STR_LEN + 1];
	char	 prefix[KEY_PREFIX_MAX + 1];
	char	*hashed_key;		/* malloc'd */
	int	 active, revoked, expired, agent_active;
};

/*
 * The rows whose prefix is one of k's candidates, newest first, at most
 * AGENT_KEY_MAX_ROWS.  OTAS_OK (possibly zero rows), or
 * OTAS_ERR_UNAVAILABLE / OTAS_ERR_SERVER with *why set.  Thread-safe.
 * Free the rows with agent_key_rows_free.
 */
enum otas_status agent_key_lookup(struct db *db, const struct key_parts *k,
		    struct agent_key_row *rows, int *nrows, const char **why);
void		 agent_key_rows_free(struct agent_key_row *rows, int nrows);

#endif
