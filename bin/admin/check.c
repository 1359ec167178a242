/*
 * check — otas-admin check: the configuration as the endpoint reads it,
 * the database reachable, every migration of the SQL directory applied,
 * and the rights of the role the connection ends up as (a verdict with
 * --as USER only: root's own connection is not the programs').  Every
 * verdict is gathered first (struct check), then printed through out.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"

#define CHECKS	4		/* config, database, schema, rights */

struct check {
	int		 ok_config, ok_db, ok_schema;
	int		 ok_rights;	/* -1: not checked (no database) */
	const char	*rights_why;	/* check_rights' reason or note */
	char		 role[128];
	const char	*server;	/* PostgreSQL's version, or NULL */
	int		 listed;	/* the SQL directory was read */
	int		 read;		/* the applied versions were read */
	int		 napplied;
	long		 latest, current;
	struct json_object *pending;	/* files not applied, in order */
	const char	*failed[CHECKS];
	int		 nfail;
};

/*
 * check --as: whether the role this user's connection ends up as looks
 * like the runtime role — it may insert sessions and read the schema
 * version (as the programs and their readiness check do) and may not
 * delete sessions (so it is neither the owner nor a superuser).  One
 * exception: the owner that is also OTAS_RUNTIME_ROLE is a host's single
 * database user (doc/shared-hosting.md), the best such a host allows, so
 * it passes with a note.  Fills role; returns 1 (*why NULL, or the note)
 * or 0 with *why, or -1 after printing a failed query.
 */
static int
check_rights(PGconn *conn, const char *runtime_role, char *role,
    size_t cap, const char **why)
{
	const char	*p[1] = { runtime_role };
	PGresult	*res;
	int		 can, excess, single;

	if ((res = admin_query(conn, "SELECT current_user,"
	    " has_table_privilege('agent_session', 'INSERT')"
	    " AND has_table_privilege('otas_schema_migrations', 'SELECT')"
	    " AND has_table_privilege('otas_rate_limit', 'SELECT')"
	    " AND has_table_privilege('otas_rate_state', 'UPDATE'),"
	    " has_table_privilege('agent_session', 'DELETE'),"
	    " current_user = $1 AND NOT (SELECT rolsuper FROM pg_roles"
	    "   WHERE rolname = current_user)"
	    " AND (SELECT pg_get_userbyid(relowner) FROM pg_class"
	    "   WHERE oid = 'agent_session'::regclass) = current_user", 1,
	    p)) == NULL)
		return -1;
	snprintf(role, cap, "%s", PQgetvalue(res, 0, 0));
	can = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	excess = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	single = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	PQclear(res);
	*why = !can ? "lacks the programs' rights (run otas-admin migrate "
	    "with OTAS_RUNTIME_ROLE set to it)" : !excess ? NULL : single ?
	    "owns the tables and is OTAS_RUNTIME_ROLE, a single database "
	    "user: a separate runtime role, unable to delete sessions, "
	    "would be safer" : "may delete sessions: connect the programs "
	    "as the runtime role, not the owner";
	return can && (!excess || single) ? 1 : 0;
}

/*
 * The SQL directory against the tracking table: latest file, current
 * version, the pending files.  A database with nothing applied fails.
 */
static void
check_schema(PGconn *conn, const char *dir, struct check *k)
{
	struct migration	*m = NULL;
	PGresult		*res;
	size_t			 n = 0, i;

	if (mig_list(dir, &m, &n) != 0)
		return;
	k->listed = 1;
	if ((res = mig_applied(conn)) != NULL) {
		k->read = 1;
		k->napplied = PQntuples(res);
		k->current = mig_top(res);
		k->latest = n > 0 ? m[n - 1].version : 0;
		k->ok_schema = k->napplied > 0;
		for (i = 0; i < n; i++)
			if (!mig_is_applied(res, m[i].version)) {
				k->ok_schema = 0;
				json_object_array_add(k->pending,
				    json_object_new_string(m[i].file));
			}
		PQclear(res);
	}
	mig_free(m, n);
}

/*
 * The verdicts that failed, in order.  Each check runs only when the one
 * before it passed (no database URL without settings, no schema without a
 * database); rights count only with --as.
 */
static void
check_verdicts(const struct ctx *c, struct check *k)
{
	if (!k->ok_config)
		k->failed[k->nfail++] = "config";
	if (k->ok_config && !k->ok_db)
		k->failed[k->nfail++] = "database";
	if (k->ok_db && !k->ok_schema)
		k->failed[k->nfail++] = "schema";
	if (c->as != NULL && k->ok_rights == 0)
		k->failed[k->nfail++] = "rights";
}

static void
check_text_db(struct out *o, const struct check *k)
{
	if (k->ok_db)
		out_line(o, "database  ok (PostgreSQL %s)", or_dash(k->server));
	else
		out_line(o, "database  FAILED%s", k->ok_config ? "" :
		    ": not checked");
	if (k->ok_schema)
		out_line(o, "schema    ok (version %ld)", k->current);
	else if (!k->read)
		out_line(o, "schema    FAILED: not checked");
	else if (k->napplied == 0)
		out_line(o, "schema    FAILED: no migrations applied; run "
		    "otas-admin migrate");
	else
		out_line(o, "schema    FAILED: version %ld, %zu pending "
		    "(first: %s); run otas-admin migrate", k->current,
		    json_object_array_length(k->pending),
		    json_object_get_string(json_object_array_get_idx(
		    k->pending, 0)));
}

/* With --as, a verdict; without, what the role may do, as information. */
static void
check_text_rights(struct out *o, const struct ctx *c, const struct check *k)
{
	if (c->as != NULL && k->ok_rights == 1 && k->rights_why != NULL)
		out_line(o, "rights    ok (role %s; note: it %s)", k->role,
		    k->rights_why);
	else if (c->as != NULL && k->ok_rights == 1)
		out_line(o, "rights    ok (role %s)", k->role);
	else if (c->as != NULL && k->ok_rights == 0)
		out_line(o, "rights    FAILED: role %s %s", k->role,
		    k->rights_why != NULL ? k->rights_why : "not readable");
	else if (c->as != NULL)
		out_line(o, "rights    FAILED: not checked");
	else if (k->ok_rights == 1 && k->rights_why != NULL)
		out_line(o, "rights    role %s has the programs' rights "
		    "(note: it %s)", k->role, k->rights_why);
	else if (k->ok_rights == 1)
		out_line(o, "rights    role %s has the programs' rights",
		    k->role);
	else if (k->ok_rights == 0)
		out_line(o, "rights    role %s %s (a verdict only with --as "
		    "USER: the programs run as the web server's user)", k->role,
		    k->rights_why != NULL ? k->rights_why : "not readable");
}

static void
check_print(const struct ctx *c, const struct check *k)
{
	struct out	 o;
	int		 r = k->ok_rights;

	out_start(&o, c);
	out_bool(&o, "ok", k->nfail == 0);
	out_bool(&o, "config", k->ok_config);
	out_bool(&o, "database", k->ok_db);
	out_bool(&o, "schema", k->ok_schema);
	out_add(&o, "schema_version", k->read ?
	    json_object_new_int64(k->current) : NULL);
	out_add(&o, "latest_version", k->listed ?
	    json_object_new_int64(k->latest) : NULL);
	out_add(&o, "pending", json_object_get(k->pending));
	if (c->as != NULL)
		out_str(&o, "as", c->as);
	out_add(&o, "rights", r == -1 ? NULL : json_object_new_boolean(r == 1));
	out_str(&o, "role", k->role[0] == '\0' ? NULL : k->role);
	out_str(&o, "rights_note", r != 1 ? NULL : k->rights_why);
	if (c->as != NULL)
		out_line(&o, "as        %s", c->as);
	out_line(&o, "config    %s", k->ok_config ? "ok" : "FAILED");
	check_text_db(&o, k);
	check_text_rights(&o, c, k);
	out_end(&o);
}

/* "check failed: " and the failed verdicts, comma-separated. */
static int
check_fail(const struct check *k)
{
	char	 list[64];		/* the four names fit */
	size_t	 len = 0;
	int	 i, w;

	list[0] = '\0';
	for (i = 0; i < k->nfail; i++) {
		w = snprintf(list + len, sizeof(list) - len, "%s%s",
		    i > 0 ? ", " : "", k->failed[i]);
		if (w < 0 || (size_t)w >= sizeof(list) - len)
			break;
		len += (size_t)w;
	}
	return fail(EXIT_FAIL, "check failed: %s", list);
}

/*
 * Three verdicts, each printed: the configuration as the endpoint would
 * read it, the database reachable, every migration of the SQL directory
 * applied; with --as a fourth, the role's rights (without it the rights
 * line only informs).  Exit 1 when any failed.
 */
int
cmd_check(struct ctx *c, struct args *a)
{
	struct check	 k;
	PGconn		*conn = NULL;

	memset(&k, 0, sizeof(k));
	k.ok_rights = -1;
	k.pending = json_object_new_array();
	if (!(k.ok_config = c->cfg_ok))
		fail(EXIT_FAIL, "config: %s", c->cfg_err);
	/* Without settings there is no database URL to try. */
	k.ok_db = k.ok_config && (conn = admin_connect(&c->cfg)) != NULL;
	if (k.ok_db) {
		k.server = PQparameterStatus(conn, "server_version");
		check_schema(conn, mig_sql_dir(&c->cfg, opt(a, "sql-dir")), &k);
		/*
		 * Always looked at: a shared host's customer runs plain check
		 * as the user suEXEC runs the programs as.
		 */
		k.ok_rights = check_rights(conn, c->cfg.runtime_role, k.role,
		    sizeof(k.role), &k.rights_why) == 1;
	}
	check_verdicts(c, &k);
	check_print(c, &k);
	json_object_put(k.pending);
	PQfinish(conn);
	return k.nfail == 0 ? EXIT_OK : check_fail(&k);
}
