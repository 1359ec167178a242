/*
 * agent_session — the hot path's one statement: sessions inserted for keys
 * verified moments ago, each key re-checked in the same statement.  Its SQL
 * and what its errors mean (a class 22 SQLSTATE is the meta's fault) live
 * in agent_session.c; the connection is db.c's.
 */
#ifndef OTAS_AGENT_SESSION_H
#define OTAS_AGENT_SESSION_H

#include "db.h"
#include "status.h"

/* One session to insert: filled in by the caller, answered here. */
struct agent_session_row {
	const char	*session_id;	/* in: UUIDv7 made by the program */
	const char	*key_id;	/* in: the verified agent_key row */
	const char	*hashed_key;	/* in: its hash, as verified */
	const char	*meta;		/* in: JSON object text */
	enum otas_status st;		/* out */
	const char	*why;		/* out: static detail for the log */
};

/*
 * One round trip for all of rows[0..n): re-checks that each key_id still
 * has hashed_key and is usable (active, not revoked, not expired, agent
 * active), touches last_used_at at most once a minute, and inserts the
 * sessions with meta as jsonb, in one statement and one commit.  Each
 * row's st: OTAS_OK (committed), OTAS_ERR_KEY (key no longer usable,
 * nothing written), OTAS_ERR_META (jsonb refused the meta),
 * OTAS_ERR_UNAVAILABLE or OTAS_ERR_SERVER.  Thread-safe.
 */
void		 agent_session_insert(struct db *db,
		    struct agent_session_row *rows, int n);

/* The statement's SQL, so `make bench` runs the very same text. */
const char	*agent_session_sql(void);

#endif
