/*
 * migrate — otas-admin migrate and check.  Migrations are the files
 * NNN_name.sql of the SQL directory, applied in numeric order, each in one
 * transaction with its row in otas_schema_migrations, under an advisory
 * lock so concurrent runs apply each file once.  An original OTAS database
 * (its tables, no tracking table) is adopted: see mig_adopt and
 * otas-admin(1).  After them grants.sql gives the programs' runtime role
 * its rights (mig_grant).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "admin.h"

/* ------------------------------------------------------------ migrations */

/* --sql-dir, else OTAS_SQL_DIR, else where `make install` puts them. */
static const char *
sql_dir(const struct otas_config *cfg, const char *opt)
{
	if (opt != NULL)
		return opt;
	if (cfg->sql_dir != NULL)
		return cfg->sql_dir;
	return OTAS_SQL_DIR;
}

/* "NNN_anything.sql" -> NNN in [1, INT_MAX]; anything else is not ours. */
static int
mig_version(const char *name, long *v)
{
	size_t	 len = strlen(name), i = 0;
	long long n;

	while (isdigit((unsigned char)name[i]))
		i++;
	if (i == 0 || name[i] != '_' || len < 5 ||
	    strcmp(name + len - 4, ".sql") != 0 ||
	    decimal_parse(name, i, 1, INT_MAX, &n) == -1)
		return -1;
	*v = (long)n;
	return 0;
}

static int
mig_cmp(const void *a, const void *b)
{
	const struct migration	*x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

static void
mig_free(struct migration *m, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(m[i].file);
	free(m);
}

/* The migration files of dir, sorted by number; two with one number fail. */
static int
mig_list(const char *dir, struct migration **out, size_t *count)
{
	struct migration	*m;
	struct dirent		*de;
	DIR			*d;
	size_t			 n = 0, i;
	long			 v;

	if ((d = opendir(dir)) == NULL)
		return fail(EXIT_FAIL, "cannot read SQL directory %s: %s",
		    dir, strerror(errno));
	if ((m = calloc(MAX_MIGRATIONS, sizeof *m)) == NULL) {
		closedir(d);
		return fail(EXIT_FAIL, "out of memory");
	}
	while ((de = readdir(d)) != NULL) {
		if (mig_version(de->d_name, &v) == -1)
			continue;
		if (n == MAX_MIGRATIONS) {
			closedir(d);
			mig_free(m, n);
			return fail(EXIT_FAIL, "more than %d migrations in %s",
			    MAX_MIGRATIONS, dir);
		}
		m[n].version = v;
		if ((m[n++].file = strdup(de->d_name)) == NULL) {
			closedir(d);
			mig_free(m, n);
			return fail(EXIT_FAIL, "out of memory");
		}
	}
	closedir(d);
	qsort(m, n, sizeof *m, mig_cmp);
	for (i = 1; i < n; i++)
		if (m[i].version == m[i - 1].version) {
			fail(EXIT_FAIL, "two migrations numbered %ld: %s and %s",
			    m[i].version, m[i - 1].file, m[i].file);
			mig_free(m, n);
			return EXIT_FAIL;
		}
	*out = m;
	*count = n;
	return 0;
}

/* Reads a migration file whole; a NUL byte could not reach PQexec intact. */
static int
mig_read(const char *dir, const char *file, char **out)
{
	char	 path[PATH_MAX];
	char	*buf;
	FILE	*f;
	size_t	 len;
	int	 n;

	n = snprintf(path, sizeof path, "%s/%s", dir, file);
	if (n < 0 || (size_t)n >= sizeof path)
		return fail(EXIT_FAIL, "path too long: %s/%s", dir, file);
	if ((f = fopen(path, "r")) == NULL)
		return fail(EXIT_FAIL, "cannot open %s: %s", path,
		    strerror(errno));
	if ((buf = malloc(MIGRATION_MAX + 1)) == NULL) {
		fclose(f);
		return fail(EXIT_FAIL, "out of memory");
	}
	len = fread(buf, 1, MIGRATION_MAX + 1, f);
	n = ferror(f);
	fclose(f);
	if (n || len > MIGRATION_MAX || memchr(buf, '\0', len) != NULL) {
		free(buf);
		return fail(EXIT_FAIL, "%s: %s", path, n ? "read error" :
		    len > MIGRATION_MAX ? "larger than 16 MiB" :
		    "contains a NUL byte");
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

static int
mig_begin(PGconn *conn)
{
	if (admin_exec(conn, "BEGIN") == -1 ||
	    admin_exec(conn, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")") == -1)
		return -1;
	return 0;
}

/*
 * On an original OTAS database (its three tables present, no tracking
 * table) 001 is recorded as applied without being run: its CREATE TABLE IF
 * NOT EXISTS would do nothing, and its CREATE INDEX would build second
 * copies of indexes Django already made under other names, locking writes
 * to agent_session for as long as that takes.  The columns the programs use
 * are checked first, so a foreign table of the same name is refused.
 */
static int
mig_adopt(PGconn *conn, const struct migration *m, size_t n,
    struct json_object *adopted)
{
	const char	*p[1];
	PGresult	*res;
	int		 tracked, original;

	if ((res = admin_query(conn,
	    "SELECT to_regclass('otas_schema_migrations') IS NOT NULL,"
	    " to_regclass('agent') IS NOT NULL"
	    " AND to_regclass('agent_key') IS NOT NULL"
	    " AND to_regclass('agent_session') IS NOT NULL", 0, NULL)) == NULL)
		return EXIT_FAIL;
	tracked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	original = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	if (tracked)
		return 0;
	if (original) {
		if ((res = admin_query(conn,
		    "SELECT string_agg(t || '.' || c, ', ') FROM (VALUES"
		    " ('agent','id'), ('agent','name'), ('agent','description'),"
		    " ('agent','provider'), ('agent','project_id'),"
		    " ('agent','created_at'), ('agent','updated_at'),"
		    " ('agent','created_by_id'), ('agent','is_active'),"
		    " ('agent_key','id'), ('agent_key','prefix'),"
		    " ('agent_key','hashed_key'), ('agent_key','agent_id'),"
		    " ('agent_key','name'), ('agent_key','created_at'),"
		    " ('agent_key','last_used_at'), ('agent_key','revoked_at'),"
		    " ('agent_key','expires_at'), ('agent_key','active'),"
		    " ('agent_session','id'), ('agent_session','agent_id'),"
		    " ('agent_session','agent_key_id'),"
		    " ('agent_session','created_at'), ('agent_session','meta')"
		    ") AS need(t, c) WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a"
		    " WHERE a.attrelid = to_regclass(need.t)"
		    " AND a.attname = need.c AND a.attnum > 0"
		    " AND NOT a.attisdropped)", 0, NULL)) == NULL)
			return EXIT_FAIL;
		if (!PQgetisnull(res, 0, 0)) {
			fail(EXIT_FAIL, "existing tables lack OTAS columns (%s); "
			    "not adopting them", PQgetvalue(res, 0, 0));
			PQclear(res);
			return EXIT_FAIL;
		}
		PQclear(res);
	}
	if (admin_exec(conn, "CREATE TABLE otas_schema_migrations ("
	    " version integer PRIMARY KEY,"
	    " name text NOT NULL,"
	    " applied_at timestamptz NOT NULL DEFAULT now())") == -1)
		return EXIT_FAIL;
	if (!original || n == 0 || m[0].version != 1)
		return 0;
	p[0] = m[0].file;
	if (admin_exec(conn, "SET LOCAL client_min_messages = warning") == -1 ||
	    (res = admin_query(conn, "INSERT INTO otas_schema_migrations"
	    " (version, name) VALUES (1, $1)", 1, p)) == NULL)
		return EXIT_FAIL;
	PQclear(res);
	json_object_array_add(adopted, json_object_new_string(m[0].file));
	return 0;
}

/*
 * Applies one file and its tracking row in one transaction.  Returns 0
 * (applied or found already applied by a concurrent run), or an exit code.
 */
static int
mig_apply(PGconn *conn, const char *dir, const struct migration *m,
    int *did)
{
	char		 ver[16];
	const char	*p[2] = { ver, m->file };
	char		*sql = NULL;
	PGresult	*res;
	int		 rc, done;

	*did = 0;
	rc = snprintf(ver, sizeof ver, "%ld", m->version);
	if (rc < 0 || (size_t)rc >= sizeof ver)
		return fail(EXIT_FAIL, "internal: version buffer");
	if ((rc = mig_read(dir, m->file, &sql)) != 0)
		return rc;
	if (mig_begin(conn) == -1 || (res = admin_query(conn,
	    "SELECT 1 FROM otas_schema_migrations WHERE version = $1",
	    1, p)) == NULL) {
		free(sql);
		return EXIT_FAIL;
	}
	done = PQntuples(res) > 0;
	PQclear(res);
	if (done) {
		free(sql);
		return admin_exec(conn, "COMMIT") == -1 ? EXIT_FAIL : 0;
	}
	res = PQexec(conn, sql);
	free(sql);
	rc = PQresultStatus(res);
	if (rc != PGRES_COMMAND_OK && rc != PGRES_TUPLES_OK &&
	    rc != PGRES_EMPTY_QUERY) {
		char	 line[512];

		one_line(PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) ?
		    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) :
		    PQerrorMessage(conn), line, sizeof line);
		PQclear(res);
		return fail(EXIT_FAIL, "migration %s failed, nothing of it "
		    "applied: %s", m->file, line);
	}
	PQclear(res);
	if (PQtransactionStatus(conn) != PQTRANS_INTRANS)
		return fail(EXIT_FAIL, "migration %s ended the transaction "
		    "itself; migration files must not contain BEGIN, COMMIT "
		    "or ROLLBACK", m->file);
	if ((res = admin_query(conn, "INSERT INTO otas_schema_migrations"
	    " (version, name) VALUES ($1, $2)", 2, p)) == NULL)
		return EXIT_FAIL;
	PQclear(res);
	if (admin_exec(conn, "COMMIT") == -1)
		return EXIT_FAIL;
	*did = 1;
	return 0;
}

/*
 * grants.sql of the SQL directory, after the migrations, in a transaction
 * of its own under the migrate lock.  The role's name reaches the file as
 * a setting made with a parameter, never pasted into SQL text; the file
 * quotes it with format('%I').  A directory without the file (a schema of
 * someone else's) grants nothing: *done stays 0.
 */
static int
mig_grant(PGconn *conn, const char *dir, const char *role, int login,
    int *done)
{
	const char	*p[2] = { role, login ? "on" : "off" };
	char		 path[PATH_MAX], line[512];
	char		*sql = NULL;
	PGresult	*res;
	int		 n, rc;

	*done = 0;
	n = snprintf(path, sizeof path, "%s/%s", dir, GRANTS_FILE);
	if (n < 0 || (size_t)n >= sizeof path)
		return fail(EXIT_FAIL, "path too long: %s/%s", dir, GRANTS_FILE);
	if (access(path, F_OK) == -1 && errno == ENOENT)
		return 0;
	if ((rc = mig_read(dir, GRANTS_FILE, &sql)) != 0)
		return rc;
	if (mig_begin(conn) == -1 || (res = admin_query(conn,
	    "SELECT set_config('otas.runtime_role', $1, true),"
	    " set_config('otas.runtime_login', $2, true)", 2, p)) == NULL) {
		free(sql);
		return EXIT_FAIL;
	}
	PQclear(res);
	res = PQexec(conn, sql);
	free(sql);
	rc = PQresultStatus(res);
	if (rc != PGRES_COMMAND_OK && rc != PGRES_TUPLES_OK &&
	    rc != PGRES_EMPTY_QUERY) {
		one_line(PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) ?
		    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) :
		    PQerrorMessage(conn), line, sizeof line);
		PQclear(res);
		return fail(EXIT_FAIL, "%s failed, no right granted: %s",
		    GRANTS_FILE, line);
	}
	PQclear(res);
	if (admin_exec(conn, "COMMIT") == -1)
		return EXIT_FAIL;
	*done = 1;
	return 0;
}

/*
 * The applied versions, ascending, as a result with one column; an empty
 * result when there is no tracking table yet.  NULL after an error.
 */
static PGresult *
mig_applied(PGconn *conn)
{
	PGresult	*res;
	int		 tracked;

	if ((res = admin_query(conn, "SELECT to_regclass('otas_schema_migrations')"
	    " IS NOT NULL", 0, NULL)) == NULL)
		return NULL;
	tracked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return admin_query(conn, tracked ?
	    "SELECT version FROM otas_schema_migrations ORDER BY version" :
	    "SELECT 1 WHERE false", 0, NULL);
}

static int
mig_is_applied(const PGresult *res, long version)
{
	int	 i;

	for (i = 0; i < PQntuples(res); i++)
		if (strtol(PQgetvalue(res, i, 0), NULL, 10) == version)
			return 1;
	return 0;
}

static long
mig_top(const PGresult *res)
{
	int	 n = PQntuples(res);

	return n == 0 ? 0 : strtol(PQgetvalue(res, n - 1, 0), NULL, 10);
}

int
cmd_migrate(struct ctx *c, struct args *a)
{
	const char		*dir = sql_dir(&c->cfg, opt(a, "sql-dir"));
	struct migration	*m = NULL;
	struct json_object	*applied = NULL, *adopted = NULL, *o;
	PGconn			*conn = NULL;
	PGresult		*res;
	size_t			 n = 0, i;
	int			 rc, did, granted = 0, count = 0;

	if ((rc = mig_list(dir, &m, &n)) != 0)
		return rc;
	rc = EXIT_FAIL;
	applied = json_object_new_array();
	adopted = json_object_new_array();
	if ((conn = admin_connect(&c->cfg)) == NULL)
		goto out;
	if (mig_begin(conn) == -1 || mig_adopt(conn, m, n, adopted) != 0 ||
	    admin_exec(conn, "COMMIT") == -1)
		goto out;
	if (!c->json && json_object_array_length(adopted) > 0)
		printf("recorded %s as applied without running it: the OTAS "
		    "tables exist already\n", m[0].file);
	for (i = 0; i < n; i++) {
		if (mig_apply(conn, dir, &m[i], &did) != 0)
			goto out;
		if (!did)
			continue;
		count++;
		json_object_array_add(applied,
		    json_object_new_string(m[i].file));
		if (!c->json)
			printf("applied %s\n", m[i].file);
	}
	if (mig_grant(conn, dir, c->cfg.runtime_role,
	    opt(a, "runtime-login") != NULL, &granted) != 0 ||
	    (res = mig_applied(conn)) == NULL)
		goto out;
	if (c->json) {
		o = json_object_new_object();
		json_object_object_add(o, "version",
		    json_object_new_int64(mig_top(res)));
		json_object_object_add(o, "applied", applied);
		json_object_object_add(o, "recorded", adopted);
		json_object_object_add(o, "runtime_role", granted ?
		    json_object_new_string(c->cfg.runtime_role) : NULL);
		applied = adopted = NULL;
		json_print(o);
	} else {
		printf("schema %s at version %ld\n", count == 0 ?
		    "up to date" : "now", mig_top(res));
		if (granted)
			printf("runtime role %s has the programs' rights\n",
			    c->cfg.runtime_role);
	}
	PQclear(res);
	rc = EXIT_OK;
out:
	json_object_put(applied);
	json_object_put(adopted);
	PQfinish(conn);
	mig_free(m, n);
	return rc;
}

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

/* rights, role and rights_note of check's JSON (null when not checked). */
static void
json_add_rights(struct json_object *o, int ok_rights, const char *role,
    const char *why)
{
	json_object_object_add(o, "rights", ok_rights == -1 ? NULL :
	    json_object_new_boolean(ok_rights == 1));
	json_object_object_add(o, "role", role[0] == '\0' ? NULL :
	    json_object_new_string(role));
	json_object_object_add(o, "rights_note", ok_rights != 1 ||
	    why == NULL ? NULL : json_object_new_string(why));
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
	const char		*dir = sql_dir(&c->cfg, opt(a, "sql-dir"));
	struct migration	*m = NULL;
	struct json_object	*o, *pending;
	PGconn			*conn = NULL;
	PGresult		*res = NULL;
	const char		*failed[4], *rights_why = NULL;
	char			 role[128] = "";
	size_t			 n = 0, i;
	long			 latest = 0, current = -1;
	int			 ok_config, ok_db, ok_schema = 0, nfail = 0;
	int			 ok_rights = -1;	/* -1: not checked */

	pending = json_object_new_array();
	if (!(ok_config = c->cfg_ok))
		fail(EXIT_FAIL, "config: %s", c->cfg_err);
	/* Without settings there is no database URL to try. */
	ok_db = ok_config && (conn = admin_connect(&c->cfg)) != NULL;
	if (ok_db && mig_list(dir, &m, &n) == 0 &&
	    (res = mig_applied(conn)) != NULL) {
		current = mig_top(res);
		latest = n > 0 ? m[n - 1].version : 0;
		ok_schema = 1;
		for (i = 0; i < n; i++)
			if (!mig_is_applied(res, m[i].version)) {
				ok_schema = 0;
				json_object_array_add(pending,
				    json_object_new_string(m[i].file));
			}
		if (PQntuples(res) == 0)
			ok_schema = 0;
	}
	/*
	 * Always looked at: a shared host's customer runs plain check as the
	 * user suEXEC runs the programs as.  A verdict only with --as: root's
	 * own connection is not the programs'.
	 */
	if (ok_db)
		ok_rights = check_rights(conn, c->cfg.runtime_role, role,
		    sizeof role, &rights_why) == 1;
	if (!ok_config)
		failed[nfail++] = "config";
	if (ok_config && !ok_db)	/* not checked without settings */
		failed[nfail++] = "database";
	if (ok_db && !ok_schema)	/* not checked without a database */
		failed[nfail++] = "schema";
	if (c->as != NULL && ok_rights == 0)	/* needs a database */
		failed[nfail++] = "rights";
	if (c->json) {
		o = json_object_new_object();
		json_object_object_add(o, "ok", json_object_new_boolean(
		    nfail == 0));
		json_object_object_add(o, "config",
		    json_object_new_boolean(ok_config));
		json_object_object_add(o, "database",
		    json_object_new_boolean(ok_db));
		json_object_object_add(o, "schema",
		    json_object_new_boolean(ok_schema));
		json_object_object_add(o, "schema_version", res == NULL ?
		    NULL : json_object_new_int64(current));
		json_object_object_add(o, "latest_version", m == NULL ? NULL :
		    json_object_new_int64(latest));
		json_object_object_add(o, "pending", json_object_get(pending));
		if (c->as != NULL)
			json_object_object_add(o, "as",
			    json_object_new_string(c->as));
		json_add_rights(o, ok_rights, role, rights_why);
		json_print(o);
	} else {
		if (c->as != NULL)
			printf("as        %s\n", c->as);
		printf("config    %s\n", ok_config ? "ok" : "FAILED");
		if (ok_db)
			printf("database  ok (PostgreSQL %s)\n",
			    or_dash(PQparameterStatus(conn, "server_version")));
		else if (!ok_config)
			printf("database  FAILED: not checked\n");
		else
			printf("database  FAILED\n");
		if (ok_schema)
			printf("schema    ok (version %ld)\n", current);
		else if (res == NULL)
			printf("schema    FAILED: not checked\n");
		else if (PQntuples(res) == 0)
			printf("schema    FAILED: no migrations applied; run "
			    "otas-admin migrate\n");
		else
			printf("schema    FAILED: version %ld, %zu pending "
			    "(first: %s); run otas-admin migrate\n", current,
			    json_object_array_length(pending),
			    json_object_get_string(json_object_array_get_idx(
			    pending, 0)));
		if (c->as != NULL && ok_rights == 1 && rights_why != NULL)
			printf("rights    ok (role %s; note: it %s)\n", role,
			    rights_why);
		else if (c->as != NULL && ok_rights == 1)
			printf("rights    ok (role %s)\n", role);
		else if (c->as != NULL && ok_rights == 0)
			printf("rights    FAILED: role %s %s\n", role,
			    rights_why != NULL ? rights_why : "not readable");
		else if (c->as != NULL)
			printf("rights    FAILED: not checked\n");
		else if (ok_rights == 1 && rights_why != NULL)
			printf("rights    role %s has the programs' rights "
			    "(note: it %s)\n", role, rights_why);
		else if (ok_rights == 1)
			printf("rights    role %s has the programs' rights\n",
			    role);
		else if (ok_rights == 0)
			printf("rights    role %s %s (a verdict only with --as "
			    "USER: the programs run as the web server's user)"
			    "\n", role, rights_why != NULL ? rights_why :
			    "not readable");
	}
	json_object_put(pending);
	PQclear(res);
	PQfinish(conn);
	mig_free(m, n);
	if (nfail == 0)
		return EXIT_OK;
	if (nfail == 1)
		return fail(EXIT_FAIL, "check failed: %s", failed[0]);
	if (nfail == 2)
		return fail(EXIT_FAIL, "check failed: %s, %s", failed[0],
		    failed[1]);
	if (nfail == 3)
		return fail(EXIT_FAIL, "check failed: %s, %s, %s", failed[0],
		    failed[1], failed[2]);
	return fail(EXIT_FAIL, "check failed: %s, %s, %s, %s", failed[0],
	    failed[1], failed[2], failed[3]);
}
