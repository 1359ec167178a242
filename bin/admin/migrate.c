/*
 * migrate — otas-admin migrate, and the migration files and tracking table
 * that check (check.c) compares.  Migrations are the files
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
const char *
mig_sql_dir(const struct otas_config *cfg, const char *opt)
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

void
mig_free(struct migration *m, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(m[i].file);
	free(m);
}

/* Sorted migrations: two with one number are refused. */
static int
mig_unique(const struct migration *m, size_t n)
{
	size_t	 i;

	for (i = 1; i < n; i++)
		if (m[i].version == m[i - 1].version)
			return fail(EXIT_FAIL, "two migrations numbered %ld: "
			    "%s and %s", m[i].version, m[i - 1].file,
			    m[i].file);
	return 0;
}

/* The migration files of dir, sorted by number; two with one number fail. */
int
mig_list(const char *dir, struct migration **out, size_t *count)
{
	struct migration	*m;
	struct dirent		*de;
	DIR			*d;
	size_t			 n = 0;
	long			 v;

	if ((d = opendir(dir)) == NULL)
		return fail(EXIT_FAIL, "cannot read SQL directory %s: %s",
		    dir, strerror(errno));
	if ((m = calloc(MAX_MIGRATIONS, sizeof(*m))) == NULL) {
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
	qsort(m, n, sizeof(*m), mig_cmp);
	if (mig_unique(m, n) != 0) {
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

	n = snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (n < 0 || (size_t)n >= sizeof(path))
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
 * The columns the programs use, each in its table: refused (with their
 * names) when one is missing, so a foreign table of the same name is not
 * adopted.
 */
static int
mig_columns_check(PGconn *conn)
{
	PGresult	*res;

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
	return 0;
}

/* Whether the tracking table exists and the original's three tables do. */
static int
mig_state(PGconn *conn, int *tracked, int *original)
{
	PGresult	*res;

	if ((res = admin_query(conn,
	    "SELECT to_regclass('otas_schema_migrations') IS NOT NULL,"
	    " to_regclass('agent') IS NOT NULL"
	    " AND to_regclass('agent_key') IS NOT NULL"
	    " AND to_regclass('agent_session') IS NOT NULL", 0, NULL)) == NULL)
		return EXIT_FAIL;
	*tracked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	*original = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	return 0;
}

/*
 * On an original OTAS database (its three tables present, no tracking
 * table) 001 is recorded as applied without being run: its CREATE TABLE IF
 * NOT EXISTS would do nothing, and its CREATE INDEX would build second
 * copies of indexes Django already made under other names, locking writes
 * to agent_session for as long as that takes.  *adopted: 001 recorded so.
 */
static int
mig_adopt(PGconn *conn, const struct migration *m, size_t n, int *adopted)
{
	const char	*p[1];
	PGresult	*res;
	int		 tracked, original;

	*adopted = 0;
	if (mig_state(conn, &tracked, &original) != 0)
		return EXIT_FAIL;
	if (tracked)
		return 0;
	if (original && mig_columns_check(conn) != 0)
		return EXIT_FAIL;
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
	*adopted = 1;
	return 0;
}

/*
 * Runs the text of a SQL file (many statements: PQexec, no parameters)
 * inside the open transaction, and frees it.  On an error, one line:
 * "WHAT NAME failed, CONSEQUENCE: the server's message".
 */
static int
mig_run_sql(PGconn *conn, char *sql, const char *what, const char *name,
    const char *consequence)
{
	PGresult	*res;
	char		 line[512];
	int		 st;

	res = PQexec(conn, sql);
	free(sql);
	st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ||
	    st == PGRES_EMPTY_QUERY) {
		PQclear(res);
		return 0;
	}
	db_error_line(conn, res, line, sizeof(line));
	PQclear(res);
	return fail(EXIT_FAIL, "%s%s failed, %s: %s", what, name, consequence,
	    line);
}

/*
 * Under the migrate lock, in a new transaction: whether a concurrent run
 * applied version p[0] already (then committed: nothing left to do).
 * Returns 1 done, 0 to apply, -1 after printing an error.
 */
static int
mig_done(PGconn *conn, const char *const *p)
{
	PGresult	*res;
	int		 done;

	if (mig_begin(conn) == -1 || (res = admin_query(conn,
	    "SELECT 1 FROM otas_schema_migrations WHERE version = $1",
	    1, p)) == NULL)
		return -1;
	done = PQntuples(res) > 0;
	PQclear(res);
	if (done && admin_exec(conn, "COMMIT") == -1)
		return -1;
	return done;
}

/*
 * Applies one file and its tracking row in one transaction.  Returns 0
 * (applied, *did set, or found already applied by a concurrent run), or
 * an exit code.
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
	rc = snprintf(ver, sizeof(ver), "%ld", m->version);
	if (rc < 0 || (size_t)rc >= sizeof(ver))
		return fail(EXIT_FAIL, "internal: version buffer");
	if ((rc = mig_read(dir, m->file, &sql)) != 0)
		return rc;
	if ((done = mig_done(conn, p)) != 0) {
		free(sql);
		return done == 1 ? 0 : EXIT_FAIL;
	}
	if ((rc = mig_run_sql(conn, sql, "migration ", m->file,
	    "nothing of it applied")) != 0)
		return rc;
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
	char		 path[PATH_MAX];
	char		*sql = NULL;
	PGresult	*res;
	int		 n, rc;

	*done = 0;
	n = snprintf(path, sizeof(path), "%s/%s", dir, GRANTS_FILE);
	if (n < 0 || (size_t)n >= sizeof(path))
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
	if ((rc = mig_run_sql(conn, sql, "", GRANTS_FILE,
	    "no right granted")) != 0)
		return rc;
	if (admin_exec(conn, "COMMIT") == -1)
		return EXIT_FAIL;
	*done = 1;
	return 0;
}

/*
 * The applied versions, ascending, as a result with one column; an empty
 * result when there is no tracking table yet.  NULL after an error.
 */
PGresult *
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

/* Row i of mig_applied's result: an integer column; 0 if it were not. */
static long
mig_version_at(const PGresult *res, int i)
{
	long	 v;

	if (decimal_long(PQgetvalue(res, i, 0), INT_MIN, INT_MAX, &v) == -1)
		return 0;
	return v;
}

int
mig_is_applied(const PGresult *res, long version)
{
	int	 i;

	for (i = 0; i < PQntuples(res); i++)
		if (mig_version_at(res, i) == version)
			return 1;
	return 0;
}

long
mig_top(const PGresult *res)
{
	int	 n = PQntuples(res);

	return n == 0 ? 0 : mig_version_at(res, n - 1);
}

/* What migrate did, gathered for its output. */
struct migrated {
	struct json_object *applied;	/* file names run now */
	int		 adopted;	/* 001 recorded, not run */
	int		 granted;	/* grants.sql applied */
	long		 version;	/* the schema's version at the end */
};

/* Every file not applied yet, in order; text says each as it goes. */
static int
mig_apply_all(PGconn *conn, const char *dir, const struct migration *m,
    size_t n, struct out *o, struct migrated *r)
{
	size_t	 i;
	int	 did;

	for (i = 0; i < n; i++) {
		if (mig_apply(conn, dir, &m[i], &did) != 0)
			return EXIT_FAIL;
		if (!did)
			continue;
		json_object_array_add(r->applied,
		    json_object_new_string(m[i].file));
		out_line(o, "applied %s", m[i].file);
	}
	return 0;
}

static void
mig_print(struct out *o, const struct ctx *c, const struct migration *m,
    struct migrated *r)
{
	struct json_object	*recorded = json_object_new_array();

	if (r->adopted)
		json_object_array_add(recorded,
		    json_object_new_string(m[0].file));
	out_int(o, "version", r->version);
	out_add(o, "applied", json_object_get(r->applied));
	out_add(o, "recorded", recorded);
	out_str(o, "runtime_role", r->granted ? c->cfg.runtime_role : NULL);
	out_line(o, "schema %s at version %ld",
	    json_object_array_length(r->applied) == 0 ? "up to date" : "now",
	    r->version);
	if (r->granted)
		out_line(o, "runtime role %s has the programs' rights",
		    c->cfg.runtime_role);
	out_end(o);
}

/* Adoption, every pending file, grants, then the version reached. */
static int
mig_run(struct ctx *c, struct args *a, PGconn *conn, const char *dir,
    const struct migration *m, size_t n, struct out *o, struct migrated *r)
{
	PGresult	*res;

	if (mig_begin(conn) == -1 || mig_adopt(conn, m, n, &r->adopted) != 0 ||
	    admin_exec(conn, "COMMIT") == -1)
		return EXIT_FAIL;
	if (r->adopted)
		out_line(o, "recorded %s as applied without running it: the "
		    "OTAS tables exist already", m[0].file);
	if (mig_apply_all(conn, dir, m, n, o, r) != 0 ||
	    mig_grant(conn, dir, c->cfg.runtime_role,
	    opt(a, "runtime-login") != NULL, &r->granted) != 0 ||
	    (res = mig_applied(conn)) == NULL)
		return EXIT_FAIL;
	r->version = mig_top(res);
	PQclear(res);
	return 0;
}

int
cmd_migrate(struct ctx *c, struct args *a)
{
	const char		*dir = mig_sql_dir(&c->cfg, opt(a, "sql-dir"));
	struct migration	*m = NULL;
	struct migrated		 r;
	struct out		 o;
	PGconn			*conn;
	size_t			 n = 0;
	int			 rc;

	if ((rc = mig_list(dir, &m, &n)) != 0)
		return rc;
	memset(&r, 0, sizeof(r));
	r.applied = json_object_new_array();
	out_start(&o, c);
	rc = EXIT_FAIL;
	if ((conn = admin_connect(&c->cfg)) != NULL &&
	    (rc = mig_run(c, a, conn, dir, m, n, &o, &r)) == 0)
		mig_print(&o, c, m, &r);
	out_drop(&o);
	json_object_put(r.applied);
	PQfinish(conn);
	mig_free(m, n);
	return rc;
}
