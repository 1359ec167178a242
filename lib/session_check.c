/*
 * session_check — one parameterised SELECT through libpq's asynchronous
 * calls, so that a database that stops answering costs a request a bounded
 * wait and the next request tries afresh.  The statement goes unnamed
 * (PQsendQueryParams) whatever the pooler: it is one short query every
 * OTAS_AUTHZ_CACHE_SECONDS per session, not worth per-connection state.
 *
 * The cache is a fixed table searched linearly: 256 slots of two uuids are
 * a few kilobytes, and a scan of them costs less than one system call.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "log.h"
#include "session_check.h"
#include "uuid.h"

#define SESSION_SQL \
	"SELECT 1 FROM agent_session s JOIN agent a ON a.id = s.agent_id" \
	" WHERE s.id = $1::uuid AND s.agent_id = $2::uuid AND a.is_active"

struct slot {
	char		session_id[UUID_STR_LEN + 1];
	char		agent_id[UUID_STR_LEN + 1];
	long long	until;		/* 0: empty */
};

struct session_check {
	const struct otas_config *cfg;
	const char	*app_name;
	PGconn		*conn;
	struct slot	 cache[SESSION_CACHE_SLOTS];
};

struct session_check *
session_check_new(const struct otas_config *cfg, const char *app_name)
{
	struct session_check *sc;

	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		return NULL;
	sc->cfg = cfg;
	sc->app_name = app_name;
	return sc;
}

static void
sc_drop(struct session_check *sc)
{
	PQfinish(sc->conn);
	sc->conn = NULL;
}

void
session_check_free(struct session_check *sc)
{
	if (sc == NULL)
		return;
	sc_drop(sc);
	free(sc);
}

/* --- the cache --------------------------------------------------------- */

static int
sc_cached(const struct session_check *sc, const char *sid, const char *aid,
    long long now)
{
	const struct slot *s;
	size_t i;

	for (i = 0; i < SESSION_CACHE_SLOTS; i++) {
		s = &sc->cache[i];
		if (s->until > now && strcmp(s->session_id, sid) == 0 &&
		    strcmp(s->agent_id, aid) == 0)
			return 1;
	}
	return 0;
}

/* Takes an expired slot, else the one closest to expiring. */
static void
sc_remember(struct session_check *sc, const char *sid, const char *aid,
    long long now)
{
	struct slot *s, *victim = &sc->cache[0];
	size_t i;

	if (sc->cfg->authz_cache_seconds <= 0)
		return;
	for (i = 0; i < SESSION_CACHE_SLOTS; i++) {
		s = &sc->cache[i];
		if (s->until <= now) {
			victim = s;
			break;
		}
		if (s->until < victim->until)
			victim = s;
	}
	snprintf(victim->session_id, sizeof(victim->session_id), "%s", sid);
	snprintf(victim->agent_id, sizeof(victim->agent_id), "%s", aid);
	victim->until = now + sc->cfg->authz_cache_seconds;
}

/* --- the database ------------------------------------------------------ */

/* libpq's message, first line only: it never holds the password. */
static void
sc_log(const char *what, PGconn *conn)
{
	const char *m = conn != NULL ? PQerrorMessage(conn) : "out of memory";
	int n = (int)strcspn(m, "\n");

	log_msg("database: %s: %.*s", what, n > 200 ? 200 : n, m);
}

static int
sc_connect(struct session_check *sc)
{
	const char *kw[5], *val[5];
	char timeout[24], options[64];
	int n = 0;

	snprintf(timeout, sizeof(timeout), "%ld", sc->cfg->connect_timeout);
	snprintf(options, sizeof(options), "-c statement_timeout=%ld",
	    sc->cfg->statement_timeout_ms);
	if (sc->cfg->database_url != NULL) {
		kw[n] = "dbname";
		val[n++] = sc->cfg->database_url;
	}
	kw[n] = "connect_timeout";
	val[n++] = timeout;
	kw[n] = "fallback_application_name";
	val[n++] = sc->app_name;
	/* PgBouncer refuses startup options it was not told to ignore. */
	if (!sc->cfg->unnamed_statements) {
		kw[n] = "options";
		val[n++] = options;
	}
	kw[n] = NULL;
	val[n] = NULL;

	sc->conn = PQconnectdbParams(kw, val, 1);
	if (sc->conn == NULL || PQstatus(sc->conn) != CONNECTION_OK) {
		sc_log("connect", sc->conn);
		sc_drop(sc);
		return -1;
	}
	return 0;
}

static long long
sc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The server's statement_timeout plus a second, for a silent server. */
static int
sc_await(struct session_check *sc)
{
	long long deadline = sc_now_ms() + sc->cfg->statement_timeout_ms + 1000;
	long long left;
	struct pollfd pfd;

	pfd.fd = PQsocket(sc->conn);
	pfd.events = POLLIN;
	for (;;) {
		if (PQconsumeInput(sc->conn) == 0)
			return -1;
		if (!PQisBusy(sc->conn))
			return 0;
		if ((left = deadline - sc_now_ms()) <= 0)
			return -1;
		if (poll(&pfd, 1, (int)left) == -1 && errno != EINTR)
			return -1;
	}
}

static PGresult *
sc_run_once(struct session_check *sc, const char *const params[2])
{
	PGresult *res, *extra;

	if (!PQsendQueryParams(sc->conn, SESSION_SQL, 2, NULL, params, NULL,
	    NULL, 0) || sc_await(sc) == -1)
		return NULL;
	res = PQgetResult(sc->conn);
	while ((extra = PQgetResult(sc->conn)) != NULL)
		PQclear(extra);
	return res;
}

/*
 * The number of rows (0 or 1), or -1 with *st set.  A connection found dead
 * is replaced and the query sent once more; a fresh connection that fails
 * is the answer.
 */
static int
sc_query(struct session_check *sc, const char *sid, const char *aid,
    enum otas_status *st, const char **why)
{
	const char *params[2] = { sid, aid };
	PGresult *res;
	int attempt, fresh, rows;

	*st = OTAS_ERR_UNAVAILABLE;
	*why = "cannot connect to the database";
	for (attempt = 0; attempt < 2; attempt++) {
		fresh = sc->conn == NULL;
		if (fresh && sc_connect(sc) == -1)
			return -1;
		res = sc_run_once(sc, params);
		if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK) {
			rows = PQntuples(res);
			PQclear(res);
			return rows;
		}
		if (res != NULL && PQstatus(sc->conn) == CONNECTION_OK) {
			const char *code = PQresultErrorField(res,
			    PG_DIAG_SQLSTATE);

			sc_log("session check", sc->conn);
			PQclear(res);
			/* Timeouts and overload are "later"; the rest a bug. */
			if (code != NULL && (strncmp(code, "57", 2) == 0 ||
			    strncmp(code, "53", 2) == 0 ||
			    strncmp(code, "08", 2) == 0)) {
				*why = "database busy or timed out";
				return -1;
			}
			*st = OTAS_ERR_SERVER;
			*why = "session check statement failed";
			return -1;
		}
		PQclear(res);
		sc_log("session check", sc->conn);
		*why = "database connection lost";
		sc_drop(sc);
		if (fresh)
			return -1;
	}
	return -1;
}

enum otas_status
session_check(struct session_check *sc, const char *session_id,
    const char *agent_id, long long now, const char **why)
{
	enum otas_status st;
	int rows;

	if (!uuid_valid(session_id, strlen(session_id)) ||
	    !uuid_valid(agent_id, strlen(agent_id))) {
		*why = "malformed ids";
		return OTAS_ERR_TOKEN;
	}
	if (sc_cached(sc, session_id, agent_id, now)) {
		*why = "ok (cached)";
		return OTAS_OK;
	}
	if ((rows = sc_query(sc, session_id, agent_id, &st, why)) == -1)
		return st;
	if (rows == 0) {
		*why = "session unknown or agent inactive";
		return OTAS_ERR_TOKEN;
	}
	sc_remember(sc, session_id, agent_id, now);
	*why = "ok";
	return OTAS_OK;
}
