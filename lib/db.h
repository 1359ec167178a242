/*
 * db — the process's one PostgreSQL connection and the two statements of the
 * request path.  Opened lazily, re-opened after a failure; every wait is
 * bounded (connect_timeout, statement_timeout, and a client-side deadline in
 * case the server or a pooler never answers).  With unnamed_statements set
 * (PgBouncer 1.18 in transaction pooling) nothing is prepared by name and
 * no session setting is made: each statement goes as one PQsendQueryParams.
 */
#ifndef OTAS_DB_H
#define OTAS_DB_H

#include "config.h"
#include "key.h"
#include "status.h"
#include "uuid.h"

#define DB_MAX_KEY_ROWS 16	/* rows examined for one presented key */

struct db;

struct db_key_row {
	char	 id[UUID_STR_LEN + 1];
	char	 agent_id[UUID_STR_LEN + 1];
	char	 prefix[KEY_PREFIX_MAX + 1];
	char	*hashed_key;		/* malloc'd */
	int	 active, revoked, expired, agent_active;
};

/* Never connects; returns NULL only when out of memory. */
struct db	*db_new(const struct otas_config *cfg, const char *app_name);
void		 db_free(struct db *db);

/*
 * The rows of agent_key whose prefix is one of the key's candidates, newest
 * first, with their state.  OTAS_OK (possibly zero rows), or
 * OTAS_ERR_UNAVAILABLE / OTAS_ERR_SERVER with *why set.  Thread-safe.
 * Free the rows with db_key_rows_free.
 */
enum otas_status db_lookup_keys(struct db *db, const struct key_parts *k,
		    struct db_key_row *rows, int *nrows, const char **why);
void		 db_key_rows_free(struct db_key_row *rows, int nrows);

/* One session to insert: filled in by the caller, answered by the db. */
struct db_session {
	const char	*session_id;	/* in: UUIDv7 made by the program */
	const char	*key_id;	/* in: the verified agent_key row */
	const char	*hashed_key;	/* in: its hash, as verified */
	const char	*meta;		/* in: JSON object text */
	enum otas_status st;		/* out */
	const char	*why;		/* out: static detail for the log */
	char		 agent_id[UUID_STR_LEN + 1]; /* out, on OTAS_OK */
};

/*
 * The hot path, one round trip for all of rows[0..n): re-checks that each
 * key_id still has hashed_key and is usable (active, not revoked, not
 * expired, agent active), touches last_used_at at most once a minute, and
 * inserts the sessions with meta as jsonb, in one statement and one commit.
 * Each row's st: OTAS_OK (committed), OTAS_ERR_KEY (key no longer usable,
 * nothing written), OTAS_ERR_META (jsonb refused the meta),
 * OTAS_ERR_UNAVAILABLE or OTAS_ERR_SERVER.  Thread-safe.
 */
void		 db_create_sessions(struct db *db, struct db_session *rows,
		    int n);

/*
 * otas-authz's database mode: OTAS_OK when the session exists with that
 * agent and the agent is active, OTAS_ERR_TOKEN when not,
 * OTAS_ERR_UNAVAILABLE / OTAS_ERR_SERVER with *why set.  Thread-safe.
 */
enum otas_status db_session_exists(struct db *db, const char *session_id,
		    const char *agent_id, const char **why);

/* The hot-path statement's SQL, so `make bench` runs the very same text. */
const char	*db_hot_sql(void);


#endif
