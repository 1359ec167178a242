/*
 * session_check — one statement and the cache in front of it.  The
 * connection is db.c's (bounded waits, one retry on a dead connection,
 * unnamed statements behind PgBouncer); any refusal of the statement is the
 * server's fault, since both ids were checked to be uuids before it runs.
 *
 * The cache is a fixed table searched linearly: 256 slots of two uuids are
 * a few kilobytes, and a scan of them costs less than one system call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "session_check.h"
#include "uuid.h"

static const struct db_stmt exists = {
	"otas_session_exists",
	/* $1 session id, $2 agent id. */
	"SELECT 1 FROM agent_session s JOIN agent a ON a.id = s.agent_id"
	" WHERE s.id = $1::uuid AND s.agent_id = $2::uuid AND a.is_active",
	2, NULL
};

struct slot {
	char		session_id[UUID_STR_LEN + 1];
	char		agent_id[UUID_STR_LEN + 1];
	long long	until;		/* 0: empty */
};

struct session_check {
	const struct otas_config *cfg;
	struct db	*db;		/* OTAS_DATABASE_URL */
	struct db	*reader;	/* OTAS_AUTHZ_DATABASE_URL, or NULL */
	struct slot	 cache[SESSION_CACHE_SLOTS];
};

struct session_check *
session_check_new(const struct otas_config *cfg, const char *app_name)
{
	struct session_check *sc;

	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		return NULL;
	sc->cfg = cfg;
	if ((sc->db = db_new(cfg, app_name)) == NULL ||
	    (cfg->authz_database_url != NULL && (sc->reader = db_new_at(cfg,
	    cfg->authz_database_url, app_name)) == NULL)) {
		session_check_free(sc);
		return NULL;
	}
	return sc;
}

void
session_check_free(struct session_check *sc)
{
	if (sc == NULL)
		return;
	db_free(sc->db);
	db_free(sc->reader);
	free(sc);
}

/* OTAS_OK when the row is there, OTAS_ERR_TOKEN when not. */
static enum otas_status
sc_ask(struct db *db, const char *sid, const char *aid, const char **why)
{
	const char *params[2] = { sid, aid };
	enum otas_status st;
	PGresult *res;
	int rows;

	if ((st = db_run(db, &exists, params, &res, NULL, why)) != OTAS_OK)
		return st;
	rows = PQntuples(res);
	PQclear(res);
	if (rows == 0) {
		*why = "session unknown or agent inactive";
		return OTAS_ERR_TOKEN;
	}
	return OTAS_OK;
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

enum otas_status
session_check(struct session_check *sc, const char *session_id,
    const char *agent_id, long long now, const char **why)
{
	enum otas_status st;

	if (!uuid_valid(session_id, strlen(session_id)) ||
	    !uuid_valid(agent_id, strlen(agent_id))) {
		*why = "malformed ids";
		return OTAS_ERR_TOKEN;
	}
	if (sc_cached(sc, session_id, agent_id, now)) {
		*why = "ok (cached)";
		return OTAS_OK;
	}
	/* No reader, or one that does not know it (yet): the primary. */
	st = OTAS_ERR_TOKEN;
	if (sc->reader != NULL &&
	    (st = sc_ask(sc->reader, session_id, agent_id, why)) == OTAS_OK)
		*why = "ok";
	else if (st == OTAS_ERR_TOKEN &&
	    (st = sc_ask(sc->db, session_id, agent_id, why)) == OTAS_OK)
		*why = sc->reader != NULL ? "ok (only on the primary yet)" : "ok";
	if (st == OTAS_OK)
		sc_remember(sc, session_id, agent_id, now);
	return st;
}
