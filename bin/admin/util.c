/*
 * util — the helpers every otas-admin command uses: one-line errors, checks
 * of ids and names (numbers are decimal.c's), JSON output with json-c, and
 * libpq with every value a parameter.  Nothing here knows a command.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "passwd.h"
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

int
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

/* ---------------------------------------------------------------- output */

void
json_print(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

const char *
cell(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/*
 * jsonb text from PostgreSQL, placed in the output verbatim: parsing it
 * again would round big numbers through a double or an int64.
 */
struct json_object *
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

/* One cell as the member kind says; NULL (JSON null) for SQL NULL. */
static struct json_object *
jcell(const PGresult *res, int row, int col, enum jkind kind)
{
	const char	*v = cell(res, row, col);
	long long	 n;

	if (v == NULL)
		return NULL;
	switch (kind) {
	case J_BOOL:
		return json_object_new_boolean(strcmp(v, "t") == 0);
	case J_INT:
		if (decimal_parse(v, strlen(v), LLONG_MIN, LLONG_MAX, &n) == -1)
			return NULL;
		return json_object_new_int64(n);
	case J_RAW:
		return jraw(v);
	default:
		return json_object_new_string(v);
	}
}

struct json_object *
jrows(const PGresult *res, const struct jcolumn *cols, int ncols)
{
	struct json_object	*arr = json_object_new_array(), *e;
	int			 i, k;

	for (i = 0; i < PQntuples(res); i++) {
		e = json_object_new_object();
		for (k = 0; k < ncols; k++)
			json_object_object_add(e, cols[k].name,
			    jcell(res, i, k, cols[k].kind));
		json_object_array_add(arr, e);
	}
	return arr;
}

const char *
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
 * OTAS_DATABASE_URL (a URI or conninfo, checked by config_load) else
 * libpq's PG* defaults.  A connect_timeout is supplied unless the URL or
 * PGCONNECT_TIMEOUT sets one, so a dead host fails the command instead of
 * hanging it.
 */
PGconn *
admin_connect(const struct otas_config *cfg)
{
	const char	*keys[4], *vals[4];
	const char	*url = cfg->database_url;
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
 * The static build must not call getpwnam or initgroups: static glibc
 * loads the host's NSS modules for them and crashes in there (Debian's
 * libnss_systemd).  It reads /etc/passwd and /etc/group itself
 * (lib/passwd.c); the dynamic build asks NSS, so LDAP or systemd users
 * are found too.
 */
#define BECOME_FILE_MAX	(4 * 1024 * 1024)
#define BECOME_GROUPS	1024

struct who {
	struct passwd_entry	 e;
	gid_t			 groups[BECOME_GROUPS];
	int			 ngroups;
};

#ifdef OTAS_STATIC_BUILD
/* A whole file of at most BECOME_FILE_MAX bytes; caller frees. */
static char *
read_small(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf;
	size_t	 n;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	if ((buf = malloc(BECOME_FILE_MAX)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, BECOME_FILE_MAX, f);
	if (ferror(f) || n == BECOME_FILE_MAX) {
		fclose(f);
		free(buf);
		errno = n == BECOME_FILE_MAX ? EFBIG : EIO;
		return NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

static int
who_find(const char *user, struct who *w)
{
	char	*text;
	size_t	 len;
	int	 found;

	if ((text = read_small("/etc/passwd", &len)) == NULL)
		return fail(EXIT_FAIL, "check --as: cannot read /etc/passwd: "
		    "%s", strerror(errno));
	found = passwd_find(text, len, user, &w->e);
	free(text);
	if (!found)
		return fail(EXIT_FAIL, "check --as: no user %s in /etc/passwd "
		    "(the static otas-admin reads no other user database)",
		    user);
	if ((text = read_small("/etc/group", &len)) == NULL)
		return fail(EXIT_FAIL, "check --as: cannot read /etc/group: "
		    "%s", strerror(errno));
	w->ngroups = passwd_groups(text, len, w->e.name, w->e.gid, w->groups,
	    BECOME_GROUPS);
	free(text);
	if (w->ngroups < 0)
		return fail(EXIT_FAIL, "check --as %s: in more than %d groups",
		    w->e.name, BECOME_GROUPS);
	return 0;
}
#else
static int
who_find(const char *user, struct who *w)
{
	struct passwd	*pw;
	int		 n, ng = BECOME_GROUPS;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL)
		return fail(EXIT_FAIL, "check --as: no user %s%s%s", user,
		    errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
	n = snprintf(w->e.name, sizeof w->e.name, "%s", pw->pw_name);
	if (n < 0 || (size_t)n >= sizeof w->e.name ||
	    (n = snprintf(w->e.home, sizeof w->e.home, "%s", pw->pw_dir)) < 0 ||
	    (size_t)n >= sizeof w->e.home)
		return fail(EXIT_FAIL, "check --as: user name or home too long");
	w->e.uid = pw->pw_uid;
	w->e.gid = pw->pw_gid;
	if (getgrouplist(w->e.name, w->e.gid, w->groups, &ng) == -1)
		return fail(EXIT_FAIL, "check --as %s: in more than %d groups",
		    w->e.name, BECOME_GROUPS);
	w->ngroups = ng;
	return 0;
}
#endif

/*
 * Becomes user for the rest of the process: its groups, then its gid, then
 * its uid, and HOME, USER and LOGNAME as a login would set them, so libpq
 * finds that user's ~/.pgpass and default role name.  A user other than
 * oneself needs root; a process still able to get root back afterwards is
 * a failure too.  Oneself (a shared host's customer, whom suEXEC runs the
 * programs as) is checked as is: nothing to become.
 */
int
admin_become(const char *user)
{
	static struct who	 w;	/* 4 KiB of groups: not on the stack */

	if (who_find(user, &w) != 0)
		return EXIT_FAIL;
	if (w.e.uid == getuid() && w.e.uid == geteuid() && w.e.uid != 0)
		return 0;
	if (geteuid() != 0)
		return fail(EXIT_FAIL, "check --as: only root can check as "
		    "another user (run it as %s itself, or as root)",
		    w.e.name);
	if (setgroups((size_t)w.ngroups, w.groups) == -1 ||
	    setgid(w.e.gid) == -1 || setuid(w.e.uid) == -1)
		return fail(EXIT_FAIL, "check --as %s: cannot become it: %s",
		    w.e.name, strerror(errno));
	if (w.e.uid != 0 && (setuid(0) != -1 || seteuid(0) != -1))
		return fail(EXIT_FAIL, "check --as %s: root could be regained",
		    w.e.name);
	if (setenv("HOME", w.e.home, 1) == -1 ||
	    setenv("USER", w.e.name, 1) == -1 ||
	    setenv("LOGNAME", w.e.name, 1) == -1)
		return fail(EXIT_FAIL, "out of memory");
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
