/*
 * otas-admin — the operator's command line: schema migrations, agents, keys,
 * sessions and a health check (SPEC §7; manual: otas-admin.1).
 *
 * Shape: one table of commands at the bottom; main() strips the flags every
 * command takes (--json, --help), finds the command, parses its options
 * against the table, and calls one function.  Each command is one database
 * transaction or none, so a failure leaves nothing half written: the
 * connection is simply closed and PostgreSQL rolls back.
 *
 * Every value goes to PostgreSQL as a query parameter; the only SQL text not
 * written here is the migration files, which are the operator's own.
 * Timestamps are formatted by PostgreSQL as ISO 8601 in UTC, so text and
 * JSON output agree and no time zone arithmetic happens here.
 *
 * A new key exists in clear only in this process's memory, long enough to
 * hash and print it once; it is wiped afterwards.
 *
 * Exit status: 0 ok, 1 failed (database, unknown id), 2 usage.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "config.h"
#include "hash.h"
#include "uuid.h"

#ifndef OTAS_SQL_DIR
#define OTAS_SQL_DIR "/usr/local/share/otas-fcgi/sql"
#endif

#define EXIT_OK		0
#define EXIT_FAIL	1
#define EXIT_USAGE	2

#define PREFIX_LEN	12
#define SECRET_BYTES	32
#define SECRET_LEN	43	/* unpadded base64url of 32 bytes */
#define KEY_LEN		(6 + PREFIX_LEN + 1 + SECRET_LEN)
#define DEFAULT_ITERATIONS 1000L
#define DEFAULT_EXPIRY_DAYS 30L
#define MAX_EXPIRY_DAYS	36500L
#define DEFAULT_LIMIT	20L
#define MAX_LIMIT	100000L
#define NAME_MAX_CHARS	255	/* varchar(255) */
#define MIGRATION_MAX	(16L * 1024 * 1024)
#define MAX_MIGRATIONS	1000
#define MAX_OPTS	8
#define MAX_POS		2

/*
 * Taken inside every migrate transaction so two operators running migrate at
 * once apply each file exactly once ("otas" in ASCII).
 */
#define MIGRATE_LOCK	"1869898099"

/* ISO 8601 in UTC, made by PostgreSQL. */
#define ISO(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

struct ctx {
	int		 json;
};

struct cmd;

struct args {
	const struct cmd *cmd;
	const char	*val[MAX_OPTS];	/* per option of the command; NULL: absent */
	const char	*pos[MAX_POS];
	int		 npos;
};

struct cmd {
	const char	*group;		/* "agent", "key", "session" or NULL */
	const char	*name;
	const char	*opts[MAX_OPTS + 1]; /* "name=" takes a value; NULL ends */
	int		 minpos, maxpos;
	int		(*fn)(struct ctx *, struct args *);
	const char	*synopsis;
	const char	*help;
};

struct migration {
	long		 version;
	char		*file;		/* file name inside the directory */
};

/* ---------------------------------------------------------------- errors */

static int
fail(int code, const char *fmt, ...)
{
	va_list	 ap;

	fputs("otas-admin: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/*
 * libpq messages span several lines (a message, then "Is the server
 * running...").  Operators get one line: join them with a space.
 */
static void
one_line(const char *in, char *out, size_t cap)
{
	size_t	 o = 0;
	int	 space = 0;

	for (; *in != '\0' && o + 1 < cap; in++) {
		if (*in == '\n' || *in == '\t' || *in == '\r') {
			space = o > 0;
			continue;
		}
		if (space && o + 2 < cap)
			out[o++] = ' ';
		space = 0;
		out[o++] = *in;
	}
	out[o] = '\0';
}

static int
fail_db(PGconn *conn, const PGresult *res)
{
	const char	*msg = NULL;
	char		 line[512];

	if (res != NULL)
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (msg == NULL)
		msg = PQerrorMessage(conn);
	one_line(msg, line, sizeof line);
	return fail(EXIT_FAIL, "database: %s", line[0] != '\0' ? line :
	    "unknown error");
}

/* --------------------------------------------------------------- parsing */

/* Decimal in [min, max], digits only: no sign, no space, no trailing junk. */
static int
parse_long(const char *s, long min, long max, long *out)
{
	char	*end;
	long	 v;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Characters (not bytes) of UTF-8 text, as varchar(n) counts them. */
static size_t
utf8_chars(const char *s)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static int
check_uuid(const char *what, const char *s)
{
	if (!uuid_valid(s, strlen(s)))
		return fail(EXIT_USAGE, "%s is not a uuid: %s", what, s);
	return 0;
}

static int
check_text(const char *what, const char *s, int required)
{
	if (required && s[0] == '\0')
		return fail(EXIT_USAGE, "%s must not be empty", what);
	if (utf8_chars(s) > NAME_MAX_CHARS)
		return fail(EXIT_USAGE, "%s is longer than %d characters",
		    what, NAME_MAX_CHARS);
	return 0;
}

/*
 * Iterations for new keys: --iterations, else OTAS_KEY_ITERATIONS, else
 * DEFAULT_ITERATIONS.  The secret carries 256 bits of entropy, so a slow
 * hash buys nothing; a small count keeps every request cheap.
 */
static int
key_iterations(const char *opt, long *out)
{
	const char	*env;

	*out = DEFAULT_ITERATIONS;
	if (opt != NULL) {
		if (parse_long(opt, 1, HASH_MAX_ITERATIONS, out) == -1)
			return fail(EXIT_USAGE, "--iterations must be a "
			    "number from 1 to %ld", HASH_MAX_ITERATIONS);
		return 0;
	}
	env = getenv("OTAS_KEY_ITERATIONS");
	if (env != NULL && env[0] != '\0' &&
	    parse_long(env, 1, HASH_MAX_ITERATIONS, out) == -1)
		return fail(EXIT_FAIL, "OTAS_KEY_ITERATIONS must be a number "
		    "from 1 to %ld", HASH_MAX_ITERATIONS);
	return 0;
}

/*
 * Expiry in days as a decimal string for the query, or NULL for a key that
 * never expires.  --expires-in and --never exclude each other.
 */
static int
key_expiry(const char *days, const char *never, char *buf, size_t cap,
    const char **out)
{
	long	 d = DEFAULT_EXPIRY_DAYS;
	int	 n;

	if (days != NULL && never != NULL)
		return fail(EXIT_USAGE, "--expires-in and --never exclude "
		    "each other");
	if (never != NULL) {
		*out = NULL;
		return 0;
	}
	if (days != NULL && parse_long(days, 1, MAX_EXPIRY_DAYS, &d) == -1)
		return fail(EXIT_USAGE, "--expires-in must be a number of days "
		    "from 1 to %ld", MAX_EXPIRY_DAYS);
	n = snprintf(buf, cap, "%ld", d);
	if (n < 0 || (size_t)n >= cap)
		return fail(EXIT_FAIL, "internal: expiry buffer");
	*out = buf;
	return 0;
}

/* ---------------------------------------------------------------- output */

static void
json_print(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static const char *
cell(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* A column as a JSON string, or JSON null for SQL NULL. */
static void
jcol(struct json_object *o, const char *key, const PGresult *res, int row,
    int col)
{
	const char	*v = cell(res, row, col);

	json_object_object_add(o, key, v == NULL ? NULL :
	    json_object_new_string(v));
}

static void
jbool(struct json_object *o, const char *key, const PGresult *res, int row,
    int col)
{
	json_object_object_add(o, key, json_object_new_boolean(
	    strcmp(PQgetvalue(res, row, col), "t") == 0));
}

/*
 * jsonb text from PostgreSQL, placed in the output verbatim: parsing it
 * again would round big numbers through a double or an int64.
 */
static struct json_object *
jraw(const char *text)
{
	struct json_object	*o;
	char			*copy;

	if ((copy = strdup(text)) == NULL)
		return NULL;
	o = json_object_new_object();
	json_object_set_serializer(o, json_object_userdata_to_json_string,
	    copy, json_object_free_userdata);
	return o;
}

static const char *
or_dash(const char *s)
{
	return s == NULL || s[0] == '\0' ? "-" : s;
}

/* -------------------------------------------------------------- database */

static void
notice_ignore(void *arg, const char *msg)
{
	/* "relation already exists, skipping" is expected; say nothing. */
}

/*
 * OTAS_DATABASE_URL (a URI or conninfo) else libpq's PG* defaults.  A
 * connect_timeout is supplied unless the URL or PGCONNECT_TIMEOUT sets one,
 * so a dead host fails the command instead of hanging it.
 */
static PGconn *
db_open(void)
{
	const char	*keys[4], *vals[4];
	const char	*url = getenv("OTAS_DATABASE_URL");
	PGconn		*conn;
	char		 line[512];
	int		 n = 0;

	if (getenv("PGCONNECT_TIMEOUT") == NULL) {
		keys[n] = "connect_timeout";
		vals[n++] = "10";
	}
	keys[n] = "application_name";
	vals[n++] = "otas-admin";
	if (url != NULL && url[0] != '\0') {
		keys[n] = "dbname";	/* expanded: the URL's settings win */
		vals[n++] = url;
	}
	keys[n] = NULL;
	vals[n] = NULL;
	if (url != NULL && url[0] != '\0') {
		PQconninfoOption	*opts;
		char			*perr = NULL;

		/* libpq's own message may quote the URL, password and all. */
		if ((opts = PQconninfoParse(url, &perr)) == NULL) {
			PQfreemem(perr);
			fail(EXIT_FAIL, "OTAS_DATABASE_URL is not a valid libpq "
			    "URI or conninfo string");
			return NULL;
		}
		PQconninfoFree(opts);
	}
	conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL) {
		fail(EXIT_FAIL, "cannot connect to the database: out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		one_line(PQerrorMessage(conn), line, sizeof line);
		fail(EXIT_FAIL, "cannot connect to the database: %s", line);
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, notice_ignore, NULL);
	return conn;
}

/*
 * Runs one parameterised statement.  Returns the result, or NULL after
 * printing the error.  Result values come back as text.
 */
static PGresult *
db_query(PGconn *conn, const char *sql, int n, const char *const *params)
{
	PGresult	*res;
	ExecStatusType	 st;

	res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	st = PQresultStatus(res);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return res;
	fail_db(conn, res);
	PQclear(res);
	return NULL;
}

static int
db_cmd(PGconn *conn, const char *sql)
{
	PGresult	*res;

	if ((res = db_query(conn, sql, 0, NULL)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/*
 * Looks up an agent.  Returns 0 with *active set, or an exit code after
 * printing why.  lock: FOR UPDATE, so a concurrent rotate waits.
 */
static int
agent_find(PGconn *conn, const char *id, int lock, int *active)
{
	const char	*p[1] = { id };
	PGresult	*res;

	res = db_query(conn, lock ?
	    "SELECT is_active FROM agent WHERE id = $1 FOR UPDATE" :
	    "SELECT is_active FROM agent WHERE id = $1", 1, p);
	if (res == NULL)
		return EXIT_FAIL;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return fail(EXIT_FAIL, "no agent with id %s", id);
	}
	*active = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}

/* ------------------------------------------------------------------ keys */

/*
 * n characters of [A-Za-z0-9] from RAND_bytes.  Bytes >= 248 (4 * 62) are
 * thrown away so every character is equally likely.
 */
static int
key_alnum(char *out, size_t n)
{
	static const char	 set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char		 buf[64];
	size_t			 i, got = 0;

	while (got < n) {
		if (RAND_bytes(buf, sizeof buf) != 1)
			return -1;
		for (i = 0; i < sizeof buf && got < n; i++)
			if (buf[i] < 248)
				out[got++] = set[buf[i] % 62];
	}
	out[got] = '\0';
	OPENSSL_cleanse(buf, sizeof buf);
	return 0;
}

/* 32 random bytes as unpadded base64url: 43 characters. */
static int
key_secret(char out[SECRET_LEN + 1])
{
	unsigned char	 raw[SECRET_BYTES];
	unsigned char	 b64[4 * ((SECRET_BYTES + 2) / 3) + 1];
	size_t		 i;

	if (RAND_bytes(raw, sizeof raw) != 1)
		return -1;
	if (EVP_EncodeBlock(b64, raw, sizeof raw) != SECRET_LEN + 1)
		return -1;
	for (i = 0; i < SECRET_LEN; i++)
		out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	out[SECRET_LEN] = '\0';
	OPENSSL_cleanse(raw, sizeof raw);
	OPENSSL_cleanse(b64, sizeof b64);
	return 0;
}

struct newkey {
	char	 id[UUID_STR_LEN + 1];
	char	 prefix[PREFIX_LEN + 1];
	char	 key[KEY_LEN + 1];
	char	 hashed[HASH_ENCODED_MAX];
	char	*expires_at;		/* NULL: never */
	char	*created_at;
};

static void
newkey_wipe(struct newkey *k)
{
	free(k->expires_at);
	free(k->created_at);
	OPENSSL_cleanse(k, sizeof *k);
}

/*
 * Makes a key and inserts its row inside the caller's transaction.  Every
 * column is given: an original OTAS database has no column defaults.
 */
static int
key_insert(PGconn *conn, const char *agent, const char *name,
    const char *days, long iterations, struct newkey *k)
{
	char		 secret[SECRET_LEN + 1];
	const char	*p[6];
	PGresult	*res;
	int		 n;

	memset(k, 0, sizeof *k);
	if (uuid7_make(k->id) == -1 || key_alnum(k->prefix, PREFIX_LEN) == -1 ||
	    key_secret(secret) == -1)
		return fail(EXIT_FAIL, "no random bytes available");
	n = snprintf(k->key, sizeof k->key, "agent_%s_%s", k->prefix, secret);
	OPENSSL_cleanse(secret, sizeof secret);
	if (n != KEY_LEN)
		return fail(EXIT_FAIL, "internal: key length");
	if (hash_make(k->key, KEY_LEN, iterations, k->hashed,
	    sizeof k->hashed) == -1)
		return fail(EXIT_FAIL, "cannot hash the new key");
	p[0] = k->id;
	p[1] = k->prefix;
	p[2] = k->hashed;
	p[3] = agent;
	p[4] = name;
	p[5] = days;
	res = db_query(conn,
	    "INSERT INTO agent_key (id, prefix, hashed_key, agent_id, name,"
	    " created_at, last_used_at, revoked_at, expires_at, active)"
	    " VALUES ($1, $2, $3, $4, $5, now(), NULL, NULL,"
	    " now() + make_interval(days => $6::int), true)"
	    " RETURNING " ISO("created_at") ", " ISO("expires_at"), 6, p);
	if (res == NULL)
		return EXIT_FAIL;
	n = 0;
	if ((k->created_at = strdup(PQgetvalue(res, 0, 0))) == NULL)
		n = -1;
	if (!PQgetisnull(res, 0, 1) &&
	    (k->expires_at = strdup(PQgetvalue(res, 0, 1))) == NULL)
		n = -1;
	PQclear(res);
	if (n == -1)
		return fail(EXIT_FAIL, "out of memory");
	return 0;
}

static void
key_print_text(const char *agent, const char *name, const struct newkey *k)
{
	printf("key id:    %s\n", k->id);
	printf("agent id:  %s\n", agent);
	printf("prefix:    %s\n", k->prefix);
	printf("name:      %s\n", or_dash(name));
	printf("expires:   %s\n", k->expires_at == NULL ? "never" :
	    k->expires_at);
	printf("\n%s\n\n", k->key);
	printf("This key is shown once and cannot be recovered: "
	    "only its hash is stored.\n");
}

static void
key_json_add(struct json_object *o, const struct newkey *k)
{
	json_object_object_add(o, "key_id", json_object_new_string(k->id));
	json_object_object_add(o, "prefix", json_object_new_string(k->prefix));
	json_object_object_add(o, "key", json_object_new_string(k->key));
	json_object_object_add(o, "expires_at", k->expires_at == NULL ? NULL :
	    json_object_new_string(k->expires_at));
}

/* ------------------------------------------------------------ migrations */

static const char *
sql_dir(const char *opt)
{
	const char	*env;

	if (opt != NULL)
		return opt;
	env = getenv("OTAS_SQL_DIR");
	if (env != NULL && env[0] != '\0')
		return env;
	return OTAS_SQL_DIR;
}

/* "NNN_anything.sql" -> NNN in [1, INT_MAX]; anything else is not ours. */
static int
mig_version(const char *name, long *v)
{
	size_t	 len = strlen(name), i = 0;
	char	 num[16];

	while (isdigit((unsigned char)name[i]))
		i++;
	if (i == 0 || i >= sizeof num || name[i] != '_' || len < 5 ||
	    strcmp(name + len - 4, ".sql") != 0)
		return -1;
	memcpy(num, name, i);
	num[i] = '\0';
	return parse_long(num, 1, INT_MAX, v);
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
	if (db_cmd(conn, "BEGIN") == -1 ||
	    db_cmd(conn, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")") == -1)
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

	if ((res = db_query(conn,
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
		if ((res = db_query(conn,
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
	if (db_cmd(conn, "CREATE TABLE otas_schema_migrations ("
	    " version integer PRIMARY KEY,"
	    " name text NOT NULL,"
	    " applied_at timestamptz NOT NULL DEFAULT now())") == -1)
		return EXIT_FAIL;
	if (!original || n == 0 || m[0].version != 1)
		return 0;
	p[0] = m[0].file;
	if (db_cmd(conn, "SET LOCAL client_min_messages = warning") == -1 ||
	    (res = db_query(conn, "INSERT INTO otas_schema_migrations"
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
	if (mig_begin(conn) == -1 || (res = db_query(conn,
	    "SELECT 1 FROM otas_schema_migrations WHERE version = $1",
	    1, p)) == NULL) {
		free(sql);
		return EXIT_FAIL;
	}
	done = PQntuples(res) > 0;
	PQclear(res);
	if (done) {
		free(sql);
		return db_cmd(conn, "COMMIT") == -1 ? EXIT_FAIL : 0;
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
	if ((res = db_query(conn, "INSERT INTO otas_schema_migrations"
	    " (version, name) VALUES ($1, $2)", 2, p)) == NULL)
		return EXIT_FAIL;
	PQclear(res);
	if (db_cmd(conn, "COMMIT") == -1)
		return EXIT_FAIL;
	*did = 1;
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

	if ((res = db_query(conn, "SELECT to_regclass('otas_schema_migrations')"
	    " IS NOT NULL", 0, NULL)) == NULL)
		return NULL;
	tracked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return db_query(conn, tracked ?
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

/* -------------------------------------------------------------- commands */

/* The value of option name ("" for a flag), or NULL when not given. */
static const char *
opt(const struct args *a, const char *name)
{
	size_t	 i, len = strlen(name);

	for (i = 0; a->cmd->opts[i] != NULL; i++)
		if (strncmp(a->cmd->opts[i], name, len) == 0 &&
		    (a->cmd->opts[i][len] == '\0' ||
		    a->cmd->opts[i][len] == '='))
			return a->val[i];
	return NULL;
}

static int
cmd_migrate(struct ctx *c, struct args *a)
{
	const char		*dir = sql_dir(opt(a, "sql-dir"));
	struct migration	*m = NULL;
	struct json_object	*applied = NULL, *adopted = NULL, *o;
	PGconn			*conn = NULL;
	PGresult		*res;
	size_t			 n = 0, i;
	int			 rc, did, count = 0;

	if ((rc = mig_list(dir, &m, &n)) != 0)
		return rc;
	rc = EXIT_FAIL;
	applied = json_object_new_array();
	adopted = json_object_new_array();
	if ((conn = db_open()) == NULL)
		goto out;
	if (mig_begin(conn) == -1 || mig_adopt(conn, m, n, adopted) != 0 ||
	    db_cmd(conn, "COMMIT") == -1)
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
	if ((res = mig_applied(conn)) == NULL)
		goto out;
	if (c->json) {
		o = json_object_new_object();
		json_object_object_add(o, "version",
		    json_object_new_int64(mig_top(res)));
		json_object_object_add(o, "applied", applied);
		json_object_object_add(o, "recorded", adopted);
		applied = adopted = NULL;
		json_print(o);
	} else if (count == 0)
		printf("schema up to date at version %ld\n", mig_top(res));
	else
		printf("schema now at version %ld\n", mig_top(res));
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
 * Three verdicts, each printed: the configuration as the endpoint would
 * read it, the database reachable, every migration of the SQL directory
 * applied.  Exit 1 when any failed.
 */
static int
cmd_check(struct ctx *c, struct args *a)
{
	const char		*dir = sql_dir(opt(a, "sql-dir"));
	struct otas_config	 cfg;
	struct migration	*m = NULL;
	struct json_object	*o, *pending;
	PGconn			*conn = NULL;
	PGresult		*res = NULL;
	char			 err[256];
	const char		*failed[3];
	size_t			 n = 0, i;
	long			 iter, latest = 0, current = -1;
	int			 ok_config, ok_db, ok_schema = 0, nfail = 0;

	pending = json_object_new_array();
	ok_config = config_load(&cfg, CONFIG_NEED_DB, err, sizeof err) == 0;
	if (ok_config)
		config_free(&cfg);
	else
		fail(EXIT_FAIL, "config: %s", err);
	if (ok_config && key_iterations(NULL, &iter) != 0)
		ok_config = 0;
	ok_db = (conn = db_open()) != NULL;
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
	if (!ok_config)
		failed[nfail++] = "config";
	if (!ok_db)
		failed[nfail++] = "database";
	if (ok_db && !ok_schema)	/* not checked without a database */
		failed[nfail++] = "schema";
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
		json_print(o);
	} else {
		printf("config    %s\n", ok_config ? "ok" : "FAILED");
		if (ok_db)
			printf("database  ok (PostgreSQL %s)\n",
			    or_dash(PQparameterStatus(conn, "server_version")));
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
	return fail(EXIT_FAIL, "check failed: %s, %s, %s", failed[0],
	    failed[1], failed[2]);
}

static int
cmd_agent_create(struct ctx *c, struct args *a)
{
	const char	*name = opt(a, "name"), *desc = opt(a, "description");
	const char	*prov = opt(a, "provider"), *proj = opt(a, "project-id");
	const char	*kname = opt(a, "key-name"), *days;
	char		 id[UUID_STR_LEN + 1], dbuf[16];
	const char	*p[5];
	struct newkey	 k;
	struct json_object *o;
	PGconn		*conn;
	PGresult	*res;
	long		 iter;
	int		 rc;

	memset(&k, 0, sizeof k);
	if (name == NULL)
		return fail(EXIT_USAGE, "agent create: --name is required");
	if (desc == NULL)
		desc = "";
	if (prov == NULL)
		prov = "";
	if (kname == NULL)
		kname = "";
	if ((rc = check_text("--name", name, 1)) != 0 ||
	    (rc = check_text("--provider", prov, 0)) != 0 ||
	    (rc = check_text("--key-name", kname, 0)) != 0 ||
	    (proj != NULL && (rc = check_uuid("--project-id", proj)) != 0) ||
	    (rc = key_expiry(opt(a, "expires-in"), opt(a, "never"), dbuf,
	    sizeof dbuf, &days)) != 0 ||
	    (rc = key_iterations(opt(a, "iterations"), &iter)) != 0)
		return rc;
	if (uuid7_make(id) == -1)
		return fail(EXIT_FAIL, "no random bytes available");
	if ((conn = db_open()) == NULL)
		return EXIT_FAIL;
	rc = EXIT_FAIL;
	p[0] = id;
	p[1] = name;
	p[2] = desc;
	p[3] = prov;
	p[4] = proj;
	if (db_cmd(conn, "BEGIN") == -1 || (res = db_query(conn,
	    "INSERT INTO agent (id, name, description, provider, project_id,"
	    " created_at, updated_at, created_by_id, is_active)"
	    " VALUES ($1, $2, $3, $4, $5, now(), now(), NULL, true)",
	    5, p)) == NULL)
		goto out;
	PQclear(res);
	if (key_insert(conn, id, kname, days, iter, &k) != 0 ||
	    db_cmd(conn, "COMMIT") == -1)
		goto out;
	if (c->json) {
		o = json_object_new_object();
		json_object_object_add(o, "agent_id",
		    json_object_new_string(id));
		json_object_object_add(o, "name", json_object_new_string(name));
		key_json_add(o, &k);
		json_print(o);
	} else {
		printf("agent:     %s\n", name);
		key_print_text(id, kname, &k);
	}
	rc = EXIT_OK;
out:
	newkey_wipe(&k);
	PQfinish(conn);
	return rc;
}

static int
cmd_agent_list(struct ctx *c, struct args *a)
{
	struct json_object	*o, *arr, *e;
	PGconn			*conn;
	PGresult		*res;
	int			 i;

	if ((conn = db_open()) == NULL)
		return EXIT_FAIL;
	res = db_query(conn, "SELECT a.id, a.name, a.provider, a.description,"
	    " a.project_id, a.is_active, " ISO("a.created_at") ","
	    " " ISO("a.updated_at") ", (SELECT count(*) FROM agent_key k"
	    " WHERE k.agent_id = a.id AND k.active AND k.revoked_at IS NULL"
	    " AND (k.expires_at IS NULL OR k.expires_at > now()))"
	    " FROM agent a ORDER BY a.created_at, a.id", 0, NULL);
	PQfinish(conn);
	if (res == NULL)
		return EXIT_FAIL;
	if (c->json) {
		o = json_object_new_object();
		arr = json_object_new_array();
		for (i = 0; i < PQntuples(res); i++) {
			e = json_object_new_object();
			jcol(e, "agent_id", res, i, 0);
			jcol(e, "name", res, i, 1);
			jcol(e, "provider", res, i, 2);
			jcol(e, "description", res, i, 3);
			jcol(e, "project_id", res, i, 4);
			jbool(e, "is_active", res, i, 5);
			jcol(e, "created_at", res, i, 6);
			jcol(e, "updated_at", res, i, 7);
			json_object_object_add(e, "active_keys",
			    json_object_new_int64(strtoll(PQgetvalue(res, i, 8),
			    NULL, 10)));
			json_object_array_add(arr, e);
		}
		json_object_object_add(o, "agents", arr);
		json_print(o);
	} else {
		printf("%-36s  %-8s  %-20s  %4s  %s\n", "ID", "STATE",
		    "CREATED", "KEYS", "NAME");
		for (i = 0; i < PQntuples(res); i++)
			printf("%-36s  %-8s  %-20s  %4s  %s\n",
			    PQgetvalue(res, i, 0),
			    strcmp(PQgetvalue(res, i, 5), "t") == 0 ?
			    "active" : "disabled", PQgetvalue(res, i, 6),
			    PQgetvalue(res, i, 8), PQgetvalue(res, i, 1));
	}
	PQclear(res);
	return EXIT_OK;
}

static int
cmd_agent_disable(struct ctx *c, struct args *a)
{
	const char		*p[1] = { a->pos[0] };
	struct json_object	*o;
	PGconn			*conn;
	PGresult		*res;
	int			 rc, active, changed;

	if ((rc = check_uuid("agent id", a->pos[0])) != 0)
		return rc;
	if ((conn = db_open()) == NULL)
		return EXIT_FAIL;
	if (db_cmd(conn, "BEGIN") == -1 ||
	    (rc = agent_find(conn, a->pos[0], 1, &active)) != 0) {
		PQfinish(conn);
		return EXIT_FAIL;
	}
	changed = active;
	if (active) {
		if ((res = db_query(conn, "UPDATE agent SET is_active = false,"
		    " updated_at = now() WHERE id = $1", 1, p)) == NULL) {
			PQfinish(conn);
			return EXIT_FAIL;
		}
		PQclear(res);
	}
	rc = db_cmd(conn, "COMMIT");
	PQfinish(conn);
	if (rc == -1)
		return EXIT_FAIL;
	if (c->json) {
		o = json_object_new_object();
		json_object_object_add(o, "agent_id",
		    json_object_new_string(a->pos[0]));
		json_object_object_add(o, "is_active",
		    json_object_new_boolean(0));
		json_object_object_add(o, "changed",
		    json_object_new_boolean(changed));
		json_print(o);
	} else
		printf("agent %s %s; its keys no longer work\n", a->pos[0],
		    changed ? "disabled" : "was already disabled");
	return EXIT_OK;
}

/*
 * key issue and key rotate: one transaction that (for rotate) revokes every
 * active key of the agent and inserts a new one.  The agent row is locked
 * so two rotations cannot interleave.
 */
static int
key_new(struct ctx *c, struct args *a, int rotate)
{
	const char		*agent = a->pos[0], *name = opt(a, "name");
	const char		*p[1] = { agent }, *days;
	char			 dbuf[16];
	struct newkey		 k;
	struct json_object	*o;
	PGconn			*conn;
	PGresult		*res;
	long			 iter, revoked = 0;
	int			 rc, active;

	memset(&k, 0, sizeof k);
	if (name == NULL)
		name = "";
	if ((rc = check_uuid("agent id", agent)) != 0 ||
	    (rc = check_text("--name", name, 0)) != 0 ||
	    (rc = key_expiry(opt(a, "expires-in"), opt(a, "never"), dbuf,
	    sizeof dbuf, &days)) != 0 ||
	    (rc = key_iterations(opt(a, "iterations"), &iter)) != 0)
		return rc;
	if ((conn = db_open()) == NULL)
		return EXIT_FAIL;
	rc = EXIT_FAIL;
	if (db_cmd(conn, "BEGIN") == -1 ||
	    agent_find(conn, agent, 1, &active) != 0)
		goto out;
	if (!active) {
		fail(EXIT_FAIL, "agent %s is disabled; a key for it would not "
		    "work", agent);
		goto out;
	}
	if (rotate) {
		if ((res = db_query(conn, "UPDATE agent_key SET"
		    " revoked_at = now(), active = false WHERE agent_id = $1"
		    " AND active AND revoked_at IS NULL", 1, p)) == NULL)
			goto out;
		revoked = strtol(PQcmdTuples(res), NULL, 10);
		PQclear(res);
	}
	if (key_insert(conn, agent, name, days, iter, &k) != 0 ||
	    db_cmd(conn, "COMMIT") == -1)
		goto out;
	if (c->json) {
		o = json_object_new_object();
		json_object_object_add(o, "agent_id",
		    json_object_new_string(agent));
		json_object_object_add(o, "name", json_object_new_string(name));
		key_json_add(o, &k);
		if (rotate)
			json_object_object_add(o, "revoked",
			    json_object_new_int64(revoked));
		json_print(o);
	} else {
		if (rotate)
			printf("revoked:   %ld key%s\n", revoked,
			    revoked == 1 ? "" : "s");
		key_print_text(agent, name, &k);
	}
	rc = EXIT_OK;
out:
	newkey_wipe(&k);
	PQfinish(conn);
	return rc;
}

static int
cmd_key_issue(struct ctx *c, struct args *a)
{
	return key_new(c, a, 0);
}

static int
cmd_key_rotate(struct ctx *c, struct args *a)
{
	return key_new(c, a, 1);
}

/* A prefix as this program and the original backend make them. */
static int
prefix_valid(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return 0;
	return i > 0 && i <= 255;
}

/*
 * KEY is a key id or a prefix.  A prefix shared by several keys (possible
 * with the original backend's prefixes) is refused: the operator names the
 * key by id instead.  Revoking a revoked key changes nothing and succeeds.
 */
static int
cmd_key_revoke(struct ctx *c, struct args *a)
{
	const char		*key = a->pos[0], *p[1] = { key };
	struct json_object	*o;
	PGconn			*conn;
	PGresult		*res;
	char			*id = NULL, *prefix = NULL;
	int			 byid, rc = EXIT_FAIL, changed = 0;

	byid = uuid_valid(key, strlen(key));
	if (!byid && !prefix_valid(key))
		return fail(EXIT_USAGE, "not a key id or prefix: %s", key);
	if ((conn = db_open()) == NULL)
		return EXIT_FAIL;
	if (db_cmd(conn, "BEGIN") == -1 || (res = db_query(conn, byid ?
	    "SELECT id, prefix, active AND revoked_at IS NULL FROM agent_key"
	    " WHERE id = $1 FOR UPDATE" :
	    "SELECT id, prefix, active AND revoked_at IS NULL FROM agent_key"
	    " WHERE prefix = $1 FOR UPDATE", 1, p)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		if (PQntuples(res) == 0)
			fail(EXIT_FAIL, "no key with %s %s", byid ? "id" :
			    "prefix", key);
		else
			fail(EXIT_FAIL, "%d keys share prefix %s; revoke by "
			    "key id (see otas-admin key list)",
			    PQntuples(res), key);
		PQclear(res);
		goto out;
	}
	changed = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	id = strdup(PQgetvalue(res, 0, 0));
	prefix = strdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	if (id == NULL || prefix == NULL) {
		fail(EXIT_FAIL, "out of memory");
		goto out;
	}
	p[0] = id;
	if (changed && (res = db_query(conn, "UPDATE agent_key SET"
	    " revoked_at = now(), active = false WHERE id = $1", 1, p)) == NULL)
		goto out;
	if (changed)
		PQclear(res);
	if (db_cmd(conn, "COMMIT") == -1)
		goto out;
	if (c->json) {
		o = json_object_new_object();
		json_object_object_add(o, "key_id", json_object_new_string(id));
		json_object_object_add(o, "prefix",
		    json_object_new_string(prefix));
		json_object_object_add(o, "changed",
		    json_object_new_boolean(changed));
		json_print(o);
	} else
		printf("key %s (%s) %s\n", prefix, id, changed ? "revoked" :
		    "was already revoked or inactive");
	rc = EXIT_OK;
out:
	free(id);
	free(prefix);
	PQfinish(conn);
	return rc;
}

static int
cmd_key_list(struct ctx *c, struct args *a)
{
	const char		*agent = a->pos[0], *p[1] = { agent };
	struct json_object	*o, *arr, *e;
	PGconn			*conn;
	PGresult		*res;
	int			 i, rc, active;

	if ((rc = check_uuid("agent id", agent)) != 0)
		return rc;
	if ((conn = db_open()) == NULL)
		return EXIT_FAIL;
	if ((rc = agent_find(conn, agent, 0, &active)) != 0) {
		PQfinish(conn);
		return rc;
	}
	res = db_query(conn, "SELECT id, prefix, name,"
	    " CASE WHEN NOT active OR revoked_at IS NOT NULL THEN 'revoked'"
	    " WHEN expires_at IS NOT NULL AND expires_at <= now()"
	    " THEN 'expired' ELSE 'active' END,"
	    " " ISO("created_at") ", " ISO("last_used_at") ","
	    " " ISO("expires_at") ", " ISO("revoked_at")
	    " FROM agent_key WHERE agent_id = $1"
	    " ORDER BY created_at DESC, id DESC", 1, p);
	PQfinish(conn);
	if (res == NULL)
		return EXIT_FAIL;
	if (c->json) {
		o = json_object_new_object();
		arr = json_object_new_array();
		json_object_object_add(o, "agent_id",
		    json_object_new_string(agent));
		for (i = 0; i < PQntuples(res); i++) {
			e = json_object_new_object();
			jcol(e, "key_id", res, i, 0);
			jcol(e, "prefix", res, i, 1);
			jcol(e, "name", res, i, 2);
			jcol(e, "state", res, i, 3);
			jcol(e, "created_at", res, i, 4);
			jcol(e, "last_used_at", res, i, 5);
			jcol(e, "expires_at", res, i, 6);
			jcol(e, "revoked_at", res, i, 7);
			json_object_array_add(arr, e);
		}
		json_object_object_add(o, "keys", arr);
		json_print(o);
	} else {
		printf("%-36s  %-12s  %-7s  %-20s  %-20s  %-20s  %s\n", "ID",
		    "PREFIX", "STATE", "CREATED", "LAST USED", "EXPIRES",
		    "NAME");
		for (i = 0; i < PQntuples(res); i++)
			printf("%-36s  %-12s  %-7s  %-20s  %-20s  %-20s  %s\n",
			    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			    PQgetvalue(res, i, 3), PQgetvalue(res, i, 4),
			    or_dash(cell(res, i, 5)),
			    cell(res, i, 6) == NULL ? "never" :
			    PQgetvalue(res, i, 6), or_dash(PQgetvalue(res, i, 2)));
	}
	PQclear(res);
	return EXIT_OK;
}

static int
cmd_session_list(struct ctx *c, struct args *a)
{
	const char		*agent = a->pos[0], *lim = opt(a, "limit");
	const char		*p[2];
	char			 lbuf[24];
	struct json_object	*o, *arr, *e;
	PGconn			*conn;
	PGresult		*res;
	long			 limit = DEFAULT_LIMIT;
	int			 i, rc, active;

	if ((rc = check_uuid("agent id", agent)) != 0)
		return rc;
	if (lim != NULL && parse_long(lim, 1, MAX_LIMIT, &limit) == -1)
		return fail(EXIT_USAGE, "--limit must be a number from 1 to %ld",
		    MAX_LIMIT);
	rc = snprintf(lbuf, sizeof lbuf, "%ld", limit);
	if (rc < 0 || (size_t)rc >= sizeof lbuf)
		return fail(EXIT_FAIL, "internal: limit buffer");
	if ((conn = db_open()) == NULL)
		return EXIT_FAIL;
	if ((rc = agent_find(conn, agent, 0, &active)) != 0) {
		PQfinish(conn);
		return rc;
	}
	p[0] = agent;
	p[1] = lbuf;
	res = db_query(conn, "SELECT s.id, s.agent_key_id, k.prefix,"
	    " " ISO("s.created_at") ", s.meta::text FROM agent_session s"
	    " LEFT JOIN agent_key k ON k.id = s.agent_key_id"
	    " WHERE s.agent_id = $1 ORDER BY s.created_at DESC, s.id DESC"
	    " LIMIT $2::int", 2, p);
	PQfinish(conn);
	if (res == NULL)
		return EXIT_FAIL;
	if (c->json) {
		o = json_object_new_object();
		arr = json_object_new_array();
		json_object_object_add(o, "agent_id",
		    json_object_new_string(agent));
		for (i = 0; i < PQntuples(res); i++) {
			e = json_object_new_object();
			jcol(e, "session_id", res, i, 0);
			jcol(e, "key_id", res, i, 1);
			jcol(e, "key_prefix", res, i, 2);
			jcol(e, "created_at", res, i, 3);
			json_object_object_add(e, "meta", jraw(
			    PQgetvalue(res, i, 4)));
			json_object_array_add(arr, e);
		}
		json_object_object_add(o, "sessions", arr);
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

/* ------------------------------------------------------ table and main */

#define KEY_OPTS_HELP \
	"  --name N          a label for the key\n" \
	"  --expires-in DAYS key expires after DAYS days (default 30)\n" \
	"  --never           key never expires\n" \
	"  --iterations N    PBKDF2 iterations (default OTAS_KEY_ITERATIONS " \
	"or 1000)\n"

static const struct cmd cmds[] = {
	{ NULL, "migrate", { "sql-dir=", NULL }, 0, 0, cmd_migrate,
	  "migrate [--sql-dir DIR]",
	  "Applies the SQL migrations not yet applied, in numeric order, each\n"
	  "in its own transaction with its row in otas_schema_migrations.\n"
	  "  --sql-dir DIR     migrations directory (default $OTAS_SQL_DIR or\n"
	  "                    " OTAS_SQL_DIR ")\n" },
	{ NULL, "check", { "sql-dir=", NULL }, 0, 0, cmd_check,
	  "check [--sql-dir DIR]",
	  "Checks the configuration, that the database is reachable, and that\n"
	  "every migration is applied.  Exit 0 when all pass, 1 otherwise.\n"
	  "  --sql-dir DIR     migrations directory to compare against\n" },
	{ "agent", "create", { "name=", "provider=", "description=",
	  "project-id=", "key-name=", "expires-in=", "never", "iterations=" },
	  0, 0, cmd_agent_create,
	  "agent create --name N [--provider P] [--description D] "
	  "[--project-id UUID]\n"
	  "                    [--key-name N] [--expires-in DAYS | --never] "
	  "[--iterations N]",
	  "Creates an active agent and its first key, and prints the key once.\n"
	  "  --name N          agent name (required)\n"
	  "  --provider P      provider, e.g. openai\n"
	  "  --description D   free text\n"
	  "  --project-id UUID project the agent belongs to\n"
	  "  --key-name N      a label for the first key\n"
	  "  --expires-in DAYS key expires after DAYS days (default 30)\n"
	  "  --never           key never expires\n"
	  "  --iterations N    PBKDF2 iterations (default OTAS_KEY_ITERATIONS "
	  "or 1000)\n" },
	{ "agent", "list", { NULL }, 0, 0, cmd_agent_list,
	  "agent list",
	  "Lists every agent with its state and number of usable keys.\n" },
	{ "agent", "disable", { NULL }, 1, 1, cmd_agent_disable,
	  "agent disable AGENT_ID",
	  "Disables an agent: none of its keys works from the next request.\n" },
	{ "key", "issue", { "name=", "expires-in=", "never", "iterations=" },
	  1, 1, cmd_key_issue,
	  "key issue AGENT_ID [--name N] [--expires-in DAYS | --never] "
	  "[--iterations N]",
	  "Issues a new key for an agent and prints it once.\n"
	  KEY_OPTS_HELP },
	{ "key", "rotate", { "name=", "expires-in=", "never", "iterations=" },
	  1, 1, cmd_key_rotate,
	  "key rotate AGENT_ID [--name N] [--expires-in DAYS | --never] "
	  "[--iterations N]",
	  "Revokes every active key of an agent and issues one new key, in one\n"
	  "transaction, and prints the new key once.\n"
	  KEY_OPTS_HELP },
	{ "key", "revoke", { NULL }, 1, 1, cmd_key_revoke,
	  "key revoke KEY_ID|PREFIX",
	  "Revokes one key, named by its id or its prefix.  It stops working\n"
	  "at the next request.\n" },
	{ "key", "list", { NULL }, 1, 1, cmd_key_list,
	  "key list AGENT_ID",
	  "Lists an agent's keys: prefix, state (active, revoked, expired),\n"
	  "created, last used, expires.  Never the hash.\n" },
	{ "session", "list", { "limit=", NULL }, 1, 1, cmd_session_list,
	  "session list AGENT_ID [--limit N]",
	  "Lists an agent's sessions, newest first, with their meta.\n"
	  "  --limit N         at most N sessions (default 20)\n" },
};
#define NCMDS	(sizeof cmds / sizeof cmds[0])

static void
usage_all(FILE *f)
{
	size_t	 i;

	fputs("usage: otas-admin [--json] COMMAND [ARGS]\n\ncommands:\n", f);
	for (i = 0; i < NCMDS; i++)
		fprintf(f, "  %s%s%s\n", cmds[i].group ? cmds[i].group : "",
		    cmds[i].group ? " " : "", cmds[i].synopsis +
		    (cmds[i].group ? strlen(cmds[i].group) + 1 : 0));
	fputs("\n--json anywhere prints one JSON object on stdout.\n"
	    "--help after a command explains it.  Database: OTAS_DATABASE_URL\n"
	    "or libpq's PG* variables.  See otas-admin(1).\n"
	    "Exit status: 0 ok, 1 failed, 2 usage.\n", f);
}

static void
usage_group(const char *group)
{
	size_t	 i;

	printf("usage:\n");
	for (i = 0; i < NCMDS; i++)
		if (cmds[i].group != NULL && strcmp(cmds[i].group, group) == 0)
			printf("  otas-admin %s\n", cmds[i].synopsis);
}

static void
usage_cmd(const struct cmd *c)
{
	printf("usage: otas-admin %s\n\n%s", c->synopsis, c->help);
	printf("  --json            print one JSON object\n");
}

static int
is_group(const char *word)
{
	size_t	 i;

	for (i = 0; i < NCMDS; i++)
		if (cmds[i].group != NULL && strcmp(cmds[i].group, word) == 0)
			return 1;
	return 0;
}

static const struct cmd *
cmd_find(const char *group, const char *name)
{
	size_t	 i;

	for (i = 0; i < NCMDS; i++) {
		if ((group == NULL) != (cmds[i].group == NULL))
			continue;
		if (group != NULL && strcmp(cmds[i].group, group) != 0)
			continue;
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	}
	return NULL;
}

/*
 * Options as "--opt VALUE" or "--opt=VALUE", in any order among the
 * positional arguments; "--" ends options.  Each at most once.
 */
static int
args_parse(const struct cmd *c, const char *label, int argc, char **argv,
    struct args *a)
{
	const char	*arg, *eq;
	size_t		 i, len;
	int		 k, dashdash = 0;

	memset(a, 0, sizeof *a);
	a->cmd = c;
	for (k = 0; k < argc; k++) {
		arg = argv[k];
		if (!dashdash && strcmp(arg, "--") == 0) {
			dashdash = 1;
			continue;
		}
		if (dashdash || arg[0] != '-' || arg[1] == '\0') {
			if (a->npos == c->maxpos)
				return fail(EXIT_USAGE, "%s: unexpected "
				    "argument: %s", label, arg);
			a->pos[a->npos++] = arg;
			continue;
		}
		if (arg[1] != '-')
			return fail(EXIT_USAGE, "%s: unknown option %s",
			    label, arg);
		arg += 2;
		eq = strchr(arg, '=');
		len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
		for (i = 0; c->opts[i] != NULL; i++)
			if (strncmp(c->opts[i], arg, len) == 0 &&
			    (c->opts[i][len] == '\0' ||
			    c->opts[i][len] == '='))
				break;
		if (c->opts[i] == NULL)
			return fail(EXIT_USAGE, "%s: unknown option --%.*s",
			    label, (int)len, arg);
		if (a->val[i] != NULL)
			return fail(EXIT_USAGE, "%s: --%.*s given twice",
			    label, (int)len, arg);
		if (c->opts[i][len] == '\0') {
			if (eq != NULL)
				return fail(EXIT_USAGE, "%s: --%.*s takes no "
				    "value", label, (int)len, arg);
			a->val[i] = "";
		} else if (eq != NULL)
			a->val[i] = eq + 1;
		else if (k + 1 < argc)
			a->val[i] = argv[++k];
		else
			return fail(EXIT_USAGE, "%s: --%.*s needs a value",
			    label, (int)len, arg);
	}
	if (a->npos < c->minpos)
		return fail(EXIT_USAGE, "%s: missing argument (usage: "
		    "otas-admin %s)", label, c->synopsis);
	return 0;
}

int
main(int argc, char *argv[])
{
	const struct cmd	*c;
	struct ctx		 ctx;
	struct args		 a;
	char			**av, label[64];
	int			 i, n = 0, help = 0, dashdash = 0, rc, first;

	memset(&ctx, 0, sizeof ctx);
	if ((av = calloc(argc + 1, sizeof *av)) == NULL)
		return fail(EXIT_FAIL, "out of memory");
	/* --json and --help may appear anywhere before "--". */
	for (i = 1; i < argc; i++) {
		if (!dashdash && strcmp(argv[i], "--json") == 0)
			ctx.json = 1;
		else if (!dashdash && (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0))
			help = 1;
		else {
			if (strcmp(argv[i], "--") == 0)
				dashdash = 1;
			av[n++] = argv[i];
		}
	}
	rc = EXIT_USAGE;
	if (n == 0) {
		if (help) {
			usage_all(stdout);
			rc = EXIT_OK;
		} else
			fail(EXIT_USAGE, "no command given (see otas-admin "
			    "--help)");
		goto out;
	}
	first = 1;
	if (is_group(av[0])) {
		if (n < 2) {
			if (help) {
				usage_group(av[0]);
				rc = EXIT_OK;
			} else
				fail(EXIT_USAGE, "%s: missing subcommand (see "
				    "otas-admin %s --help)", av[0], av[0]);
			goto out;
		}
		c = cmd_find(av[0], av[1]);
		first = 2;
	} else
		c = cmd_find(NULL, av[0]);
	if (c == NULL) {
		fail(EXIT_USAGE, "unknown command: %s%s%s (see otas-admin "
		    "--help)", av[0], first == 2 ? " " : "",
		    first == 2 ? av[1] : "");
		goto out;
	}
	if (help) {
		usage_cmd(c);
		rc = EXIT_OK;
		goto out;
	}
	i = snprintf(label, sizeof label, "%s%s%s", c->group ? c->group : "",
	    c->group ? " " : "", c->name);
	if (i < 0 || (size_t)i >= sizeof label ||
	    (rc = args_parse(c, label, n - first, av + first, &a)) != 0)
		goto out;
	rc = c->fn(&ctx, &a);
out:
	free(av);
	if (fflush(stdout) == EOF && rc == EXIT_OK)
		rc = fail(EXIT_FAIL, "cannot write output: %s",
		    strerror(errno));
	return rc;
}
