/*
 * session_check — one statement and the cache in front of it.  The
 * connection is db.c's (bounded waits, one retry on a dead connection,
 * unnamed statements behind PgBouncer); any refusal of the statement is the
 * server's fault, since both ids were checked to be uuids before it runs.
 *
 * The cache is a fixed table searched linearly: 256 slots of two uuids are
 * a few kilobytes, and a scan of them costs less than one system call.
 *
 * The cache is trusted only while a second connection, to OTAS_DATABASE_URL,
 * LISTENs on otas_revoke (sql/005's triggers NOTIFY there when a session
 * ends or an agent is disabled or deleted, in that change's transaction).
 * Before every look into the cache what arrived on it is read without
 * waiting and the entries it names are forgotten.  PostgreSQL does not
 * keep a notification for a listener that was not connected, so the whole
 * cache goes whenever that connection is lost or made anew, and while
 * there is none nothing is remembered: every request asks the database.
 *
 * PostgreSQL sends a notification a moment after the change's COMMIT has
 * returned to whoever made it, so a hit is only trusted after a round trip
 * on the listening connection, whose answer comes after every notification
 * committed before it.
 *
 * Standbys (OTAS_AUTHZ_DATABASE_URL) send no notifications and may not
 * have replayed the change the primary announced: an id named by a
 * notification is asked of the primary for PENDING_SECONDS; when more ids
 * are pending than fit, or after the listening connection was made anew
 * (notifications may have been missed), every question goes to the
 * primary for that long.  A standby's answer stands in for the primary's
 * only while the primary cannot answer, and is then never remembered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "session_check.h"
#include "uuid.h"

/* The channel sql/005's triggers notify. */
#define CHANNEL		"otas_revoke"
/* How long a notified id is asked of the primary rather than a standby. */
#define PENDING_SECONDS	60
#define PENDING_SLOTS	256

static const struct db_stmt exists = {
	"otas_session_exists",
	/* $1 session id, $2 agent id. */
	"SELECT 1 FROM agent_session s JOIN agent a ON a.id = s.agent_id"
	" WHERE s.id = $1::uuid AND s.agent_id = $2::uuid AND a.is_active"
	" AND s.ended_at IS NULL",
	2, NULL
};

struct slot {
	char		session_id[UUID_STR_LEN + 1];
	char		agent_id[UUID_STR_LEN + 1];
	long long	until;		/* 0: empty */
};

/* An id a notification named: 's' session or 'a' agent. */
struct pending {
	char		kind;
	char		id[UUID_STR_LEN + 1];
	long long	until;		/* 0: empty */
};

struct session_check {
	const struct otas_config *cfg;
	struct db	*db;		/* OTAS_DATABASE_URL */
	struct db	*reader;	/* OTAS_AUTHZ_DATABASE_URL, or NULL */
	struct db	*listener;	/* LISTEN on the primary, or NULL */
	int		 listening;	/* the cache may be trusted */
	long long	 retry_at;	/* no new listening connection before */
	long long	 now;		/* of the request in hand */
	long long	 primary_until;	/* every question to the primary */
	struct slot	 cache[SESSION_CACHE_SLOTS];
	struct pending	 pending[PENDING_SLOTS];
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
	/*
	 * A transaction pooler hands a LISTEN to whichever client comes
	 * next: there no notification can be relied on, so no cache.
	 */
	if (cfg->authz_cache_seconds > 0 && !cfg->unnamed_statements &&
	    (sc->listener = db_new(cfg, app_name)) == NULL) {
		session_check_free(sc);
		return NULL;
	}
	if (cfg->authz_cache_seconds > 0 && cfg->unnamed_statements)
		log_msg("OTAS_DB_UNNAMED_STATEMENTS: no LISTEN through a "
		    "pooler, so no cache: every request asks the database");
	return sc;
}

void
session_check_free(struct session_check *sc)
{
	if (sc == NULL)
		return;
	db_free(sc->db);
	db_free(sc->reader);
	db_free(sc->listener);
	free(sc);
}

/* OTAS_OK when the row is there, OTAS_ERR_TOKEN when not. */
static enum otas_status
sc_ask(struct db *db, const char *sid, const char *aid, const char **why)
{
	const char *params[2] = { sid, aid };
	enum otas_status st;
	int rows;

	if ((st = db_count(db, &exists, params, &rows, why)) != OTAS_OK)
		return st;
	if (rows == 0) {
		*why = "session unknown or ended, or agent inactive";
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

/* Forgets the entries of a session ('s') or of an agent ('a'). */
static void
sc_forget(struct session_check *sc, char kind, const char *id)
{
	struct slot *s;
	size_t i;

	for (i = 0; i < SESSION_CACHE_SLOTS; i++) {
		s = &sc->cache[i];
		if (strcmp(kind == 's' ? s->session_id : s->agent_id, id) == 0)
			s->until = 0;
	}
}

static void
sc_forget_all(struct session_check *sc)
{
	memset(sc->cache, 0, sizeof(sc->cache));
}

/* --- what the standbys may not know yet -------------------------------- */

static void
sc_pend(struct session_check *sc, char kind, const char *id)
{
	struct pending *p;
	size_t i;

	if (sc->reader == NULL)
		return;
	for (i = 0; i < PENDING_SLOTS; i++) {
		p = &sc->pending[i];
		if (p->until <= sc->now || (p->kind == kind &&
		    strcmp(p->id, id) == 0)) {
			p->kind = kind;
			snprintf(p->id, sizeof(p->id), "%s", id);
			p->until = sc->now + PENDING_SECONDS;
			return;
		}
	}
	sc->primary_until = sc->now + PENDING_SECONDS;	/* full */
}

/* Whether the question must go to the primary, and not be remembered. */
static int
sc_pending(const struct session_check *sc, const char *sid, const char *aid)
{
	const struct pending *p;
	size_t i;

	for (i = 0; i < PENDING_SLOTS; i++) {
		p = &sc->pending[i];
		if (p->until > sc->now && strcmp(p->id, p->kind == 's' ? sid :
		    aid) == 0)
			return 1;
	}
	return 0;
}

/* --- the listening connection ------------------------------------------ */

/* One notification: "s:<session id>", "a:<agent id>", else all of it. */
static void
sc_notified(void *arg, const char *payload)
{
	struct session_check *sc = arg;
	const char *id = payload + 2;

	if ((payload[0] == 's' || payload[0] == 'a') && payload[1] == ':' &&
	    uuid_valid(id, strlen(id))) {
		sc_forget(sc, payload[0], id);
		sc_pend(sc, payload[0], id);
		return;
	}
	sc_forget_all(sc);
	if (sc->reader != NULL)
		sc->primary_until = sc->now + PENDING_SECONDS;
}

/*
 * Reads what the listening connection brought (with sync: after a round
 * trip on it); makes one when there is none (at most once a second while
 * the database refuses).  Sets sc->listening: whether the cache may be
 * used for this request.
 */
static void
sc_listen(struct session_check *sc, int sync)
{
	enum db_listen r;
	int was = sc->listening;

	if (sc->listener == NULL) {
		sc->listening = 0;
		return;
	}
	if (!sc->listening && sc->now < sc->retry_at)
		return;
	r = db_listen(sc->listener, CHANNEL, sync, sc_notified, sc);
	if (r == DB_LISTEN_SAME)
		return;
	/*
	 * Lost or new: what was sent in between is gone for good.  Made
	 * anew, the primary answers again and may have announced changes a
	 * standby has not replayed: it answers everything for a while.
	 * Lost, it may be down: the standbys answer, uncached.
	 */
	sc_forget_all(sc);
	if (sc->reader != NULL && r == DB_LISTEN_NEW)
		sc->primary_until = sc->now + PENDING_SECONDS;
	sc->listening = r == DB_LISTEN_NEW;
	/* A connection just lost is made again by the next request. */
	if (r == DB_LISTEN_DOWN)
		sc->retry_at = was ? sc->now : sc->now + 1;
	if (r == DB_LISTEN_NEW)
		log_msg("listening for ended sessions (%s)", CHANNEL);
}

/* --- the question ------------------------------------------------------ */

/*
 * A standby first, and the primary for a session the standby does not know
 * (yet); the primary alone for what a notification named lately, unless it
 * cannot answer.  *trusted: the answer may be remembered (not a standby's
 * that stands in for the primary on an id it may not have replayed yet).
 */
static enum otas_status
sc_lookup(struct session_check *sc, const char *sid, const char *aid,
    int *trusted, const char **why)
{
	enum otas_status st = OTAS_ERR_TOKEN;
	int primary = sc->reader == NULL || sc->now < sc->primary_until ||
	    sc_pending(sc, sid, aid);

	*trusted = 1;
	if (primary) {
		if ((st = sc_ask(sc->db, sid, aid, why)) == OTAS_OK)
			*why = "ok";
		if (st != OTAS_ERR_UNAVAILABLE || sc->reader == NULL)
			return st;
		*trusted = 0;
		if ((st = sc_ask(sc->reader, sid, aid, why)) == OTAS_OK)
			*why = "ok (standby, primary unreachable)";
		return st;
	}
	if ((st = sc_ask(sc->reader, sid, aid, why)) == OTAS_OK) {
		*why = "ok";
		/*
		 * A standby that has not replayed an end yet says yes: a
		 * notification of it still on its way shows after a round
		 * trip, and then the primary answers.
		 */
		if (sc->listening && (sc_listen(sc, 1), sc->listening) &&
		    (sc->now < sc->primary_until || sc_pending(sc, sid, aid)) &&
		    (st = sc_ask(sc->db, sid, aid, why)) == OTAS_OK)
			*why = "ok (primary)";
	} else if (st == OTAS_ERR_TOKEN &&
	    (st = sc_ask(sc->db, sid, aid, why)) == OTAS_OK)
		*why = "ok (only on the primary yet)";
	return st;
}

enum otas_status
session_check(struct session_check *sc, const char *session_id,
    const char *agent_id, long long now, const char **why)
{
	enum otas_status st;
	int trusted;

	if (!uuid_valid(session_id, strlen(session_id)) ||
	    !uuid_valid(agent_id, strlen(agent_id))) {
		*why = "malformed ids";
		return OTAS_ERR_TOKEN;
	}
	sc->now = now;
	sc_listen(sc, 0);
	/*
	 * A hit is confirmed by a round trip on the listening connection,
	 * which brings any notification still on its way (the change may
	 * have returned to its maker a moment ago): the cache saves the
	 * database the query, not the round trip.
	 */
	if (sc->listening && sc_cached(sc, session_id, agent_id, now) &&
	    (sc_listen(sc, 1), sc->listening &&
	    sc_cached(sc, session_id, agent_id, now))) {
		*why = "ok (cached)";
		return OTAS_OK;
	}
	st = sc_lookup(sc, session_id, agent_id, &trusted, why);
	if (st == OTAS_OK && sc->listening && trusted)
		sc_remember(sc, session_id, agent_id, now);
	return st;
}
