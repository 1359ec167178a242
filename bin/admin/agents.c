/*
 * agents — the commands about agents and their sessions: agent create
 * (the agent and its first key, made by keys.c), list, enable and
 * disable, session list and end.  Session meta is printed as
 * PostgreSQL stores it (jsonb text), never re-parsed, so big numbers keep
 * every digit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "rate.h"

/* agent list --json: one object per agent, in the query's column order. */
static const struct jcolumn agent_columns[] = {
	{ "agent_id", J_TEXT }, { "name", J_TEXT }, { "provider", J_TEXT },
	{ "description", J_TEXT }, { "project_id", J_TEXT },
	{ "is_active", J_BOOL }, { "created_at", J_TEXT },
	{ "updated_at", J_TEXT }, { "active_keys", J_INT },
	{ "limit_quota", J_INT }, { "limit_window_seconds", J_INT },
	{ "limit_burst", J_INT },
};

/* session list --json. */
static const struct jcolumn session_columns[] = {
	{ "session_id", J_TEXT }, { "key_id", J_TEXT },
	{ "key_prefix", J_TEXT }, { "created_at", J_TEXT }, { "meta", J_RAW },
};

/* An agent's own limit (columns 9..11) as agent limit takes it. */
static void
limit_text(const PGresult *res, int row, char *buf, size_t cap)
{
	struct rate r;

	if (PQgetisnull(res, row, 9) ||
	    decimal_long(PQgetvalue(res, row, 9), 0, RATE_QUOTA_MAX,
	    &r.quota) == -1 ||
	    decimal_long(PQgetvalue(res, row, 10), 1, 1000000000L,
	    &r.window) == -1 ||
	    decimal_long(PQgetvalue(res, row, 11), 1, 1000000000L,
	    &r.burst) == -1 || rate_format(&r, buf, cap) == -1)
		snprintf(buf, cap, "default");
}

/* agent create's options: the agent's, then its first key's. */
struct newagent {
	char		 id[UUID_STR_LEN + 1];
	const char	*name, *desc, *prov, *proj;
	struct keyopts	 key;
};

static const char *
opt_or_empty(const struct args *a, const char *name)
{
	const char	*v = opt(a, name);

	return v != NULL ? v : "";
}

static int
agent_options(const struct ctx *c, const struct args *a, struct newagent *n)
{
	int	 rc;

	memset(n, 0, sizeof(*n));
	if ((n->name = opt(a, "name")) == NULL)
		return fail(EXIT_USAGE, "agent create: --name is required");
	n->desc = opt_or_empty(a, "description");
	n->prov = opt_or_empty(a, "provider");
	n->proj = opt(a, "project-id");
	n->key.name = opt_or_empty(a, "key-name");
	if ((rc = check_text("--name", n->name, 1)) != 0 ||
	    (rc = check_text("--provider", n->prov, 0)) != 0 ||
	    (rc = check_text("--key-name", n->key.name, 0)) != 0 ||
	    (n->proj != NULL && (rc = check_uuid("--project-id",
	    n->proj)) != 0) || (rc = key_options(c, a, &n->key)) != 0)
		return rc;
	if (uuid7_make(n->id) == -1)
		return fail(EXIT_FAIL, "no random bytes available");
	return 0;
}

/* The agent's row and its first key's, in one transaction. */
static int
agent_insert(PGconn *conn, const struct newagent *n, struct newkey *k)
{
	const char	*p[5] = { n->id, n->name, n->desc, n->prov, n->proj };
	PGresult	*res;

	if (admin_exec(conn, "BEGIN") == -1 || (res = admin_query(conn,
	    "INSERT INTO agent (id, name, description, provider, project_id,"
	    " created_at, updated_at, created_by_id, is_active)"
	    " VALUES ($1, $2, $3, $4, $5, now(), now(), NULL, true)",
	    5, p)) == NULL)
		return EXIT_FAIL;
	PQclear(res);
	if (key_insert(conn, n->id, &n->key, k) != 0 ||
	    admin_exec(conn, "COMMIT") == -1)
		return EXIT_FAIL;
	return 0;
}

int
cmd_agent_create(struct ctx *c, struct args *a)
{
	struct newagent	 n;
	struct newkey	 k;
	struct out	 o;
	PGconn		*conn;
	int		 rc;

	memset(&k, 0, sizeof(k));
	if ((rc = agent_options(c, a, &n)) != 0)
		return rc;
	if ((conn = admin_connect(&c->cfg)) == NULL)
		return EXIT_FAIL;
	if ((rc = agent_insert(conn, &n, &k)) == 0) {
		out_start(&o, c);
		out_str(&o, "agent_id", n.id);
		out_str(&o, "name", n.name);
		out_line(&o, "agent:     %s", n.name);
		key_print(&o, n.id, n.key.name, &k);
		out_end(&o);
	}
	newkey_wipe(&k);
	PQfinish(conn);
	return rc;
}

#define AGENT_ROW	"%-36s  %-8s  %-20s  %4s  %-16s  %s"

int
cmd_agent_list(struct ctx *c, struct args *a)
{
	struct out	 o;
	PGconn		*conn;
	PGresult	*res;
	char		 limit[RATE_TEXT_MAX];
	int		 i;

	if ((conn = admin_connect(&c->cfg)) == NULL)
		return EXIT_FAIL;
	res = admin_query(conn, "SELECT a.id, a.name, a.provider, a.description,"
	    " a.project_id, a.is_active, " ISO("a.created_at") ","
	    " " ISO("a.updated_at") ", (SELECT count(*) FROM agent_key k"
	    " WHERE k.agent_id = a.id AND k.active AND k.revoked_at IS NULL"
	    " AND (k.expires_at IS NULL OR k.expires_at > now())),"
	    " l.quota, l.window_seconds, l.burst"
	    " FROM agent a LEFT JOIN otas_rate_limit l ON l.agent_id = a.id"
	    " ORDER BY a.created_at, a.id", 0, NULL);
	PQfinish(conn);
	if (res == NULL)
		return EXIT_FAIL;
	out_start(&o, c);
	out_rows(&o, "agents", res, agent_columns, NCOLS(agent_columns));
	out_line(&o, AGENT_ROW, "ID", "STATE", "CREATED", "KEYS", "LIMIT",
	    "NAME");
	for (i = 0; i < PQntuples(res); i++) {
		limit_text(res, i, limit, sizeof(limit));
		out_line(&o, AGENT_ROW, PQgetvalue(res, i, 0),
		    strcmp(PQgetvalue(res, i, 5), "t") == 0 ? "active" :
		    "disabled", PQgetvalue(res, i, 6), PQgetvalue(res, i, 8),
		    limit, PQgetvalue(res, i, 1));
	}
	out_end(&o);
	PQclear(res);
	return EXIT_OK;
}

/*
 * In a transaction, the agent row locked: is_active set to want unless
 * it is so already (*changed says which).
 */
static int
agent_set(PGconn *conn, const char *agent, int want, int *changed)
{
	const char	*p[2] = { agent, want ? "true" : "false" };
	PGresult	*res;
	int		 active;

	if (admin_exec(conn, "BEGIN") == -1 ||
	    agent_find(conn, agent, 1, &active) != 0)
		return EXIT_FAIL;
	if ((*changed = active != want)) {
		if ((res = admin_query(conn, "UPDATE agent SET is_active ="
		    " $2::boolean, updated_at = now() WHERE id = $1", 2,
		    p)) == NULL)
			return EXIT_FAIL;
		PQclear(res);
	}
	return admin_exec(conn, "COMMIT") == -1 ? EXIT_FAIL : 0;
}

/*
 * agent enable and agent disable: one transaction that locks the agent row
 * and sets is_active.  Setting the state it already has succeeds and
 * changes nothing; "changed" says which happened.
 */
static int
agent_set_active(struct ctx *c, struct args *a, int want)
{
	const char	*agent = a->pos[0];
	struct out	 o;
	PGconn		*conn;
	int		 rc, changed;

	if ((rc = check_uuid("agent id", agent)) != 0)
		return rc;
	if ((conn = admin_connect(&c->cfg)) == NULL)
		return EXIT_FAIL;
	rc = agent_set(conn, agent, want, &changed);
	PQfinish(conn);
	if (rc != 0)
		return rc;
	out_start(&o, c);
	out_str(&o, "agent_id", agent);
	out_bool(&o, "is_active", want);
	out_bool(&o, "changed", changed);
	out_line(&o, "agent %s %s; its %s", agent, want ?
	    (changed ? "enabled" : "was already enabled") :
	    (changed ? "disabled" : "was already disabled"), want ?
	    "usable keys work again" : "keys no longer work");
	out_end(&o);
	return EXIT_OK;
}

int
cmd_agent_disable(struct ctx *c, struct args *a)
{
	return agent_set_active(c, a, 0);
}

int
cmd_agent_enable(struct ctx *c, struct args *a)
{
	return agent_set_active(c, a, 1);
}

#define SESSION_ROW	"%-36s  %-20s  %-12s  %s"

int
cmd_session_list(struct ctx *c, struct args *a)
{
	const char	*agent = a->pos[0], *lim = opt(a, "limit");
	const char	*p[2] = { agent, NULL };
	char		 lbuf[24];
	struct out	 o;
	PGresult	*res;
	long		 limit = DEFAULT_LIMIT;
	int		 i, rc;

	if ((rc = check_uuid("agent id", agent)) != 0)
		return rc;
	if (lim != NULL && decimal_long(lim, 1, MAX_LIMIT, &limit) == -1)
		return fail(EXIT_USAGE, "--limit must be a number from 1 to %ld",
		    MAX_LIMIT);
	rc = snprintf(lbuf, sizeof(lbuf), "%ld", limit);
	if (rc < 0 || (size_t)rc >= sizeof(lbuf))
		return fail(EXIT_FAIL, "internal: limit buffer");
	p[1] = lbuf;
	if ((res = agent_query(c, agent, "SELECT s.id, s.agent_key_id, k.prefix,"
	    " " ISO("s.created_at") ", s.meta::text FROM agent_session s"
	    " LEFT JOIN agent_key k ON k.id = s.agent_key_id"
	    " WHERE s.agent_id = $1 ORDER BY s.created_at DESC, s.id DESC"
	    " LIMIT $2::int", 2, p, &rc)) == NULL)
		return rc;
	out_start(&o, c);
	out_str(&o, "agent_id", agent);
	out_rows(&o, "sessions", res, session_columns, NCOLS(session_columns));
	out_line(&o, SESSION_ROW, "ID", "CREATED", "KEY", "META");
	for (i = 0; i < PQntuples(res); i++)
		out_line(&o, SESSION_ROW, PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 3), or_dash(cell(res, i, 2)),
		    PQgetvalue(res, i, 4));
	out_end(&o);
	PQclear(res);
	return EXIT_OK;
}

/*
 * session end: sets ended_at once (a session already ended keeps its first
 * time, and the command succeeds with changed false).  The trigger of
 * sql/005 sends the NOTIFY that otas-authz's database mode listens for,
 * in this transaction: when the command returns, the next request with
 * the session's token is refused.
 */
int
cmd_session_end(struct ctx *c, struct args *a)
{
	const char	*p[1] = { a->pos[0] };
	struct out	 o;
	PGconn		*conn;
	PGresult	*res;
	int		 rc, changed;

	if ((rc = check_uuid("session id", a->pos[0])) != 0)
		return rc;
	if ((conn = admin_connect(&c->cfg)) == NULL)
		return EXIT_FAIL;
	/* The old row's ended_at, from the row the UPDATE locked. */
	res = admin_query(conn, "WITH old AS (SELECT id, ended_at IS NULL AS"
	    " open FROM agent_session WHERE id = $1 FOR UPDATE)"
	    " UPDATE agent_session s SET ended_at = coalesce(s.ended_at, now())"
	    " FROM old WHERE s.id = old.id"
	    " RETURNING old.open, " ISO("s.ended_at"), 1, p);
	PQfinish(conn);
	if (res == NULL)
		return EXIT_FAIL;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return fail(EXIT_FAIL, "no session with id %s", a->pos[0]);
	}
	changed = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	out_start(&o, c);
	out_str(&o, "session_id", a->pos[0]);
	out_str(&o, "ended_at", PQgetvalue(res, 0, 1));
	out_bool(&o, "changed", changed);
	out_line(&o, "session %s %s at %s", a->pos[0], changed ? "ended" :
	    "was already ended", PQgetvalue(res, 0, 1));
	out_end(&o);
	PQclear(res);
	return EXIT_OK;
}
