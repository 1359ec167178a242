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
 * only, and the next request connects again.  A URL naming several hosts
 * is tried one host at a time, each with a share of the deadline, since
 * libpq's own walk of the list lets a silent host use up all of it.  A
 * prefer-standby connection that is on a primary (no standby answered, or
 * its standby was promoted under it: the server says so in in_hot_standby)
 * is given up after a while, so the reads return to a standby once one
 * follows the primary again.
 *
 * Errors travel as status.h says: a status and a static *why for the
 * request's line, logged by the caller.  The lines this file logs itself
 * carry what no static *why can: libpq's own message, which host of a list
 * failed and how, the step (connect, prepare, the statement's name), and
 * the listening connection's trouble, which no request reports.
 */
#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "pghosts.h"

/*
 * Parameters of one host's connection: the URL's (libpq knows about 40
 * keywords) and the few every connection gets.
 */
#define DB_MAX_PARAMS	72

/*
 * How long a prefer-standby connection that had to settle for a primary
 * is kept before the standbys are tried again: one reconnect this often
 * while there is no standby, nothing when there is one.
 */
#define DB_STANDBY_RETRY_MS	10000

struct db {
	pthread_mutex_t	 lock;		/* one statement at a time */
	const struct otas_config *cfg;
	const char	*app_name;
	const char	*url;		/* NULL: libpq's PG* defaults */
	struct pghosts	 hosts;		/* .n 0: the URL names one host */
	int		 first;		/* host tried first: the last to answer */
	int		 prefer_standby; /* a host list, prefer-standby */
	long long	 standby_retry;	/* ms; 0: conn is not known on a primary */
	PGconn		*conn;
	int		 connected;	/* ever: later connects are reconnects */
	const struct db_stmt *prepared[DB_MAX_STMTS];	/* on conn */
	int		 nprepared;
};

/* One db_run: its deadline, and the message once the deadline passed. */
struct call {
	long long	 deadline;	/* CLOCK_MONOTONIC, ms */
	const char	*late;
	const char	*what;		/* the step a lost attempt was in */
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
	if (pghosts_parse(&db->hosts, url) == -1) {
		free(db);
		return NULL;
	}
	pthread_mutex_init(&db->lock, NULL);
	db->prefer_standby = db->hosts.n > 0 &&
	    pghosts_attrs(&db->hosts) != NULL &&
	    strcmp(pghosts_attrs(&db->hosts), "prefer-standby") == 0;
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
	db->standby_retry = 0;
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	drop(db);
	pghosts_free(&db->hosts);
	pthread_mutex_destroy(&db->lock);
	free(db);
}

/*
 * libpq's message, first line only: it never holds the password.  A wait
 * cut by the deadline (late) leaves libpq nothing to say: the deadline is
 * the reason then, so no line ends empty.
 */
static void
log_pq(const char *what, PGconn *conn, const char *late)
{
	const char *m = conn != NULL ? PQerrorMessage(conn) : "out of memory";
	int n = (int)strcspn(m, "\n");

	if (late != NULL || n == 0)
		log_msg("database: %s: %s", what, late != NULL ? late :
		    "no answer and no message from libpq");
	else
		log_msg("database: %s: %.*s", what, n > 200 ? 200 : n, m);
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
		if ((left = deadline - clock_mono_msec()) <= 0)
			return 0;
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 1;
		if (r == -1 && errno != EINTR)
			return -1;
	}
}

/*
 * Ends kw/val, whose first n entries say where to connect, with what every
 * connection gets; options[] and timeout[] are the caller's.  The entries
 * come after the URL's, so they win over the same ones in it.
 */
static int
common_params(const struct db *db, const char **kw, const char **val,
    int n, int cap, char timeout[16], char options[64])
{
	int w1, w2;

	w1 = snprintf(timeout, 16, "%ld", db->cfg->connect_timeout);
	w2 = snprintf(options, 64, "-c statement_timeout=%ld",
	    db->cfg->statement_timeout_ms);
	if (w1 < 0 || w1 >= 16 || w2 < 0 || w2 >= 64 || n < 0 || n + 4 > cap)
		return -1;
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

/* How one connection attempt ended. */
enum opened {
	OPENED,		/* connected, authenticated, non-blocking */
	FAILED,		/* refused, or libpq gave up (its message logged) */
	SILENT,		/* no answer by the limit */
};

/*
 * Connects with kw/val and authenticates by limit.  what starts the log
 * line ("connect", or which host), late says what passing limit means.
 */
static enum opened
open_conn(struct db *db, const char *const *kw, const char *const *val,
    int expand, long long limit, const char *what, const char *late,
    const char **why)
{
	PostgresPollingStatusType ps = PGRES_POLLING_WRITING;
	int r;

	db->conn = PQconnectStartParams(kw, val, expand);
	if (db->conn == NULL || PQstatus(db->conn) == CONNECTION_BAD)
		ps = PGRES_POLLING_FAILED;
	while (ps != PGRES_POLLING_OK && ps != PGRES_POLLING_FAILED) {
		r = wait_fd(PQsocket(db->conn), ps == PGRES_POLLING_READING ?
		    POLLIN : POLLOUT, limit);
		if (r <= 0) {
			log_msg("database: %s: %s", what, r == 0 ? late :
			    strerror(errno));
			*why = r == 0 ? "database connection past the deadline" :
			    "cannot connect to the database";
			drop(db);
			return SILENT;
		}
		ps = PQconnectPoll(db->conn);
	}
	/*
	 * Non-blocking from here on: a statement larger than the socket's
	 * buffer (group commit of big metas) would otherwise block in send
	 * towards a server that reads nothing, and so would PQfinish.
	 */
	if (ps == PGRES_POLLING_FAILED || PQsetnonblocking(db->conn, 1) == -1) {
		log_pq(what, db->conn, NULL);
		*why = "cannot connect to the database";
		drop(db);
		return FAILED;
	}
	return OPENED;
}

/*
 * The URL names one host (or none): libpq is given it whole, and the
 * connection has until the deadline, or connect_timeout if that comes
 * first.  A host list libpq could not match also comes here: libpq's
 * message says what is wrong with it.
 */
static int
connect_url(struct db *db, long long deadline, const char **why)
{
	const char *kw[6], *val[6];
	char timeout[16], options[64];
	long long limit = clock_mono_msec() + db->cfg->connect_timeout * 1000;
	int n = 0;

	if (db->url != NULL) {
		kw[n] = "dbname";
		val[n++] = db->url;
	}
	if (common_params(db, kw, val, n, 6, timeout, options) == -1) {
		*why = "connection settings do not fit";
		return -1;
	}
	if (limit > deadline)
		limit = deadline;
	return open_conn(db, kw, val, 1, limit, "connect",
	    "no answer before the deadline", why) == OPENED ? 0 : -1;
}

/*
 * One host i of the list, given limit, as libpq would try it (attrs, when
 * not NULL, for the URL's target_session_attrs).
 */
static enum opened
connect_host(struct db *db, int i, const char *attrs, long long limit,
    const char **why)
{
	const char *kw[DB_MAX_PARAMS], *val[DB_MAX_PARAMS];
	char timeout[16], options[64], what[160], name[128];
	int n, w;

	pghosts_name(&db->hosts, i, name, sizeof(name));
	w = snprintf(what, sizeof(what), "connect to %s (host %d of %d)", name,
	    i + 1, db->hosts.n);
	n = pghosts_params(&db->hosts, i, attrs, kw, val, DB_MAX_PARAMS);
	if (w < 0 || (size_t)w >= sizeof(what) ||
	    common_params(db, kw, val, n, DB_MAX_PARAMS, timeout, options)) {
		log_msg("database: host %d: connection settings do not fit",
		    i + 1);
		*why = "connection settings do not fit";
		return FAILED;
	}
	return open_conn(db, kw, val, 0, limit, what,
	    "no answer within its share of the deadline", why);
}

/*
 * One pass over the hosts in *worth (a bit per host), from the one that
 * answered last.  Each has an equal share of what is left of the deadline
 * among the tries that may still follow (later: those of a further pass),
 * at most connect_timeout as libpq gives each host; a host that stays
 * silent leaves *worth.  0 connected, -1 not.
 */
static int
connect_pass(struct db *db, const char *attrs, long long deadline,
    unsigned *worth, int later, const char **why)
{
	long long share, cap = db->cfg->connect_timeout * 1000LL;
	int k, i, tries = __builtin_popcount(*worth);
	enum opened o;

	for (k = 0; k < db->hosts.n; k++) {
		i = (db->first + k) % db->hosts.n;
		if (!(*worth & 1u << i))
			continue;
		if ((share = deadline - clock_mono_msec()) <= 0) {
			*why = "database connection past the deadline";
			return -1;
		}
		share /= tries + later;
		tries--;
		if ((o = connect_host(db, i, attrs, clock_mono_msec() +
		    (share < cap ? share : cap), why)) == OPENED) {
			db->first = i;
			return 0;
		}
		if (o == SILENT)
			*worth &= ~(1u << i);
	}
	return -1;
}

/*
 * A URL naming several hosts: libpq would give a host that accepts and
 * never answers the whole deadline, so each is tried alone (see
 * connect_pass).  prefer-standby is libpq's two passes, made here: a
 * standby among all hosts, then any host that answered the first.
 */
static int
connect_hosts(struct db *db, long long deadline, const char **why)
{
	const char *attrs = pghosts_attrs(&db->hosts);
	unsigned worth = (1u << db->hosts.n) - 1;

	if (attrs == NULL || strcmp(attrs, "prefer-standby") != 0)
		return connect_pass(db, NULL, deadline, &worth, 0, why);
	if (connect_pass(db, "standby", deadline, &worth, db->hosts.n,
	    why) == 0)
		return 0;
	return connect_pass(db, "any", deadline, &worth, 0, why);
}

static int
db_connect(struct db *db, long long deadline, const char **why)
{
	int rc;

	if (db->hosts.n == 0)
		rc = connect_url(db, deadline, why);
	else
		rc = connect_hosts(db, deadline, why);
	if (rc == 0 && db->connected++ > 0)
		metrics_count(METRICS_DB_RECONNECTS);
	return rc;
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

/* A call's deadline, from now. */
static struct call
call_start(const struct db *db)
{
	struct call c;

	c.deadline = clock_mono_msec() + db->cfg->db_deadline_ms;
	c.late = NULL;
	c.what = NULL;
	return c;
}

/* Prepares s on the connection in hand unless it already is. */
static enum attempt
prepare(struct db *db, const struct db_stmt *s, struct call *call)
{
	PGresult *res;
	int ok, answered;

	if (db->cfg->unnamed_statements || is_prepared(db, s))
		return ATTEMPT_ANSWERED;
	if (db->nprepared == DB_MAX_STMTS)
		return ATTEMPT_UNPREPARED;	/* raise DB_MAX_STMTS */
	res = collect(db, PQsendPrepare(db->conn, s->name, s->sql,
	    s->nparams, NULL), call);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	answered = res != NULL;
	PQclear(res);
	if (ok) {
		db->prepared[db->nprepared++] = s;
		return ATTEMPT_ANSWERED;
	}
	if (answered && PQstatus(db->conn) == CONNECTION_OK) {
		log_pq("prepare", db->conn, call->late);
		return ATTEMPT_UNPREPARED;
	}
	call->what = "prepare";		/* run_locked logs the loss */
	return ATTEMPT_LOST;
}

/* Sends s and collects its result into *res, or says why there is none. */
static enum attempt
try_once(struct db *db, const struct db_stmt *s, const char *const *params,
    PGresult **res, struct call *call)
{
	enum attempt a;
	int sent;

	*res = NULL;
	call->what = s->name;
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

	log_pq(s->name, db->conn, NULL);
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
 * A prefer-standby connection found on a primary is dropped once it has
 * been for DB_STANDBY_RETRY_MS, so the next connection looks for a
 * standby again.  in_hot_standby is reported by the server (PostgreSQL
 * 14 and later) at login and again when it is promoted; an older server
 * reports nothing and its connection is kept.
 */
static void
standby_again(struct db *db)
{
	const char *hot;

	if (!db->prefer_standby || db->conn == NULL)
		return;
	if (db->standby_retry == 0) {
		hot = PQparameterStatus(db->conn, "in_hot_standby");
		if (hot != NULL && strcmp(hot, "off") == 0)
			db->standby_retry = clock_mono_msec() + DB_STANDBY_RETRY_MS;
	} else if (clock_mono_msec() >= db->standby_retry) {
		drop(db);
	}
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
	struct call call = call_start(db);
	int tries;

	standby_again(db);
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
		log_pq(call.what, db->conn, call.late);
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
	metrics_count(METRICS_DB_STATEMENTS);
	if (st != OTAS_OK) {
		metrics_count(METRICS_DB_ERRORS);
		*res = NULL;
	}
	return st;
}

enum otas_status
db_count(struct db *db, const struct db_stmt *s, const char *const *params,
    int *rows, const char **why)
{
	enum otas_status st;
	PGresult *res;

	if ((st = db_run(db, s, params, &res, NULL, why)) != OTAS_OK)
		return st;
	*rows = PQntuples(res);
	PQclear(res);
	return OTAS_OK;
}

/* Hands over every notification libpq has read, in the order sent. */
static void
drain(struct db *db, void (*notified)(void *, const char *), void *arg)
{
	PGnotify *n;

	while ((n = PQnotifies(db->conn)) != NULL) {
		notified(arg, n->extra);
		PQfreemem(n);
	}
}

/* Connects and LISTENs; 0, or -1 with nothing left open. */
static int
listen_open(struct db *db, const char *channel)
{
	struct call call = call_start(db);
	const char *why = "";
	char sql[96];
	PGresult *res;
	int n, ok;

	n = snprintf(sql, sizeof(sql), "LISTEN %s", channel);
	if (n < 0 || (size_t)n >= sizeof(sql))
		return -1;
	if (db_connect(db, call.deadline, &why) == -1)
		return -1;
	res = collect(db, PQsendQuery(db->conn, sql), &call);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok) {
		if (call.late != NULL)
			log_msg("database: LISTEN: %s", call.late);
		else
			log_pq("LISTEN", db->conn, NULL);
		drop(db);
		return -1;
	}
	return 0;
}

/*
 * An empty query and its answer.  The server sends every notification
 * committed before it read the query ahead of its answer, so once the
 * answer is here nothing committed earlier is still on its way.
 */
static int
listen_sync(struct db *db)
{
	struct call call = call_start(db);
	PGresult *res;
	int ok;

	res = collect(db, PQsendQuery(db->conn, ""), &call);
	ok = PQresultStatus(res) == PGRES_EMPTY_QUERY;
	PQclear(res);
	if (!ok && call.late != NULL)
		log_msg("database: listening connection: %s", call.late);
	return ok ? 0 : -1;
}

enum db_listen
db_listen(struct db *db, const char *channel, int sync,
    void (*notified)(void *, const char *), void *arg)
{
	enum db_listen r = DB_LISTEN_SAME;

	pthread_mutex_lock(&db->lock);
	if (db->conn != NULL && (PQconsumeInput(db->conn) == 0 ||
	    PQstatus(db->conn) != CONNECTION_OK ||
	    (sync && listen_sync(db) == -1))) {
		log_pq("listening connection lost", db->conn, NULL);
		drain(db, notified, arg);	/* what came before the end */
		drop(db);
		r = DB_LISTEN_DOWN;
	} else if (db->conn == NULL)
		r = listen_open(db, channel) == 0 ? DB_LISTEN_NEW :
		    DB_LISTEN_DOWN;
	if (db->conn != NULL)
		drain(db, notified, arg);
	pthread_mutex_unlock(&db->lock);
	return r;
}
