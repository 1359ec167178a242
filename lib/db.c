/*
 * db — libpq, asynchronously underneath so every wait has a deadline.
 *
 * Statements go with PQsendQueryPrepared on a direct connection (parsed and
 * planned once per connection) or PQsendQueryParams (the unnamed statement)
 * through PgBouncer.  A request that meets a dead connection — PostgreSQL
 * restarted, pooler recycled — is retried once on a fresh one; a second
 * failure, a timeout or a refused connection is 503 for that request only,
 * and the next request connects again.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "db.h"
#include "log.h"

enum stmt { STMT_LOOKUP, STMT_CREATE, STMT_COUNT };

static const char *const stmt_name[STMT_COUNT] = {
	"otas_lookup_keys", "otas_create_session"
};

static const char *const stmt_sql[STMT_COUNT] = {
	/* $1: text[] of candidate prefixes. */
	"SELECT k.id::text, k.agent_id::text, k.prefix, k.hashed_key,"
	" k.active, k.revoked_at IS NOT NULL,"
	" k.expires_at IS NOT NULL AND k.expires_at <= now(), a.is_active"
	" FROM agent_key k JOIN agent a ON a.id = k.agent_id"
	" WHERE k.prefix = ANY ($1::text[])"
	" ORDER BY k.created_at DESC LIMIT 16",

	/*
	 * $1 session id, $2 key id, $3 hashed_key as verified, $4 meta.  The
	 * key's state is re-checked in the statement that inserts, so a
	 * revocation takes effect on the very next request.
	 */
	"WITH k AS ("
	"  SELECT k.id, k.agent_id FROM agent_key k"
	"  JOIN agent a ON a.id = k.agent_id"
	"  WHERE k.id = $2::uuid AND k.hashed_key = $3 AND k.active"
	"  AND k.revoked_at IS NULL"
	"  AND (k.expires_at IS NULL OR k.expires_at > now()) AND a.is_active"
	"), touched AS ("
	"  UPDATE agent_key t SET last_used_at = now() FROM k"
	"  WHERE t.id = k.id AND (t.last_used_at IS NULL"
	"  OR t.last_used_at < now() - interval '1 minute')"
	")"
	" INSERT INTO agent_session (id, agent_id, agent_key_id, created_at,"
	" meta)"
	" SELECT $1::uuid, k.agent_id, k.id, now(), $4::jsonb FROM k"
	" RETURNING agent_id::text",
};

static const int stmt_nparams[STMT_COUNT] = { 1, 4 };

struct db {
	const struct otas_config *cfg;
	const char	*app_name;
	PGconn		*conn;
	const char	*err;
};

struct db *
db_new(const struct otas_config *cfg, const char *app_name)
{
	struct db *db;

	if ((db = calloc(1, sizeof(*db))) == NULL)
		return NULL;
	db->cfg = cfg;
	db->app_name = app_name;
	db->err = "";
	return db;
}

static void
drop(struct db *db)
{
	PQfinish(db->conn);
	db->conn = NULL;
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	drop(db);
	free(db);
}

const char *
db_hot_sql(void)
{
	return stmt_sql[STMT_CREATE];
}

const char *
db_last_error(const struct db *db)
{
	return db->err;
}

/* libpq's message, first line only: it never holds the password. */
static void
log_pq(const char *what, PGconn *conn)
{
	const char *m = conn != NULL ? PQerrorMessage(conn) : "out of memory";
	int n = (int)strcspn(m, "\n");

	log_msg("database: %s: %.*s", what, n > 200 ? 200 : n, m);
}

static int
prepare_all(struct db *db)
{
	PGresult *res;
	int i, ok;

	for (i = 0; i < STMT_COUNT; i++) {
		res = PQprepare(db->conn, stmt_name[i], stmt_sql[i],
		    stmt_nparams[i], NULL);
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		PQclear(res);
		if (!ok) {
			log_pq("prepare", db->conn);
			return -1;
		}
	}
	return 0;
}

static int
db_connect(struct db *db)
{
	const char *kw[6], *val[6];
	char timeout[16], options[64];
	int n = 0;

	snprintf(timeout, sizeof(timeout), "%ld", db->cfg->connect_timeout);
	snprintf(options, sizeof(options), "-c statement_timeout=%ld",
	    db->cfg->statement_timeout_ms);
	if (db->cfg->database_url != NULL) {
		kw[n] = "dbname";
		val[n++] = db->cfg->database_url;
	}
	kw[n] = "connect_timeout";
	val[n++] = timeout;
	kw[n] = "fallback_application_name";
	val[n++] = db->app_name;
	/* PgBouncer refuses startup options it was not told to ignore. */
	if (!db->cfg->unnamed_statements) {
		kw[n] = "options";
		val[n++] = options;
	}
	kw[n] = NULL;
	val[n] = NULL;

	db->conn = PQconnectdbParams(kw, val, 1);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		log_pq("connect", db->conn);
		db->err = "cannot connect to the database";
		drop(db);
		return -1;
	}
	if (!db->cfg->unnamed_statements && prepare_all(db) == -1) {
		db->err = "cannot prepare statements";
		drop(db);
		return -1;
	}
	return 0;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Waits for the whole answer until the deadline: the server's own
 * statement_timeout plus a second, so a server that answers nothing at all
 * (or a pooler with no free server) still costs the client a bounded wait.
 */
static int
await(struct db *db)
{
	long long deadline = now_ms() + db->cfg->statement_timeout_ms + 1000;
	struct pollfd pfd;
	int r;

	pfd.fd = PQsocket(db->conn);
	pfd.events = POLLIN;
	for (;;) {
		if (PQconsumeInput(db->conn) == 0)
			return -1;
		if (!PQisBusy(db->conn))
			return 0;
		long long left = deadline - now_ms();
		if (left <= 0) {
			db->err = "database answer past the deadline";
			return -1;
		}
		r = poll(&pfd, 1, (int)left);
		if (r == -1 && errno != EINTR)
			return -1;
	}
}

/* Sends one statement and collects its single result, or NULL. */
static PGresult *
run_once(struct db *db, enum stmt s, const char *const *params)
{
	PGresult *res, *extra;
	int sent;

	if (db->cfg->unnamed_statements)
		sent = PQsendQueryParams(db->conn, stmt_sql[s],
		    stmt_nparams[s], NULL, params, NULL, NULL, 0);
	else
		sent = PQsendQueryPrepared(db->conn, stmt_name[s],
		    stmt_nparams[s], params, NULL, NULL, 0);
	if (!sent || await(db) == -1)
		return NULL;
	res = PQgetResult(db->conn);
	while ((extra = PQgetResult(db->conn)) != NULL)
		PQclear(extra);
	return res;
}

/* SQLSTATEs that mean "try later", not "you sent something wrong". */
static int
sqlstate_transient(const char *st)
{
	return st != NULL && (strncmp(st, "08", 2) == 0 ||
	    strncmp(st, "53", 2) == 0 || strncmp(st, "57", 2) == 0 ||
	    strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 ||
	    strcmp(st, "55P03") == 0);
}

/*
 * Runs s on a live connection, retrying once on a fresh one when the
 * connection in hand turns out dead.  Returns a result the caller clears,
 * or NULL with *st set.
 */
static PGresult *
run(struct db *db, enum stmt s, const char *const *params,
    enum otas_status *st)
{
	PGresult *res;
	int attempt, fresh;

	for (attempt = 0; attempt < 2; attempt++) {
		fresh = db->conn == NULL;
		if (fresh && db_connect(db) == -1)
			break;
		res = run_once(db, s, params);
		if (res != NULL && (PQresultStatus(res) == PGRES_TUPLES_OK ||
		    PQresultStatus(res) == PGRES_COMMAND_OK))
			return res;
		if (res != NULL && PQstatus(db->conn) == CONNECTION_OK) {
			const char *code = PQresultErrorField(res,
			    PG_DIAG_SQLSTATE);

			*st = sqlstate_transient(code) ? OTAS_ERR_UNAVAILABLE :
			    code != NULL && strncmp(code, "22", 2) == 0 ?
			    OTAS_ERR_META : OTAS_ERR_SERVER;
			log_pq(stmt_name[s], db->conn);
			db->err = *st == OTAS_ERR_META ?
			    "meta refused by jsonb" : "statement failed";
			PQclear(res);
			return NULL;
		}
		/* No answer, or the connection died under it. */
		PQclear(res);
		log_pq(stmt_name[s], db->conn);
		if (*db->err == '\0' || fresh)
			db->err = "database connection lost";
		drop(db);
		if (fresh)
			break;
	}
	*st = OTAS_ERR_UNAVAILABLE;
	return NULL;
}

static void
copy_field(char *dst, size_t cap, const PGresult *res, int row, int col)
{
	snprintf(dst, cap, "%s", PQgetvalue(res, row, col));
}

static int
flag(const PGresult *res, int row, int col)
{
	return PQgetvalue(res, row, col)[0] == 't';
}

enum otas_status
db_lookup_keys(struct db *db, const struct key_parts *k,
    struct db_key_row *rows, int *nrows)
{
	char array[KEY_MAX_SPLITS * (KEY_PREFIX_MAX + 1) + 3];
	const char *params[1] = { array };
	enum otas_status st = OTAS_ERR_SERVER;
	PGresult *res;
	int i, n;

	*nrows = 0;
	db->err = "";
	if (key_prefix_array(k, array, sizeof(array)) == -1)
		return OTAS_ERR_SERVER;
	if ((res = run(db, STMT_LOOKUP, params, &st)) == NULL)
		return st;
	n = PQntuples(res);
	if (n > DB_MAX_KEY_ROWS)
		n = DB_MAX_KEY_ROWS;
	for (i = 0; i < n; i++) {
		struct db_key_row *r = &rows[i];

		copy_field(r->id, sizeof(r->id), res, i, 0);
		copy_field(r->agent_id, sizeof(r->agent_id), res, i, 1);
		copy_field(r->prefix, sizeof(r->prefix), res, i, 2);
		if ((r->hashed_key = strdup(PQgetvalue(res, i, 3))) == NULL) {
			db_key_rows_free(rows, i);
			PQclear(res);
			return OTAS_ERR_SERVER;
		}
		r->active = flag(res, i, 4);
		r->revoked = flag(res, i, 5);
		r->expired = flag(res, i, 6);
		r->agent_active = flag(res, i, 7);
	}
	*nrows = n;
	PQclear(res);
	return OTAS_OK;
}

void
db_key_rows_free(struct db_key_row *rows, int nrows)
{
	int i;

	for (i = 0; i < nrows; i++) {
		free(rows[i].hashed_key);
		rows[i].hashed_key = NULL;
	}
}

enum otas_status
db_create_session(struct db *db, const char *session_id, const char *key_id,
    const char *hashed_key, const char *meta, char agent_id[UUID_STR_LEN + 1])
{
	const char *params[4] = { session_id, key_id, hashed_key, meta };
	enum otas_status st = OTAS_ERR_SERVER;
	PGresult *res;

	db->err = "";
	if ((res = run(db, STMT_CREATE, params, &st)) == NULL)
		return st;
	if (PQntuples(res) != 1) {
		PQclear(res);
		db->err = "key no longer usable";
		return OTAS_ERR_KEY;
	}
	copy_field(agent_id, UUID_STR_LEN + 1, res, 0, 0);
	PQclear(res);
	return OTAS_OK;
}
