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
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_session.h"
#include "decimal.h"
#include "pgarray.h"

/*
 * The parts every statement shares.  i: the rows of the batch, one array
 * per column, numbered in the batch's order (its queue's).  k: the rows
 * whose key is usable and still has the hash that was verified, or the
 * rehash the row brings (made from the same secret; found when this
 * request's own first attempt committed it and then lost its answer), so
 * a revocation takes effect on the very next request and a row whose key
 * fails is not inserted (not returned) while the others are.  touched:
 * last_used_at at most once a minute, and a legacy hash replaced by the
 * fast one verified alongside it (rh, '' for none) only while the row
 * still holds the old one and is usable: compare-and-set, so a rotation,
 * revocation or other rehash that races it wins.  touched is referenced
 * by nothing, so PostgreSQL runs it after the main query: a key row is
 * locked only after the agent's limiter row (below), never before.
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

/*
 * The rate limit (GCRA), decided in the same statement.  c: each row of k
 * and whether it spends (SPEND: not a repeat answered from a stored
 * session).  want: per limited agent, its limit — its own row of
 * otas_rate_limit, else the default D (quota, window seconds, burst; a
 * quota of 0 is no limit) — the emission interval t in microseconds and
 * how many of its rows spend.  st claims the agent's limiter row with an
 * upsert, in agent order (so two batches never wait on each other in a
 * circle); ON CONFLICT waits for any other statement holding the row and
 * then reads its newest version, so the count is exact across processes
 * and hosts.  It admits the first m rows: as many as the bucket holds
 * (now + burst * t - tat, in whole t), and advances tat by m * t.  The
 * database's clock is the only one.  lim: what is left after the
 * statement (r) and the seconds until one more (tt).  v: each row's
 * verdict: refused when it spends and comes after the first m of its
 * agent; its remaining count as it was after its own admission.
 */
#define ROWS_LIMITED(SPEND, D) \
	", c AS (" \
	"  SELECT k.sid, k.agent_id, k.ord, " SPEND " AS spend FROM k" \
	"), want AS (" \
	"  SELECT c.agent_id, count(*) FILTER (WHERE c.spend) AS n, l.q, l.w," \
	"  l.b, ceil(l.w * 1000000.0 / l.q)::int8 AS t" \
	"  FROM c LEFT JOIN otas_rate_limit r ON r.agent_id = c.agent_id" \
	"  CROSS JOIN LATERAL (SELECT coalesce(r.quota, " D "[1]) AS q," \
	"  coalesce(r.window_seconds, " D "[2]) AS w," \
	"  coalesce(r.burst, " D "[3]) AS b) l" \
	"  WHERE l.q > 0 GROUP BY c.agent_id, l.q, l.w, l.b" \
	"), st AS (" \
	"  INSERT INTO otas_rate_state AS s (agent_id, tat, admitted)" \
	"  SELECT agent_id, now() + least(n, b) * t * interval '1 microsecond'," \
	"  least(n, b) FROM want ORDER BY agent_id" \
	"  ON CONFLICT (agent_id) DO UPDATE SET (admitted, tat) = (" \
	"  SELECT g.m, greatest(s.tat, now()) + g.m * w.t *" \
	"  interval '1 microsecond' FROM want w CROSS JOIN LATERAL (SELECT" \
	"  least(w.n, greatest(0, floor((w.b * w.t - greatest(0," \
	"  extract(epoch FROM s.tat - now()) * 1000000)) / w.t)))::int AS m) g" \
	"  WHERE w.agent_id = s.agent_id)" \
	"  RETURNING s.agent_id, s.tat, s.admitted" \
	"), lim AS (" \
	"  SELECT w.agent_id, st.admitted AS m, w.q, w.w, w.b, w.t, x.d, y.r" \
	"  FROM st JOIN want w ON w.agent_id = st.agent_id" \
	"  CROSS JOIN LATERAL (SELECT greatest(0, extract(epoch FROM" \
	"  st.tat - now()) * 1000000)::int8 AS d) x" \
	"  CROSS JOIN LATERAL (SELECT least(w.b, greatest(0," \
	"  floor((w.b * w.t - x.d) / w.t::numeric)))::int AS r) y" \
	"), ranked AS (" \
	"  SELECT c.*, row_number() OVER (PARTITION BY c.agent_id, c.spend" \
	"  ORDER BY c.ord) AS rk FROM c" \
	"), v AS (" \
	"  SELECT d.sid, coalesce(d.spend AND d.rk > l.m, false) AS refused," \
	"  l.q, l.w, CASE WHEN d.spend AND d.rk <= l.m THEN l.r + l.m - d.rk" \
	"  ELSE l.r END AS r, CASE WHEN l.r >= l.b THEN 0 ELSE greatest(0," \
	"  ceil((l.d - (l.b - l.r - 1) * l.t) / 1000000.0)) END::int8 AS tt" \
	"  FROM ranked d LEFT JOIN lim l ON l.agent_id = d.agent_id" \
	"), ok AS (" \
	"  SELECT k.* FROM k JOIN v ON v.sid = k.sid WHERE NOT v.refused" \
	")"

/* Each row's verdict, the first columns of every statement's answer. */
#define VERDICT " v.sid::text, v.refused, v.q, v.w, v.r, v.tt"

#define SESSION_COLUMNS \
	" INSERT INTO agent_session (id, agent_id, agent_key_id, created_at," \
	" meta) SELECT ok.sid, ok.agent_id, ok.kid, now(), ok.meta::jsonb" \
	" FROM ok"

/* A row the lost first attempt stored is not stored, nor spent, twice. */
#define NOT_STORED \
	"NOT EXISTS (SELECT 1 FROM agent_session s WHERE s.id = k.sid)"

/*
 * Session id, key id, hashed_key as verified, meta, the rehash; then the
 * default limit (OTAS_SESSION_RATE: quota, window, burst).
 */
#define PLAIN_DEFAULTS "(ARRAY[$6::int, $7::int, $8::int])"
#define PLAIN_ROWS \
	"WITH i AS (" \
	"  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]," \
	"  $5::text[]) WITH ORDINALITY AS i(sid, kid, hk, meta, rh, ord)" \
	ROWS_CHECKED

/*
 * The retry's form.  Every row of ok is stored once it has run: inserted
 * now, or already there (ON CONFLICT waits for a first attempt still
 * committing).  A row stored while its key was usable and found with that
 * key is returned too, even if the key has changed since (a rehash the
 * first attempt committed, a revocation).
 */
static const struct db_stmt insert_exact = {
	"otas_create_session_exact",
	PLAIN_ROWS ROWS_LIMITED(NOT_STORED, PLAIN_DEFAULTS)
	", ins AS (" SESSION_COLUMNS " ON CONFLICT (id) DO NOTHING)"
	" SELECT" VERDICT " FROM v"
	" UNION ALL SELECT s.id::text, false, NULL, NULL, NULL, NULL"
	" FROM agent_session s JOIN i ON s.id = i.sid AND s.agent_key_id = i.kid"
	" WHERE NOT EXISTS (SELECT 1 FROM v WHERE v.sid = s.id)",
	8, NULL
};

static const struct db_stmt insert = {
	"otas_create_session",
	PLAIN_ROWS ROWS_LIMITED("true", PLAIN_DEFAULTS)
	", ins AS (" SESSION_COLUMNS ") SELECT" VERDICT " FROM v",
	8, &insert_exact
};

/*
 * The same with Idempotency-Key records, for a batch in which a request
 * carries the header (so a request without it costs what it did).  Also
 * per row: the key (ik, '' for none), the body's SHA-256 (bh, hex), the
 * claims signed for sid; $10 the records' lifetime in seconds.
 *
 * A row whose key has a live record is a repeat and spends nothing (a
 * repeat whose first request is still running is not seen as one: it
 * spends, like the request it is).  idem claims (agent, key) for the rows
 * the limit let through, with ON CONFLICT DO UPDATE, which waits for a
 * concurrent first request with the same key to commit and then returns
 * its record (a DO NOTHING would return nothing, and this statement's
 * snapshot could not see it); a record past its lifetime is taken over.
 * DISTINCT ON lets two rows of one batch with the same key claim it once,
 * in a fixed order.  Only a row whose own session id the record holds is
 * inserted; every row of k is returned with its record, so the caller
 * tells a first request from a repeat (same body or not).
 */
#define IDEM_LIVE \
	"o.created_at > now() - $10::int8 * interval '1 second'"
#define NOT_REPEAT \
	"NOT EXISTS (SELECT 1 FROM otas_idempotency o WHERE k.ik <> ''" \
	" AND o.agent_id = k.agent_id AND o.idempotency_key = k.ik AND " \
	IDEM_LIVE ")"
#define IDEM_DEFAULTS "(ARRAY[$11::int, $12::int, $13::int])"
#define IDEM_ROWS(SPEND) \
	"WITH i AS (" \
	"  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]," \
	"  $5::text[], $6::text[], $7::text[], $8::int8[], $9::int8[])" \
	"  WITH ORDINALITY AS i(sid, kid, hk, meta, rh, ik, bh, iat, exp, ord)" \
	ROWS_CHECKED ROWS_LIMITED(SPEND, IDEM_DEFAULTS) \
	", idem AS (" \
	"  INSERT INTO otas_idempotency AS o (agent_id, idempotency_key," \
	"  request_hash, session_id, iat, exp, created_at)" \
	"  SELECT DISTINCT ON (agent_id, ik) agent_id, ik, decode(bh, 'hex')," \
	"  sid, iat, exp, now() FROM ok WHERE ik <> '' ORDER BY agent_id, ik, sid" \
	"  ON CONFLICT (agent_id, idempotency_key) DO UPDATE SET" \
	"  request_hash = CASE WHEN " IDEM_LIVE \
	"  THEN o.request_hash ELSE EXCLUDED.request_hash END," \
	"  session_id = CASE WHEN " IDEM_LIVE \
	"  THEN o.session_id ELSE EXCLUDED.session_id END," \
	"  iat = CASE WHEN " IDEM_LIVE " THEN o.iat ELSE EXCLUDED.iat END," \
	"  exp = CASE WHEN " IDEM_LIVE " THEN o.exp ELSE EXCLUDED.exp END," \
	"  created_at = CASE WHEN " IDEM_LIVE \
	"  THEN o.created_at ELSE EXCLUDED.created_at END" \
	"  RETURNING o.agent_id, o.idempotency_key, o.request_hash," \
	"  o.session_id, o.iat, o.exp"
#define IDEM_INSERT \
	"), ins AS (" \
	SESSION_COLUMNS \
	"  WHERE ok.ik = '' OR ok.sid IN (SELECT session_id FROM idem)"
#define IDEM_ANSWER \
	")" \
	" SELECT" VERDICT ", d.session_id::text," \
	" d.request_hash = decode(k.bh, 'hex'), d.iat, d.exp" \
	" FROM k JOIN v ON v.sid = k.sid LEFT JOIN idem d" \
	" ON d.agent_id = k.agent_id AND d.idempotency_key = k.ik"

/* Its retry's form: a session already stored is not inserted twice. */
static const struct db_stmt insert_idem_exact = {
	"otas_create_session_idem_exact",
	IDEM_ROWS(NOT_REPEAT " AND " NOT_STORED) IDEM_INSERT
	" ON CONFLICT (id) DO NOTHING" IDEM_ANSWER,
	13, NULL
};

static const struct db_stmt insert_idem = {
	"otas_create_session_idem",
	IDEM_ROWS(NOT_REPEAT) IDEM_INSERT IDEM_ANSWER,
	13, &insert_idem_exact
};

/* The array parameters, in the order of the statements' unnest. */
enum column {
	COL_SESSION, COL_KEY, COL_HASH, COL_META, COL_REHASH,
	COL_IDEM_KEY, COL_BODY_HASH, COL_IAT, COL_EXP, COL_COUNT
};
#define COLS_PLAIN	(COL_REHASH + 1)
/* After the arrays: the idem shape's lifetime, then the default limit. */
#define PARAMS_MAX	(COL_COUNT + 4)

/* The answer's columns: VERDICT's, then the idem shape's record. */
enum answer {
	ANS_SESSION, ANS_REFUSED, ANS_QUOTA, ANS_WINDOW, ANS_REMAINING,
	ANS_WAIT, ANS_HELD, ANS_SAME_BODY, ANS_IAT, ANS_EXP
};

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

/* A bigint or integer column's text; 0 for NULL or anything else. */
static long long
number(const PGresult *res, int r, int c)
{
	long long v;

	if (decimal_llong(PQgetvalue(res, r, c), LLONG_MIN, LLONG_MAX,
	    &v) == -1)
		return 0;
	return v;
}

/*
 * A returned row of the Idempotency-Key statement: no record (no key),
 * the record of this very row (the first request), or an earlier one.
 */
static void
judge_idem(const PGresult *res, int r, struct agent_session_row *row)
{
	const char *held = PQgetvalue(res, r, ANS_HELD);

	if (PQgetisnull(res, r, ANS_HELD) || strcmp(held, row->session_id) == 0)
		return;
	if (PQgetvalue(res, r, ANS_SAME_BODY)[0] != 't') {
		row->st = OTAS_ERR_IDEM_REUSED;
		row->why = "Idempotency-Key reused with another body";
		return;
	}
	row->replayed = 1;
	snprintf(row->replay_id, sizeof(row->replay_id), "%s", held);
	row->replay_iat = number(res, r, ANS_IAT);
	row->replay_exp = number(res, r, ANS_EXP);
	row->why = "Idempotency-Key repeated: the earlier session answered";
}

/*
 * A returned row's rate limit: none (NULL quota), or the agent's count
 * after it, and whether the limit refused it — the one place a request is
 * found over its limit.  Returns 1 when refused.
 */
static int
judge_limit(const PGresult *res, int r, struct agent_session_row *row)
{
	struct rate_answer *a = &row->limit;

	memset(a, 0, sizeof(*a));
	if (PQgetisnull(res, r, ANS_QUOTA))
		return 0;
	a->limited = 1;
	a->quota = (long)number(res, r, ANS_QUOTA);
	a->window = (long)number(res, r, ANS_WINDOW);
	a->remaining = (long)number(res, r, ANS_REMAINING);
	a->wait = number(res, r, ANS_WAIT);
	if (PQgetvalue(res, r, ANS_REFUSED)[0] != 't')
		return 0;
	row->st = OTAS_ERR_RATE_LIMITED;
	row->why = "over the agent's rate limit";
	return 1;
}

/* Marks each row inserted (returned) or refused (its key not usable). */
static void
match_rows(PGresult *res, struct agent_session_row *rows, int n, int idem)
{
	int i, r;

	set_all(rows, n, OTAS_ERR_KEY, "key no longer usable");
	for (r = 0; r < PQntuples(res); r++) {
		const char *sid = PQgetvalue(res, r, ANS_SESSION);

		for (i = 0; i < n; i++) {
			if (strcmp(rows[i].session_id, sid) != 0)
				continue;
			rows[i].st = OTAS_OK;
			rows[i].why = NULL;
			if (!judge_limit(res, r, &rows[i]) && idem)
				judge_idem(res, r, &rows[i]);
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

/* The default limit, quota 0 when none: the statements' last three. */
static void
limit_params(const struct rate *def, char lim[3][24], const char **params)
{
	static const struct rate off = { 0, 1, 1 };
	int i;

	if (def == NULL || def->quota == 0)
		def = &off;
	/* Three longs always fit 24 bytes each. */
	snprintf(lim[0], sizeof(lim[0]), "%ld", def->quota);
	snprintf(lim[1], sizeof(lim[1]), "%ld", def->window);
	snprintf(lim[2], sizeof(lim[2]), "%ld", def->burst);
	for (i = 0; i < 3; i++)
		params[i] = lim[i];
}

/* One statement for rows[0..n); returns how the statement itself ended. */
static enum otas_status
insert_rows(struct db *db, struct agent_session_row *rows, int n)
{
	struct pgarray col[COL_COUNT];
	const char *params[PARAMS_MAX], *why = "out of memory";
	char sqlstate[DB_SQLSTATE_LEN + 1] = "", ttl[24], lim[3][24];
	enum otas_status st = OTAS_ERR_SERVER;
	int i, idem = any_idem(rows, n);
	int ncol = idem ? COL_COUNT : COLS_PLAIN;
	PGresult *res = NULL;

	for (i = 0; i < COL_COUNT; i++)
		col[i] = (struct pgarray)PGARRAY_INIT;
	snprintf(ttl, sizeof(ttl), "%ld", rows[0].idem_ttl);
	params[COL_COUNT] = ttl;
	limit_params(rows[0].rate_default, lim, &params[idem ? COL_COUNT + 1 :
	    COLS_PLAIN]);
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
	int rows;

	if ((st = db_count(db, &end, params, &rows, why)) != OTAS_OK)
		return st;
	if (rows == 0) {
		*why = "no such session (purged?)";
		return OTAS_ERR_TOKEN;
	}
	*why = "session ended";
	return OTAS_OK;
}
