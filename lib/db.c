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
#include <pthread.h>
#include <stddef.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "db.h"
#include "log.h"

enum stmt { STMT_LOOKUP, STMT_CREATE, STMT_SESSION, STMT_COUNT };

static const char *const stmt_name[STMT_COUNT] = {
	"otas_lookup_keys", "otas_create_session", "otas_session_exists"
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
	 * Arrays of session id, key id, hashed_key as verified, meta: the
	 * sessions in flight, written with one statement and one commit.  Each
	 * row's key is re-checked here, so a revocation takes effect on the
	 * very next request, and a row whose key fails is simply not inserted
	 * (not returned) while the others are.
	 */
	"WITH i AS ("
	"  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[])"
	"  AS i(sid, kid, hk, meta)"
	"), k AS ("
	"  SELECT i.sid, i.meta, k.id, k.agent_id FROM i"
	"  JOIN agent_key k ON k.id = i.kid AND k.hashed_key = i.hk"
	"  JOIN agent a ON a.id = k.agent_id"
	"  WHERE k.active AND k.revoked_at IS NULL"
	"  AND (k.expires_at IS NULL OR k.expires_at > now()) AND a.is_active"
	"), touched AS ("
	"  UPDATE agent_key t SET last_used_at = now()"
	"  WHERE t.id IN (SELECT id FROM k) AND (t.last_used_at IS NULL"
	"  OR t.last_used_at < now() - interval '1 minute')"
	")"
	" INSERT INTO agent_session (id, agent_id, agent_key_id, created_at,"
	" meta)"
	" SELECT k.sid, k.agent_id, k.id, now(), k.meta::jsonb FROM k"
	" RETURNING id::text, agent_id::text",

	/* otas-authz's database mode: $1 session id, $2 agent id. */
	("SELECT 1 FROM agent_session s JOIN agent a ON a.id = s.agent_id"
	" WHERE s.id = $1::uuid AND s.agent_id = $2::uuid AND a.is_active"),
};

static const int stmt_nparams[STMT_COUNT] = { 1, 4, 2 };

struct db {
	pthread_mutex_t	 lock;		/* one statement at a time */
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
	pthread_mutex_init(&db->lock, NULL);
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
	pthread_mutex_destroy(&db->lock);
	free(db);
}

const char *
db_hot_sql(void)
{
	return stmt_sql[STMT_CREATE];
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
	/* No read before the first poll: the answer cannot be there yet. */
	for (;;) {
		long long left = deadline - now_ms();

		if (left <= 0) {
			db->err = "database answer past the deadline";
			return -1;
		}
		r = poll(&pfd, 1, (int)left);
		if (r == -1 && errno != EINTR)
			return -1;
		if (r > 0 && PQconsumeInput(db->conn) == 0)
			return -1;
		if (!PQisBusy(db->conn))
			return 0;
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
		if (*db->err == '\0')	/* else the deadline's message */
			db->err = "database connection lost";
		drop(db);
		if (fresh)
			break;
	}
	*st = OTAS_ERR_UNAVAILABLE;
	return NULL;
}

/* A column into a fixed array, cut to fit (ours are uuids and prefixes). */
static void
copy_field(char *dst, size_t cap, const PGresult *res, int row, int col)
{
	size_t n = (size_t)PQgetlength(res, row, col);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, PQgetvalue(res, row, col), n);
	dst[n] = '\0';
}

static int
flag(const PGresult *res, int row, int col)
{
	return PQgetvalue(res, row, col)[0] == 't';
}

enum otas_status
db_lookup_keys(struct db *db, const struct key_parts *k,
    struct db_key_row *rows, int *nrows, const char **why)
{
	char array[KEY_MAX_SPLITS * (KEY_PREFIX_MAX + 1) + 3];
	const char *params[1] = { array };
	enum otas_status st = OTAS_ERR_SERVER;
	PGresult *res;
	int i, n;

	*nrows = 0;
	*why = "prefix list too long";
	if (key_prefix_array(k, array, sizeof(array)) == -1)
		return OTAS_ERR_SERVER;
	pthread_mutex_lock(&db->lock);
	db->err = "";
	res = run(db, STMT_LOOKUP, params, &st);
	*why = db->err;
	pthread_mutex_unlock(&db->lock);
	if (res == NULL)
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
			*why = "out of memory";
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

/* Appends s as a double-quoted array element; -1 when out of memory. */
static int
array_add(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t need = *len + 2 * strlen(s) + 4;
	char *p;

	if (need > *cap) {
		size_t ncap = need * 2;

		if ((p = realloc(*buf, ncap)) == NULL)
			return -1;
		*buf = p;
		*cap = ncap;
	}
	p = *buf + *len;
	*p++ = *len == 0 ? '{' : ',';
	*p++ = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			*p++ = '\\';
		*p++ = *s;
	}
	*p++ = '"';
	*p = '\0';
	*len = (size_t)(p - *buf);
	return 0;
}

/* The text[] literal of one field of every row, malloc'd, or NULL. */
static char *
array_of(const struct db_session *rows, int n, size_t field)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;
	int i;

	for (i = 0; i < n; i++) {
		const char *v = *(const char *const *)
		    ((const char *)&rows[i] + field);

		if (array_add(&buf, &len, &cap, v) == -1) {
			free(buf);
			return NULL;
		}
	}
	if (buf == NULL || len + 2 > cap) {
		char *p = realloc(buf, len + 2);

		if (p == NULL) {
			free(buf);
			return NULL;
		}
		buf = p;
	}
	buf[len] = '}';
	buf[len + 1] = '\0';
	return buf;
}

/* Marks each row inserted (returned) or refused (its key not usable). */
static void
match_rows(PGresult *res, struct db_session *rows, int n)
{
	int i, r;

	for (i = 0; i < n; i++) {
		rows[i].st = OTAS_ERR_KEY;
		rows[i].why = "key no longer usable";
	}
	for (r = 0; r < PQntuples(res); r++) {
		const char *sid = PQgetvalue(res, r, 0);

		for (i = 0; i < n; i++) {
			if (strcmp(rows[i].session_id, sid) != 0)
				continue;
			rows[i].st = OTAS_OK;
			rows[i].why = NULL;
			copy_field(rows[i].agent_id, sizeof(rows[i].agent_id),
			    res, r, 1);
		}
	}
}

static void
set_all(struct db_session *rows, int n, enum otas_status st,
    const char *why)
{
	int i;

	for (i = 0; i < n; i++) {
		rows[i].st = st;
		rows[i].why = why;
	}
}

/* One statement for rows[0..n); the caller holds db->lock. */
static enum otas_status
create_locked(struct db *db, struct db_session *rows, int n)
{
	static const size_t fields[4] = {
		offsetof(struct db_session, session_id),
		offsetof(struct db_session, key_id),
		offsetof(struct db_session, hashed_key),
		offsetof(struct db_session, meta),
	};
	char *arrays[4] = { NULL, NULL, NULL, NULL };
	enum otas_status st = OTAS_ERR_SERVER;
	PGresult *res = NULL;
	int i;

	db->err = "";
	for (i = 0; i < 4; i++)
		if ((arrays[i] = array_of(rows, n, fields[i])) == NULL)
			break;
	if (i == 4)
		res = run(db, STMT_CREATE, (const char *const *)arrays, &st);
	for (i = 0; i < 4; i++)
		free(arrays[i]);
	if (res == NULL) {
		set_all(rows, n, st, *db->err != '\0' ? db->err :
		    "out of memory");
		return st;
	}
	match_rows(res, rows, n);
	PQclear(res);
	return OTAS_OK;
}

void
db_create_sessions(struct db *db, struct db_session *rows, int n)
{
	int i;

	pthread_mutex_lock(&db->lock);
	/*
	 * A row PostgreSQL refuses (a number jsonb cannot hold) fails the
	 * whole statement: then each row goes alone, so it fails only itself.
	 */
	if (create_locked(db, rows, n) == OTAS_ERR_META && n > 1)
		for (i = 0; i < n; i++)
			create_locked(db, &rows[i], 1);
	pthread_mutex_unlock(&db->lock);
}

enum otas_status
db_session_exists(struct db *db, const char *session_id, const char *agent_id,
    const char **why)
{
	const char *params[2] = { session_id, agent_id };
	enum otas_status st = OTAS_ERR_SERVER;
	PGresult *res;
	int rows;

	pthread_mutex_lock(&db->lock);
	db->err = "";
	res = run(db, STMT_SESSION, params, &st);
	*why = db->err;
	pthread_mutex_unlock(&db->lock);
	if (res == NULL)
		return st == OTAS_ERR_META ? OTAS_ERR_SERVER : st;
	rows = PQntuples(res);
	PQclear(res);
	if (rows == 0) {
		*why = "session unknown or agent inactive";
		return OTAS_ERR_TOKEN;
	}
	return OTAS_OK;
}
