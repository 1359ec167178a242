/*
 * agents — the commands about agents and their sessions: agent list,
 * agent enable and disable, session list and end.  Session meta is printed as
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

int
cmd_agent_list(struct ctx *c, struct args *a)
{
	struct json_object	*o;
	PGconn			*conn;
	PGresult		*res;
	char			 limit[RATE_TEXT_MAX];
	int			 i;

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
	if (c->json) {
		o = json_object_new_object();
		json_object_object_add(o, "agents", jrows(res, agent_columns,
		    NCOLS(agent_columns)));
		json_print(o);
	} else {
		printf("%-36s  %-8s  %-20s  %4s  %-16s  %s\n", "ID", "STATE",
		    "CREATED", "KEYS", "LIMIT", "NAME");
		for (i = 0; i < PQntuples(res); i++) {
			limit_text(res, i, limit, sizeof(limit));
			printf("%-36s  %-8s  %-20s  %4s  %-16s  %s\n",
			    PQgetvalue(res, i, 0),
			    strcmp(PQgetvalue(res, i, 5), "t") == 0 ?
			    "active" : "disabled", PQgetvalue(res, i, 6),
			    PQgetvalue(res, i, 8), limit, PQgetvalue(res, i, 1));
		}
	}
	PQclear(res);
	return EXIT_OK;
}

/*
 * agent enable and agent disable: one transaction that locks the agent row
 * and sets is_active.  Setting the state it already has succeeds and
 * changes nothing; "changed" says which happened.
 */
static int
agent_set_active(struct ctx *c, struct args *a, int want)
{
	const char		*p[2] = { a->pos[0], want ? "true" : "false" };
	struct json_object	*o;
	PGconn			*conn;
	PGresult		*res;
	int			 rc, active, changed;

	if ((rc = check_uuid("agent id", a->pos[0])) != 0)
		return rc;
	if ((conn = admin_connect(&c->cfg)) == NULL)
		return EXIT_FAIL;
	if (admin_exec(conn, "BEGIN") == -1 ||
	    (rc = agent_find(conn, a->pos[0], 1, &active)) != 0) {
		PQfinish(conn);
		return EXIT_FAIL;
	}
	changed = active != want;
	if (changed) {
		if ((res = admin_query(conn, "UPDATE agent SET is_active ="
		    " $2::boolean, updated_at = now() WHERE id = $1", 2,
		    p)) == NULL) {
			PQfinish(conn);
			return EXIT_FAIL;
		}
		PQclear(res);
	}
	rc = admin_exec(conn, "COMMIT");
	PQfinish(conn);
	if (rc == -1)
		return EXIT_FAIL;
	if (c->json) {
		o = json_object_new_object();
		json_object_object_add(o, "agent_id",
		    json_object_new_string(a->pos[0]));
		json_object_object_add(o, "is_active",
		    json_object_new_boolean(want));
		json_object_object_add(o, "changed",
		    json_object_new_boolean(changed));
		json_print(o);
	} else if (want)
		printf("agent %s %s; its usable keys work again\n", a->pos[0],
		    changed ? "enabled" : "was already enabled");
	else
		printf("agent %s %s; its keys no longer work\n", a->pos[0],
		    changed ? "disabled" : "was already disabled");
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

int
cmd_session_list(struct ctx *c, struct args *a)
{
	const char		*agent = a->pos[0], *lim = opt(a, "limit");
	const char		*p[2];
	char			 lbuf[24];
	struct json_object	*o;
	PGconn			*conn;
	PGresult		*res;
	long			 limit = DEFAULT_LIMIT;
	int			 i, rc, active;

	if ((rc = check_uuid("agent id", agent)) != 0)
		return rc;
	if (lim != NULL && decimal_long(lim, 1, MAX_LIMIT, &limit) == -1)
		return fail(EXIT_USAGE, "--limit must be a number from 1 to %ld",
		    MAX_LIMIT);
	rc = snprintf(lbuf, sizeof lbuf, "%ld", limit);
	if (rc < 0 || (size_t)rc >= sizeof lbuf)
		return fail(EXIT_FAIL, "internal: limit buffer");
	if ((conn = admin_connect(&c->cfg)) == NULL)
		return EXIT_FAIL;
	if ((rc = agent_find(conn, agent, 0, &active)) != 0) {
		PQfinish(conn);
		return rc;
	}
	p[0] = agent;
	p[1] = lbuf;
	res = admin_query(conn, "SELECT s.id, s.agent_key_id, k.prefix,"
	    " " ISO("s.created_at") ", s.meta::text FROM agent_session s"
	    " LEFT JOIN agent_key k ON k.id = s.agent_key_id"
	    " WHERE s.agent_id = $1 ORDER BY s.created_at DESC, s.id DESC"
	    " LIMIT $2::int", 2, p);
	PQfinish(conn);
	if (res == NULL)
		return EXIT_FAIL;
	if (c->json) {
		o = json_object_new_object();
		json_object_object_add(o, "agent_id",
		    json_object_new_string(agent));
		json_object_object_add(o, "sessions", jrows(res,
		    session_columns, NCOLS(session_columns)));
		json_print(o);
	} else {
		printf("%-36s  %-20s  %-12s  %s\n", "ID", "CREATED", "KEY",
		    "META");
		for (i = 0; i < PQntuples(res); i++)
			printf("%-36s  %-20s  %-12s  %s\n",
			    PQgetvalue(res, i, 0), PQgetvalue(res, i, 3),
			    or_dash(cell(res, i, 2)), PQgetvalue(res, i, 4));
	}
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
	const char		*p[1] = { a->pos[0] };
	struct json_object	*o;
	PGconn			*conn;
	PGresult		*res;
	int			 rc, changed;

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
	if (c->json) {
		o = json_object_new_object();
		json_object_object_add(o, "session_id",
		    json_object_new_string(a->pos[0]));
		json_object_object_add(o, "ended_at",
		    json_object_new_string(PQgetvalue(res, 0, 1)));
		json_object_object_add(o, "changed",
		    json_object_new_boolean(changed));
		json_print(o);
	} else
		printf("session %s %s at %s\n", a->pos[0], changed ? "ended" :
		    "was already ended", PQgetvalue(res, 0, 1));
	PQclear(res);
	return EXIT_OK;
}
