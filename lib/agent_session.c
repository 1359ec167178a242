/*
 * agent_session — group commit's statement takes one array per column, so
 * its SQL is fixed whatever the number of rows.  It comes in two shapes
 * that share their key check: the plain one, and one that also claims
 * Idempotency-Key records, run only for a batch that carries a key.  A row
 * the statement does not return had a key that is no longer usable; a
 * class 22 SQLSTATE (data exception) can only come from a meta jsonb
 * refuses — a number out of its range — and then each row is tried alone,
 * so it fails only itself.
 *
 * The program chooses each session id before the insert, so when the
 * answer to a committed insert is lost with its connection, the retry can
 * be exact: each shape has an after_loss form that inserts only what is
 * missing (ON CONFLICT (id) DO NOTHING) and answers for the rows already
 * there with the same id and key as for new ones — their requests get
 * their 200, none gets a second row.  Only the retry pays for that.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_session.h"
#include "pgarray.h"

/*
 * The parts both statements share.  i: the rows of the batch, one array
 * per column.  k: the rows whose key is usable and still has the hash that
 * was verified, or the rehash the row brings (made from the same secret;
 * found when this request's own first attempt committed it and then lost
 * its answer), so a revocation takes effect on the very next request and a
 * row whose key fails is not inserted (not returned) while the others are.
 * touched: last_used_at at most once a minute, and a legacy hash replaced
 * by the fast one verified alongside it (rh, '' for none) only while the
 * row still holds the old one and is usable: compare-and-set, so a
 * rotation, revocation or other rehash that races it wins.
 */
#define ROWS_CHECKED \
	"), k AS (" \
	"  SELECT i.*, k.agent_id FROM i" \
	"  JOIN agent_key k ON k.id = i.kid" \
	"  AND (k.hashed_key = i.hk OR k.hashed_key = NULLIF(i.rh, ''))" \
	"  JOIN agent a ON a.id = k.agent_id" \
	"  WHERE k.active AND k.revoked_at IS NULL" \
	"  AND (k.expires_at IS NULL OR k.expires_at > now()) AND a.is_active" \
	"), u AS (" \
	"  SELECT DISTINCT ON (kid) kid, hk, NULLIF(rh, '') AS rh FROM k" \
	"  ORDER BY kid, rh DESC NULLS LAST" \
	"), touched AS (" \
	"  UPDATE agent_key t SET last_used_at = CASE WHEN" \
	"  t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute'" \
	"  THEN now() ELSE t.last_used_at END," \
	"  hashed_key = CASE WHEN u.rh IS NOT NULL AND t.hashed_key = u.hk" \
	"  AND t.active AND t.revoked_at IS NULL THEN u.rh ELSE t.hashed_key END" \
	"  FROM u WHERE t.id = u.kid AND (t.last_used_at IS NULL" \
	"  OR t.last_used_at < now() - interval '1 minute' OR (u.rh IS NOT NULL" \
	"  AND t.hashed_key = u.hk))" \
	")"

#define SESSION_COLUMNS \
	" INSERT INTO agent_session (id, agent_id, agent_key_id, created_at," \
	" meta) SELECT k.sid, k.agent_id, k.kid, now(), k.meta::jsonb FROM k"

/* Session id, key id, hashed_key as verified, meta, the rehash. */
#define PLAIN_ROWS \
	"WITH i AS (" \
	"  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]," \
	"  $5::text[]) AS i(sid, kid, hk, meta, rh)" \
	ROWS_CHECKED

/*
 * The retry's form.  Every row of k is stored once it has run: inserted
 * now, or already there (ON CONFLICT waits for a first attempt still
 * committing).  A row stored while its key was usable and found with that
 * key is returned too, even if the key has changed since (a rehash the
 * first attempt committed, a revocation).
 */
static const struct db_stmt insert_exact = {
	"otas_create_session_exact",
	PLAIN_ROWS
	", ins AS (" SESSION_COLUMNS " ON CONFLICT (id) DO NOTHING)"
	" SELECT sid::text FROM k"
	" UNION SELECT s.id::text FROM agent_session s"
	" JOIN i ON s.id = i.sid AND s.agent_key_id = i.kid",
	5, NULL
};

static const struct db_stmt insert = {
	"otas_create_session",
	PLAIN_ROWS SESSION_COLUMNS " RETURNING id::text",
	5, &insert_exact
};

/*
 * The same with Idempotency-Key records, for a batch in which a request
 * carries the header (so a request without it costs what it did).  Also
 * per row: the key (ik, '' for none), the body's SHA-256 (bh, hex), the
 * claims signed for sid; $10 the records' lifetime in seconds.
 *
 * idem claims (agent, key) with ON CONFLICT DO UPDATE, which waits for a
 * concurrent first request with the same key to commit and then returns
 * its record (a DO NOTHING would return nothing, and this statement's
 * snapshot could not see it); a record past its lifetime is taken over.
 * DISTINCT ON lets two rows of one batch with the same key claim it once,
 * in a fixed order.  Only a row whose own session id the record holds is
 * inserted; every row of k is returned with its record, so the caller
 * tells a first request from a repeat (same body or not).
 */
#define IDEM_ROWS \
	"WITH i AS (" \
	"  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]," \
	"  $5::text[], $6::text[], $7::text[], $8::int8[], $9::int8[])" \
	"  AS i(sid, kid, hk, meta, rh, ik, bh, iat, exp)" \
	ROWS_CHECKED \
	", idem AS (" \
	"  INSERT INTO otas_idempotency AS o (agent_id, idempotency_key," \
	"  request_hash, session_id, iat, exp, created_at)" \
	"  SELECT DISTINCT ON (agent_id, ik) agent_id, ik, decode(bh, 'hex')," \
	"  sid, iat, exp, now() FROM k WHERE ik <> '' ORDER BY agent_id, ik, sid" \
	"  ON CONFLICT (agent_id, idempotency_key) DO UPDATE SET" \
	"  request_hash = CASE WHEN o.created_at > now() - $10::int8 *" \
	"  interval '1 second' THEN o.request_hash ELSE EXCLUDED.request_hash END," \
	"  session_id = CASE WHEN o.created_at > now() - $10::int8 *" \
	"  interval '1 second' THEN o.session_id ELSE EXCLUDED.session_id END," \
	"  iat = CASE WHEN o.created_at > now() - $10::int8 *" \
	"  interval '1 second' THEN o.iat ELSE EXCLUDED.iat END," \
	"  exp = CASE WHEN o.created_at > now() - $10::int8 *" \
	"  interval '1 second' THEN o.exp ELSE EXCLUDED.exp END," \
	"  created_at = CASE WHEN o.created_at > now() - $10::int8 *" \
	"  interval '1 second' THEN o.created_at ELSE EXCLUDED.created_at END" \
	"  RETURNING o.agent_id, o.idempotency_key, o.request_hash," \
	"  o.session_id, o.iat, o.exp"
#define IDEM_INSERT \
	"), ins AS (" \
	SESSION_COLUMNS \
	"  WHERE k.ik = '' OR k.sid IN (SELECT session_id FROM idem)"
#define IDEM_ANSWER \
	")" \
	" SELECT k.sid::text, d.session_id::text," \
	" d.request_hash = decode(k.bh, 'hex'), d.iat, d.exp" \
	" FROM k LEFT JOIN idem d ON d.agent_id = k.agent_id" \
	" AND d.idempotency_key = k.ik"

/* Its retry's form: a session already stored is not inserted twice. */
static const struct db_stmt insert_idem_exact = {
	"otas_create_session_idem_exact",
	IDEM_ROWS IDEM_INSERT " ON CONFLICT (id) DO NOTHING" IDEM_ANSWER,
	10, NULL
};

static const struct db_stmt insert_idem = {
	"otas_create_session_idem",
	IDEM_ROWS IDEM_INSERT IDEM_ANSWER,
	10, &insert_idem_exact
};

/* The array parameters, in the order of the statements' unnest. */
enum column {
	COL_SESSION, COL_KEY, COL_HASH, COL_META, COL_REHASH,
	COL_IDEM_KEY, COL_BODY_HASH, COL_IAT, COL_EXP, COL_COUNT
};
#define COLS_PLAIN	(COL_REHASH + 1)

const char *
agent_session_sql(void)
{
	return insert.sql;
}

static int
add_text(struct pgarray *a, const char *s)
{
	if (s == NULL)
		s = "";
	return pgarray_add(a, s, strlen(s));
}

static int
add_number(struct pgarray *a, long long v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%lld", v);

	if (n < 0 || (size_t)n >= sizeof(num))
		return -1;
	return pgarray_add(a, num, (size_t)n);
}

/* One element per row in each of ncol columns; -1 when out of memory. */
static int
add_row(struct pgarray col[COL_COUNT], int ncol,
    const struct agent_session_row *r)
{
	if (add_text(&col[COL_SESSION], r->session_id) == -1 ||
	    add_text(&col[COL_KEY], r->key_id) == -1 ||
	    add_text(&col[COL_HASH], r->hashed_key) == -1 ||
	    add_text(&col[COL_REHASH], r->rehash) == -1 ||
	    add_text(&col[COL_META], r->meta) == -1)
		return -1;
	if (ncol == COLS_PLAIN)
		return 0;
	if (add_text(&col[COL_IDEM_KEY], r->idem_key) == -1 ||
	    add_text(&col[COL_BODY_HASH], r->body_hash) == -1 ||
	    add_number(&col[COL_IAT], r->iat) == -1 ||
	    add_number(&col[COL_EXP], r->exp) == -1)
		return -1;
	return 0;
}

/* The ncol array parameters of rows[0..n); -1 when out of memory. */
static int
columns(struct pgarray col[COL_COUNT], int ncol, const char **params,
    const struct agent_session_row *rows, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (add_row(col, ncol, &rows[i]) == -1)
			return -1;
	for (i = 0; i < ncol; i++)
		if ((params[i] = pgarray_end(&col[i])) == NULL)
			return -1;
	return 0;
}

static void
set_all(struct agent_session_row *rows, int n, enum otas_status st,
    const char *why)
{
	int i;

	for (i = 0; i < n; i++) {
		rows[i].st = st;
		rows[i].why = why;
	}
}

static int
any_idem(const struct agent_session_row *rows, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (rows[i].idem_key != NULL)
			return 1;
	return 0;
}

static long long
number(const PGresult *res, int r, int c)
{
	char *end;
	long long v = strtoll(PQgetvalue(res, r, c), &end, 10);

	return *end == '\0' ? v : 0;
}

/*
 * A returned row of the Idempotency-Key statement: no record (no key),
 * the record of this very row (the first request), or an earlier one.
 */
static void
judge_idem(const PGresult *res, int r, struct agent_session_row *row)
{
	const char *held = PQgetvalue(res, r, 1);

	row->st = OTAS_OK;
	row->why = NULL;
	if (PQgetisnull(res, r, 1) || strcmp(held, row->session_id) == 0)
		return;
	if (PQgetvalue(res, r, 2)[0] != 't') {
		row->st = OTAS_ERR_IDEM_REUSED;
		row->why = "Idempotency-Key reused with another body";
		return;
	}
	row->replayed = 1;
	snprintf(row->replay_id, sizeof(row->replay_id), "%s", held);
	row->replay_iat = number(res, r, 3);
	row->replay_exp = number(res, r, 4);
	row->why = "Idempotency-Key repeated: the earlier session answered";
}

/* Marks each row inserted (returned) or refused (its key not usable). */
static void
match_rows(PGresult *res, struct agent_session_row *rows, int n, int idem)
{
	int i, r;

	set_all(rows, n, OTAS_ERR_KEY, "key no longer usable");
	for (r = 0; r < PQntuples(res); r++) {
		const char *sid = PQgetvalue(res, r, 0);

		for (i = 0; i < n; i++) {
			if (strcmp(rows[i].session_id, sid) != 0)
				continue;
			if (idem)
				judge_idem(res, r, &rows[i]);
			else {
				rows[i].st = OTAS_OK;
				rows[i].why = NULL;
			}
		}
	}
}

/*
 * A failed statement: class 22 (data exception) is the meta's fault; a
 * statement cancelled by statement_timeout while requests carried an
 * Idempotency-Key was, in practice, waiting for the first request with
 * the same key to finish (every other part of it is quick).
 */
static void
set_failed(struct agent_session_row *rows, int n, enum otas_status st,
    const char *sqlstate, const char *why)
{
	int i;

	if (st == OTAS_ERR_SERVER && strncmp(sqlstate, "22", 2) == 0) {
		st = OTAS_ERR_META;
		why = "meta refused by jsonb";
	}
	set_all(rows, n, st, why);
	if (strcmp(sqlstate, "57014") != 0)
		return;
	for (i = 0; i < n; i++)
		if (rows[i].idem_key != NULL) {
			rows[i].st = OTAS_ERR_IDEM_IN_FLIGHT;
			rows[i].why = "timed out waiting for the first request "
			    "with this Idempotency-Key";
		}
}

/* One statement for rows[0..n); returns how the statement itself ended. */
static enum otas_status
insert_rows(struct db *db, struct agent_session_row *rows, int n)
{
	struct pgarray col[COL_COUNT];
	const char *params[COL_COUNT + 1], *why = "out of memory";
	char sqlstate[DB_SQLSTATE_LEN + 1] = "", ttl[24];
	enum otas_status st = OTAS_ERR_SERVER;
	int i, idem = any_idem(rows, n);
	int ncol = idem ? COL_COUNT : COLS_PLAIN;
	PGresult *res = NULL;

	for (i = 0; i < COL_COUNT; i++)
		col[i] = (struct pgarray)PGARRAY_INIT;
	snprintf(ttl, sizeof(ttl), "%ld", rows[0].idem_ttl);
	params[COL_COUNT] = ttl;
	if (columns(col, ncol, params, rows, n) == 0)
		st = db_run(db, idem ? &insert_idem : &insert, params, &res,
		    sqlstate, &why);
	for (i = 0; i < COL_COUNT; i++)
		pgarray_free(&col[i]);
	if (st != OTAS_OK) {
		set_failed(rows, n, st, sqlstate, why);
		return rows[0].st == OTAS_ERR_META ? OTAS_ERR_META : st;
	}
	match_rows(res, rows, n, idem);
	PQclear(res);
	return OTAS_OK;
}

void
agent_session_insert(struct db *db, struct agent_session_row *rows, int n)
{
	int i;

	if (insert_rows(db, rows, n) == OTAS_ERR_META && n > 1)
		for (i = 0; i < n; i++)
			insert_rows(db, &rows[i], 1);
}

/*
 * coalesce keeps the first end's time, so the call is idempotent and two
 * ends at once both find the row (the second waits for the first's lock
 * and then changes nothing, which fires no trigger).
 */
static const struct db_stmt end = {
	"otas_end_session",
	/* $1 session id, $2 agent id. */
	"UPDATE agent_session SET ended_at = coalesce(ended_at, now())"
	" WHERE id = $1::uuid AND agent_id = $2::uuid RETURNING 1",
	2, NULL
};

enum otas_status
agent_session_end(struct db *db, const char *session_id, const char *agent_id,
    const char **why)
{
	const char *params[2] = { session_id, agent_id };
	enum otas_status st;
	PGresult *res;
	int rows;

	if ((st = db_run(db, &end, params, &res, NULL, why)) != OTAS_OK)
		return st;
	rows = PQntuples(res);
	PQclear(res);
	if (rows == 0) {
		*why = "no such session (purged?)";
		return OTAS_ERR_TOKEN;
	}
	*why = "session ended";
	return OTAS_OK;
}
