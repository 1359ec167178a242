/*
 * db — libpq, asynchronously underneath so every wait has a deadline.
 *
 * Statements go with PQsendQueryPrepared on a direct connection (parsed and
 * planned once per connection, on first use) or PQsendQueryParams (the
 * unnamed statement) through PgBouncer.  A request that meets a dead
 * connection — PostgreSQL restarted, pooler recycled — is retried once on a
 * fresh one; a second failure, a timeout or a refused connection is 503 for
 * that request only, and the next request connects again.
 */
#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"

struct db {
	pthread_mutex_t	 lock;		/* one statement at a time */
	const struct otas_config *cfg;
	const char	*app_name;
	PGconn		*conn;
	const struct db_stmt *prepared[DB_MAX_STMTS];	/* on conn */
	int		 nprepared;
};

/* How one attempt on the connection in hand ended. */
enum attempt {
	ATTEMPT_ANSWERED,	/* rows, or the server's refusal of them */
	ATTEMPT_LOST,		/* no answer: the connection is dead */
	ATTEMPT_UNPREPARED,	/* the server refused to prepare it */
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
	return db;
}

static void
drop(struct db *db)
{
	PQfinish(db->conn);
	db->conn = NULL;
	db->nprepared = 0;
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

/* libpq's message, first line only: it never holds the password. */
static void
log_pq(const char *what, PGconn *conn)
{
	const char *m = conn != NULL ? PQerrorMessage(conn) : "out of memory";
	int n = (int)strcspn(m, "\n");

	log_msg("database: %s: %.*s", what, n > 200 ? 200 : n, m);
}

static int
db_connect(struct db *db, const char **why)
{
	const char *kw[6], *val[6];
	char timeout[16], options[64];
	int n = 0, w1, w2;

	w1 = snprintf(timeout, sizeof(timeout), "%ld",
	    db->cfg->connect_timeout);
	w2 = snprintf(options, sizeof(options), "-c statement_timeout=%ld",
	    db->cfg->statement_timeout_ms);
	if (w1 < 0 || (size_t)w1 >= sizeof(timeout) || w2 < 0 ||
	    (size_t)w2 >= sizeof(options)) {
		*why = "connection settings do not fit";
		return -1;
	}
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
		*why = "cannot connect to the database";
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
 * On the deadline *late gets its message; it is kept across the retry.
 */
static int
await(struct db *db, const char **late)
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
			*late = "database answer past the deadline";
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

/* The single result of what was sent, or NULL when none came. */
static PGresult *
collect(struct db *db, int sent, const char **late)
{
	PGresult *res, *extra;

	if (!sent || await(db, late) == -1)
		return NULL;
	res = PQgetResult(db->conn);
	while ((extra = PQgetResult(db->conn)) != NULL)
		PQclear(extra);
	return res;
}

static int
is_prepared(const struct db *db, const struct db_stmt *s)
{
	int i;

	for (i = 0; i < db->nprepared; i++)
		if (db->prepared[i] == s)
			return 1;
	return 0;
}

/* Prepares s on the connection in hand unless it already is. */
static enum attempt
prepare(struct db *db, const struct db_stmt *s, const char **late)
{
	PGresult *res;
	int ok;

	if (db->cfg->unnamed_statements || is_prepared(db, s))
		return ATTEMPT_ANSWERED;
	if (db->nprepared == DB_MAX_STMTS)
		return ATTEMPT_UNPREPARED;	/* raise DB_MAX_STMTS */
	res = collect(db, PQsendPrepare(db->conn, s->name, s->sql,
	    s->nparams, NULL), late);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (ok) {
		db->prepared[db->nprepared++] = s;
		return ATTEMPT_ANSWERED;
	}
	log_pq("prepare", db->conn);
	return res != NULL && PQstatus(db->conn) == CONNECTION_OK ?
	    ATTEMPT_UNPREPARED : ATTEMPT_LOST;
}

/* Sends s and collects its result into *res, or says why there is none. */
static enum attempt
try_once(struct db *db, const struct db_stmt *s, const char *const *params,
    PGresult **res, const char **late)
{
	enum attempt a;
	int sent;

	*res = NULL;
	if ((a = prepare(db, s, late)) != ATTEMPT_ANSWERED)
		return a;
	if (db->cfg->unnamed_statements)
		sent = PQsendQueryParams(db->conn, s->sql, s->nparams, NULL,
		    params, NULL, NULL, 0);
	else
		sent = PQsendQueryPrepared(db->conn, s->name, s->nparams,
		    params, NULL, NULL, 0);
	*res = collect(db, sent, late);
	if (*res == NULL || PQstatus(db->conn) != CONNECTION_OK)
		return ATTEMPT_LOST;
	return ATTEMPT_ANSWERED;
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

/* The server answered s with an error: its SQLSTATE says whose fault. */
static enum otas_status
refused(struct db *db, const struct db_stmt *s, PGresult *res,
    char sqlstate[DB_SQLSTATE_LEN + 1], const char **why)
{
	const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	enum otas_status st = sqlstate_transient(code) ?
	    OTAS_ERR_UNAVAILABLE : OTAS_ERR_SERVER;

	log_pq(s->name, db->conn);
	if (sqlstate != NULL) {
		sqlstate[0] = '\0';
		if (code != NULL && strlen(code) == DB_SQLSTATE_LEN)
			memcpy(sqlstate, code, DB_SQLSTATE_LEN + 1);
	}
	*why = "statement failed";
	PQclear(res);
	return st;
}

/* db_run with db->lock held. */
static enum otas_status
run_locked(struct db *db, const struct db_stmt *s, const char *const *params,
    PGresult **res, char sqlstate[DB_SQLSTATE_LEN + 1], const char **why)
{
	const char *late = NULL;
	int tries, fresh;

	for (tries = 0; tries < 2; tries++) {
		fresh = db->conn == NULL;
		if (fresh && db_connect(db, why) == -1)
			return OTAS_ERR_UNAVAILABLE;
		switch (try_once(db, s, params, res, &late)) {
		case ATTEMPT_ANSWERED:
			if (PQresultStatus(*res) == PGRES_TUPLES_OK ||
			    PQresultStatus(*res) == PGRES_COMMAND_OK)
				return OTAS_OK;
			return refused(db, s, *res, sqlstate, why);
		case ATTEMPT_UNPREPARED:
			*why = "cannot prepare statements";
			drop(db);
			return OTAS_ERR_UNAVAILABLE;
		case ATTEMPT_LOST:
			break;
		}
		PQclear(*res);
		*res = NULL;
		log_pq(s->name, db->conn);
		drop(db);
		if (fresh)
			break;
	}
	*why = late != NULL ? late : "database connection lost";
	return OTAS_ERR_UNAVAILABLE;
}

enum otas_status
db_run(struct db *db, const struct db_stmt *s, const char *const *params,
    PGresult **res, char sqlstate[DB_SQLSTATE_LEN + 1], const char **why)
{
	enum otas_status st;

	*res = NULL;
	if (sqlstate != NULL)
		sqlstate[0] = '\0';
	pthread_mutex_lock(&db->lock);
	st = run_locked(db, s, params, res, sqlstate, why);
	pthread_mutex_unlock(&db->lock);
	if (st != OTAS_OK)
		*res = NULL;
	return st;
}
