/*
 * util — the helpers every otas-admin command uses: one-line errors, checks
 * of ids and names, numbers from PostgreSQL's text (by decimal.c), libpq
 * with every value a parameter, the agent lookup and option values.
 * Nothing here knows a command; output is out.c's.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uuid.h"
#include "admin.h"

/* ---------------------------------------------------------------- errors */

int
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
void
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

/* The primary message of res (else conn's last error) as one line. */
void
db_error_line(PGconn *conn, const PGresult *res, char *line, size_t cap)
{
	const char	*msg = NULL;

	if (res != NULL)
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (msg == NULL)
		msg = PQerrorMessage(conn);
	one_line(msg, line, cap);
}

int
fail_db(PGconn *conn, const PGresult *res)
{
	char	 line[512];

	db_error_line(conn, res, line, sizeof(line));
	return fail(EXIT_FAIL, "database: %s", line[0] != '\0' ? line :
	    "unknown error");
}

/* --------------------------------------------------------------- parsing */

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

int
check_uuid(const char *what, const char *s)
{
	if (!uuid_valid(s, strlen(s)))
		return fail(EXIT_USAGE, "%s is not a uuid: %s", what, s);
	return 0;
}

int
check_text(const char *what, const char *s, int required)
{
	if (required && s[0] == '\0')
		return fail(EXIT_USAGE, "%s must not be empty", what);
	if (utf8_chars(s) > NAME_MAX_CHARS)
		return fail(EXIT_USAGE, "%s is longer than %d characters",
		    what, NAME_MAX_CHARS);
	/* Names are printed in tables: no escape sequences, no newlines. */
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return fail(EXIT_USAGE, "%s contains a control "
			    "character", what);
	return 0;
}

/* -------------------------------------------------------------- database */

static void
notice_ignore(void *arg, const char *msg)
{
	/* "relation already exists, skipping" is expected; say nothing. */
}

/* How many hosts the URL (else PGHOST) lists: libpq tries each in turn. */
static long
conn_hosts(const char *url)
{
	PQconninfoOption	*opts, *o;
	const char		*hosts = getenv("PGHOST");
	long			 n = 1;

	opts = url != NULL && url[0] != '\0' ? PQconninfoParse(url, NULL) :
	    NULL;
	for (o = opts; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, "host") == 0 && o->val != NULL)
			hosts = o->val;
	for (; hosts != NULL && *hosts != '\0'; hosts++)
		n += *hosts == ',';
	PQconninfoFree(opts);
	return n;
}

/*
 * libpq's connect_timeout for each host: OTAS_CONNECT_TIMEOUT, or less so
 * that every host of the list together stays within OTAS_DB_DEADLINE_MS
 * (libpq counts whole seconds and waits 2 at least).
 */
static long
conn_timeout(const struct otas_config *cfg)
{
	long	 share;

	share = (cfg->db_deadline_ms / conn_hosts(cfg->database_url)) / 1000;
	if (share < 2)
		share = 2;
	return share < cfg->connect_timeout ? share : cfg->connect_timeout;
}

/*
 * OTAS_DATABASE_URL (a URI or conninfo, checked by config_load) else
 * libpq's PG* defaults.  libpq's blocking connect, not lib/db.c's: a
 * command runs free SQL (migrations, transactions) with no deadline of
 * its own, and libpq moves on to a list's next host only when it blocks.
 * The connect_timeout (conn_timeout) is supplied unless the URL or
 * PGCONNECT_TIMEOUT sets one, so a frozen host fails the command within
 * OTAS_DB_DEADLINE_MS instead of hanging it.
 */
PGconn *
admin_connect(const struct otas_config *cfg)
{
	const char	*keys[4], *vals[4];
	const char	*url = cfg->database_url;
	PGconn		*conn;
	char		 line[512], timeout[24];
	int		 n = 0, w;

	w = snprintf(timeout, sizeof(timeout), "%ld", conn_timeout(cfg));
	if (getenv("PGCONNECT_TIMEOUT") == NULL && w > 0 &&
	    (size_t)w < sizeof(timeout)) {
		keys[n] = "connect_timeout";
		vals[n++] = timeout;
	}
	keys[n] = "application_name";
	vals[n++] = "otas-admin";
	if (url != NULL && url[0] != '\0') {
		keys[n] = "dbname";	/* expanded: the URL's settings win */
		vals[n++] = url;
	}
	keys[n] = NULL;
	vals[n] = NULL;
	if ((conn = PQconnectdbParams(keys, vals, 1)) == NULL) {
		fail(EXIT_FAIL, "cannot connect to the database: out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		one_line(PQerrorMessage(conn), line, sizeof(line));
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
PGresult *
admin_query(PGconn *conn, const char *sql, int n, const char *const *params)
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

int
admin_exec(PGconn *conn, const char *sql)
{
	PGresult	*res;

	if ((res = admin_query(conn, sql, 0, NULL)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/*
 * Looks up an agent.  Returns 0 with *active set, or an exit code after
 * printing why.  lock: FOR UPDATE, so a concurrent rotate waits.
 */
int
agent_find(PGconn *conn, const char *id, int lock, int *active)
{
	const char	*p[1] = { id };
	PGresult	*res;

	res = admin_query(conn, lock ?
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

/*
 * For the listings of one agent: checks its id, connects, finds the agent
 * and runs sql.  Returns the rows, or NULL with *rc the exit code after
 * printing why.
 */
PGresult *
agent_query(const struct ctx *c, const char *agent, const char *sql, int n,
    const char *const *params, int *rc)
{
	PGconn		*conn;
	PGresult	*res = NULL;
	int		 active;

	if ((*rc = check_uuid("agent id", agent)) != 0)
		return NULL;
	*rc = EXIT_FAIL;
	if ((conn = admin_connect(&c->cfg)) == NULL)
		return NULL;
	if ((*rc = agent_find(conn, agent, 0, &active)) == 0 &&
	    (res = admin_query(conn, sql, n, params)) == NULL)
		*rc = EXIT_FAIL;
	PQfinish(conn);
	return res;
}

/*
 * PostgreSQL's text for a bigint (a count, a row count) into *n; an
 * exit code after printing when it is not one.
 */
static int
db_bigint(const char *text, long long *n)
{
	if (decimal_parse(text, strlen(text), LLONG_MIN, LLONG_MAX, n) == -1)
		return fail(EXIT_FAIL, "database: not a number: %.32s", text);
	return 0;
}

int
db_rows(PGresult *res, long long *n)
{
	return db_bigint(PQcmdTuples(res), n);
}

int
db_cell(const PGresult *res, int row, int col, long long *n)
{
	return db_bigint(PQgetvalue(res, row, col), n);
}

/* The value of option name ("" for a flag), or NULL when not given. */
const char *
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
