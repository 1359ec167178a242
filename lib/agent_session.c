/*
 * agent_session — group commit's statement takes one array per column, so
 * its SQL is fixed whatever the number of rows.  A row the statement does
 * not return had a key that is no longer usable; a class 22 SQLSTATE
 * (data exception) can only come from a meta jsonb refuses — a number out
 * of its range — and then each row is tried alone, so it fails only itself.
 *
 * The program chooses each session id before the insert, so when the
 * answer to a committed insert is lost with its connection, the retry can
 * be exact: it inserts what is missing and returns, too, the rows that are
 * already there with the same id and key — their requests get their 200,
 * none gets a second row.  Only the retry pays for that look-up.
 */
#include <string.h>

#include "agent_session.h"
#include "pgarray.h"

/*
 * Arrays of session id, key id, hashed_key as verified, meta: the sessions
 * in flight, written with one statement and one commit.  Each row's key is
 * re-checked here, so a revocation takes effect on the very next request,
 * and a row whose key fails is simply not inserted (not returned) while the
 * others are.
 */
#define ROWS_TO_INSERT \
	"WITH i AS (" \
	"  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[])" \
	"  AS i(sid, kid, hk, meta)" \
	"), k AS (" \
	"  SELECT i.sid, i.meta, k.id, k.agent_id FROM i" \
	"  JOIN agent_key k ON k.id = i.kid AND k.hashed_key = i.hk" \
	"  JOIN agent a ON a.id = k.agent_id" \
	"  WHERE k.active AND k.revoked_at IS NULL" \
	"  AND (k.expires_at IS NULL OR k.expires_at > now()) AND a.is_active" \
	"), touched AS (" \
	"  UPDATE agent_key t SET last_used_at = now()" \
	"  WHERE t.id IN (SELECT id FROM k) AND (t.last_used_at IS NULL" \
	"  OR t.last_used_at < now() - interval '1 minute')" \
	")"
#define INSERT_ROWS \
	" INSERT INTO agent_session (id, agent_id, agent_key_id, created_at," \
	" meta)" \
	" SELECT k.sid, k.agent_id, k.id, now(), k.meta::jsonb FROM k"

/*
 * The retry's form: rows already committed (the same id for the same key)
 * are returned, not inserted again.  The second SELECT sees the table as
 * it was before this statement, so a row is returned by one branch only.
 */
static const struct db_stmt insert_exact = {
	"otas_create_session_exact",
	ROWS_TO_INSERT
	", ins AS (" INSERT_ROWS " ON CONFLICT (id) DO NOTHING RETURNING id)"
	" SELECT id::text FROM ins"
	" UNION ALL SELECT s.id::text FROM agent_session s"
	" JOIN i ON s.id = i.sid AND s.agent_key_id = i.kid",
	4, NULL
};

static const struct db_stmt insert = {
	"otas_create_session",
	ROWS_TO_INSERT INSERT_ROWS " RETURNING id::text",
	4, &insert_exact
};

enum column { COL_SESSION, COL_KEY, COL_HASH, COL_META, COL_COUNT };

const char *
agent_session_sql(void)
{
	return insert.sql;
}

/* One element per row in each column's array; -1 when out of memory. */
static int
add_row(struct pgarray col[COL_COUNT], const struct agent_session_row *r)
{
	return pgarray_add(&col[COL_SESSION], r->session_id,
	    strlen(r->session_id)) == -1 ||
	    pgarray_add(&col[COL_KEY], r->key_id, strlen(r->key_id)) == -1 ||
	    pgarray_add(&col[COL_HASH], r->hashed_key,
	    strlen(r->hashed_key)) == -1 ||
	    pgarray_add(&col[COL_META], r->meta, strlen(r->meta)) == -1 ?
	    -1 : 0;
}

/* The four array parameters of rows[0..n); -1 when out of memory. */
static int
columns(struct pgarray col[COL_COUNT], const char *params[COL_COUNT],
    const struct agent_session_row *rows, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (add_row(col, &rows[i]) == -1)
			return -1;
	for (i = 0; i < COL_COUNT; i++)
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

/* Marks each row inserted (returned) or refused (its key not usable). */
static void
match_rows(PGresult *res, struct agent_session_row *rows, int n)
{
	int i, r;

	set_all(rows, n, OTAS_ERR_KEY, "key no longer usable");
	for (r = 0; r < PQntuples(res); r++) {
		const char *sid = PQgetvalue(res, r, 0);

		for (i = 0; i < n; i++) {
			if (strcmp(rows[i].session_id, sid) != 0)
				continue;
			rows[i].st = OTAS_OK;
			rows[i].why = NULL;
		}
	}
}

/* One statement for rows[0..n); returns how the statement itself ended. */
static enum otas_status
insert_rows(struct db *db, struct agent_session_row *rows, int n)
{
	struct pgarray col[COL_COUNT] = {
		PGARRAY_INIT, PGARRAY_INIT, PGARRAY_INIT, PGARRAY_INIT
	};
	const char *params[COL_COUNT], *why = "out of memory";
	char sqlstate[DB_SQLSTATE_LEN + 1] = "";
	enum otas_status st = OTAS_ERR_SERVER;
	PGresult *res = NULL;
	int i;

	if (columns(col, params, rows, n) == 0)
		st = db_run(db, &insert, params, &res, sqlstate, &why);
	for (i = 0; i < COL_COUNT; i++)
		pgarray_free(&col[i]);
	if (st == OTAS_ERR_SERVER && strncmp(sqlstate, "22", 2) == 0) {
		st = OTAS_ERR_META;
		why = "meta refused by jsonb";
	}
	if (st != OTAS_OK) {
		set_all(rows, n, st, why);
		return st;
	}
	match_rows(res, rows, n);
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
