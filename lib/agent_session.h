/*
 * agent_session — the hot path's one statement: sessions inserted for keys
 * verified moments ago, each key re-checked (and a legacy hash replaced) in
 * the same statement, with the Idempotency-Key records of the requests that
 * carry one.  Its SQL and what its errors mean (a class 22 SQLSTATE is the
 * meta's fault) live in agent_session.c; the connection is db.c's.
 */
#ifndef OTAS_AGENT_SESSION_H
#define OTAS_AGENT_SESSION_H

#include "db.h"
#include "rate.h"
#include "uuid.h"
#include "status.h"

/* One session to insert: filled in by the caller, answered here. */
struct agent_session_row {
	const char	*session_id;	/* in: UUIDv7 made by the program */
	const char	*key_id;	/* in: the verified agent_key row */
	const char	*hashed_key;	/* in: its hash, as verified */
	const char	*rehash;	/* in: a fast hash of the same key to
					   store in its place, or NULL */
	const char	*meta;		/* in: JSON object text */
	const char	*idem_key;	/* in: Idempotency-Key, or NULL */
	const char	*body_hash;	/* in: hex SHA-256 of the body */
	long long	 iat, exp;	/* in: the claims signed for session_id */
	long		 idem_ttl;	/* in: seconds a key's record holds */
	const struct rate *rate_default; /* in: OTAS_SESSION_RATE */
	enum otas_status st;		/* out */
	struct rate_answer limit;	/* out: the agent's count, if limited */
	const char	*why;		/* out: static detail for the log */
	int		 replayed;	/* out, on OTAS_OK: an earlier request
					   with idem_key made this session: */
	char		 replay_id[UUID_STR_LEN + 1];
	long long	 replay_iat, replay_exp;
};

/*
 * One round trip for all of rows[0..n): re-checks that each key_id still
 * has hashed_key and is usable (active, not revoked, not expired, agent
 * active), touches last_used_at at most once a minute, swaps in a row's
 * rehash while the stored hash is still hashed_key, and inserts the
 * sessions with meta as jsonb, in one statement and one commit.  A row
 * with an idem_key inserts only if no record of that key younger than
 * idem_ttl exists for its agent; otherwise it is answered from that
 * record.  A row of an agent with a rate limit (its own, else
 * rate_default) that would spend beyond it is refused, in the batch's
 * order, and writes nothing; a repeat answered from a record spends
 * nothing.  Each row's st: OTAS_OK (committed, or replayed), OTAS_ERR_KEY
 * (key no longer usable, nothing written), OTAS_ERR_META (jsonb refused
 * the meta), OTAS_ERR_IDEM_REUSED (the key's record has another body),
 * OTAS_ERR_IDEM_IN_FLIGHT (the first request with the key held it past
 * the statement timeout), OTAS_ERR_RATE_LIMITED (over the agent's limit;
 * the one place that verdict is made), OTAS_ERR_UNAVAILABLE or
 * OTAS_ERR_SERVER.  limit: the agent's count after the row, on OTAS_OK and
 * OTAS_ERR_RATE_LIMITED.
 * Thread-safe.
 */
void		 agent_session_insert(struct db *db,
		    struct agent_session_row *rows, int n);

/*
 * Ends session_id of agent_id (both validated uuids): sets ended_at once,
 * and again is no change (the first time stays).  OTAS_OK when the session
 * exists — ended now or before; OTAS_ERR_TOKEN when not (purged, or never
 * made); OTAS_ERR_UNAVAILABLE or OTAS_ERR_SERVER.  The NOTIFY every
 * otas-authz process listens for is the trigger's (sql/005), sent in the
 * same transaction.
 */
enum otas_status agent_session_end(struct db *db, const char *session_id,
		    const char *agent_id, const char **why);

/* The statement's SQL, so `make bench` runs the very same text. */
const char	*agent_session_sql(void);

#endif
