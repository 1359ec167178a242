/*
 * db — libpq, asynchronously underneath so every wait has a deadline.
 *
 * Connections are made with PQconnectStartParams/PQconnectPoll and every
 * answer is awaited with poll(), all against the one deadline of the call:
 * libpq's blocking calls would wait as long as the server stays silent.
 * Statements go with PQsendQueryPrepared on a direct connection (parsed and
 * planned once per connection, on first use) or PQsendQueryParams (the
 * unnamed statement) through PgBouncer.  A request that meets a dead
 * connection — PostgreSQL restarted, pooler recycled, a failover — is
 * retried once on a fresh one if the deadline leaves time; a second
 * failure, the deadline or a refused connection is 503 for that request
 * only, and the next request connects again.
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
	const char	*url;		/* NULL: libpq's PG* defaults */
	PGconn		*conn;
	const struct db_stmt *prepared[DB_MAX_STMTS];	/* on conn */
	int		 nprepared;
};

/* One db_run: its deadline, and the message once the deadline passed. */
struct call {
	long long	 deadline;	/* CLOCK_MONOTONIC, ms */
	const char	*late;
};

/* How one attempt on the connection in hand ended. */
enum attempt {
	ATTEMPT_ANSWERED,	/* rows, or the server's refusal of them */
	ATTEMPT_LOST,		/* no answer: the connection is dead */
	ATTEMPT_UNPREPARED,	/* the server refused to prepare it */
};

struct db *
db_new_at(const struct otas_config *cfg, const char *url,
    const char *app_name)
{
	struct db *db;

	if ((db = calloc(1, sizeof(*db))) == NULL)
		return NULL;
	pthread_mutex_init(&db->lock, NULL);
	db->cfg = cfg;
	db->url = url;
	db->app_name = app_name;
	return db;
}

struct db *
db_new(const struct otas_config *cfg, const char *app_name)
{
	return db_new_at(cfg, cfg->database_url, app_name);
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

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Waits until fd is ready for events or the deadline passes: 1 ready, 0
 * deadline, -1 error.  A signal (SIGUSR2 from serve.c) only shortens one
 * poll: the loop goes on to the same deadline.
 */
static int
wait_fd(int fd, short events, long long deadline)
{
	struct pollfd pfd;
	long long left;
	int r;

	if (fd < 0)
		return -1;
	pfd.fd = fd;
	pfd.events = events;
	for (;;) {
		if ((left = deadline - now_ms()) <= 0)
			return 0;
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 1;
		if (r == -1 && errno != EINTR)
			return -1;
	}
}

/* The connection parameters; options[] and timeout[] are the caller's. */
static int
conn_params(const struct db *db, const char *kw[6], const char *val[6],
    char timeout[16], char options[64])
{
	int n = 0, w1, w2;

	w1 = snprintf(timeout, 16, "%ld", db->cfg->connect_timeout);
	w2 = snprintf(options, 64, "-c statement_timeout=%ld",
	    db->cfg->statement_timeout_ms);
	if (w1 < 0 || w1 >= 16 || w2 < 0 || w2 >= 64)
		return -1;
	if (db->url != NULL) {
		kw[n] = "dbname";
		val[n++] = db->url;
	}
	/* Only for libpq's own blocking paths; ours is the deadline below. */
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
	return 0;
}

/*
 * Connects and authenticates by the deadline, or by connect_timeout if
 * that comes first.  With a list of hosts libpq tries the next one when a
 * host refuses or fails target_session_attrs; a host that stays silent
 * uses up the time.
 */
static int
db_connect(struct db *db, long long deadline, const char **why)
{
	const char *kw[6], *val[6];
	char timeout[16], options[64];
	long long limit = now_ms() + db->cfg->connect_timeout * 1000;
	PostgresPollingStatusType ps = PGRES_POLLING_WRITING;
	int r;

	if (conn_params(db, kw, val, timeout, options) == -1) {
		*why = "connection settings do not fit";
		return -1;
	}
	if (limit > deadline)
		limit = deadline;
	db->conn = PQconnectStartParams(kw, val, 1);
	if (db->conn == NULL || PQstatus(db->conn) == CONNECTION_BAD)
		ps = PGRES_POLLING_FAILED;
	while (ps != PGRES_POLLING_OK && ps != PGRES_POLLING_FAILED) {
		r = wait_fd(PQsocket(db->conn), ps == PGRES_POLLING_READING ?
		    POLLIN : POLLOUT, limit);
		if (r <= 0) {
			log_msg("database: connect: %s", r == 0 ?
			    "no answer before the deadline" : strerror(errno));
			*why = r == 0 ? "database connection past the deadline" :
			    "cannot connect to the database";
			drop(db);
			return -1;
		}
		ps = PQconnectPoll(db->conn);
	}
	/*
	 * Non-blocking from here on: a statement larger than the socket's
	 * buffer (group commit of big metas) would otherwise block in send
	 * towards a server that reads nothing, and so would PQfinish.
	 */
	if (ps == PGRES_POLLING_FAILED || PQsetnonblocking(db->conn, 1) == -1) {
		log_pq("connect", db->conn);
		*why = "cannot connect to the database";
		drop(db);
		return -1;
	}
	return 0;
}

/*
 * Sends what libpq still holds and waits for the whole answer until the
 * deadline, so a server that reads or answers nothing at all (or a pooler
 * with no free server) still costs the client a bounded wait.  On the
 * deadline call->late gets its message.
 */
static int
await(struct db *db, struct call *call)
{
	int r, unsent;

	/* No read before the first poll: the answer cannot be there yet. */
	for (;;) {
		if ((unsent = PQflush(db->conn)) == -1)
			return -1;
		if (!unsent && !PQisBusy(db->conn))
			return 0;
		r = wait_fd(PQsocket(db->conn), unsent ? POLLIN | POLLOUT :
		    POLLIN, call->deadline);
		if (r == 0) {
			call->late = "database answer past the deadline";
			return -1;
		}
		if (r == -1 || PQconsumeInput(db->conn) == 0)
			return -1;
	}
}

/* The single result of what was sent, or NULL when none came. */
static PGresult *
collect(struct db *db, int sent, struct call *call)
{
	PGresult *res, *extra;

	if (!sent || await(db, call) == -1)
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
prepare(struct db *db, const struct db_stmt *s, struct call *call)
{
	PGresult *res;
	int ok;

	if (db->cfg->unnamed_statements || is_prepared(db, s))
		return ATTEMPT_ANSWERED;
	if (db->nprepared == DB_MAX_STMTS)
		return ATTEMPT_UNPREPARED;	/* raise DB_MAX_STMTS */
	res = collect(db, PQsendPrepare(db->conn, s->name, s->sql,
	    s->nparams, NULL), call);
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
    PGresult **res, struct call *call)
{
	enum attempt a;
	int sent;

	*res = NULL;
	if ((a = prepare(db, s, call)) != ATTEMPT_ANSWERED)
		return a;
	if (db->cfg->unnamed_statements)
		sent = PQsendQueryParams(db->conn, s->sql, s->nparams, NULL,
		    params, NULL, NULL, 0);
	else
		sent = PQsendQueryPrepared(db->conn, s->name, s->nparams,
		    params, NULL, NULL, 0);
	*res = collect(db, sent, call);
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

/*
 * db_run with db->lock held.  The retry after a lost answer sends the
 * statement's after_loss form when it has one.  It is made on a fresh
 * connection even when the lost one was fresh too (PgBouncer drops the
 * first client after PostgreSQL came back while its own login is under
 * way), but only while the deadline leaves time: a refused connection or
 * the deadline ends the call.
 */
static enum otas_status
run_locked(struct db *db, const struct db_stmt *s, const char *const *params,
    PGresult **res, char sqlstate[DB_SQLSTATE_LEN + 1], const char **why)
{
	struct call call = { now_ms() + db->cfg->db_deadline_ms, NULL };
	int tries;

	for (tries = 0; tries < 2; tries++) {
		if (db->conn == NULL && db_connect(db, call.deadline, why) == -1)
			return OTAS_ERR_UNAVAILABLE;
		switch (try_once(db, s, params, res, &call)) {
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
		if (call.late != NULL)
			break;
		if (s->after_loss != NULL)
			s = s->after_loss;
	}
	*why = call.late != NULL ? call.late : "database connection lost";
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
