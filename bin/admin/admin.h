/*
 * admin — what the parts of otas-admin share: exit codes, limits, the
 * command table's types, and the helpers every command uses (one-line
 * errors, id and name checks, JSON output, libpq with parameters only).
 * The program is bin/otas-admin.c (command table, argument parsing, main)
 * plus one file per subject here: util.c, out.c, become.c, migrate.c, check.c,
 * agents.c, keys.c, limits.c, purge.c.
 *
 * Memory: results (PGresult) belong to the caller, who PQclear()s them;
 * json_print() consumes the object it prints.
 */
#ifndef OTAS_ADMIN_H
#define OTAS_ADMIN_H

#include <stddef.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "config.h"
#include "decimal.h"
#include "hash.h"
#include "key.h"
#include "uuid.h"

#ifndef OTAS_SQL_DIR
#define OTAS_SQL_DIR "/usr/local/share/otas-fcgi/sql"
#endif

#define EXIT_OK		0
#define EXIT_FAIL	1
#define EXIT_USAGE	2

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

/* The runtime role's rights, in the SQL directory, applied by migrate. */
#define GRANTS_FILE	"grants.sql"

#define NCOLS(a)	((int)(sizeof(a) / sizeof((a)[0])))

/* ISO 8601 in UTC, made by PostgreSQL. */
#define ISO(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/*
 * What main hands every command: the output form and the settings (the
 * settings file beside the program and the environment), read once.  When
 * they are bad only `check` runs, to report it; cfg is then empty.
 */
struct ctx {
	int		 json;
	const char	*as;		/* check --as USER: the user we became */
	struct otas_config cfg;
	int		 cfg_ok;
	char		 cfg_err[512];
};

struct cmd;

struct args {
	const struct cmd *cmd;
	const char	*val[MAX_OPTS];	/* per option of the command; NULL: absent */
	const char	*pos[MAX_POS];
	int		 npos;
};

/*
 * CMD_REPORTS: runs with bad settings too, to report them (check); and
 * --as USER is honoured: main becomes USER before the settings are read.
 */
#define CMD_REPORTS	0x1

struct cmd {
	const char	*group;		/* "agent", "key", "session" or NULL */
	const char	*name;
	const char	*opts[MAX_OPTS + 1]; /* "name=" takes a value; NULL ends */
	int		 minpos, maxpos;
	int		(*fn)(struct ctx *, struct args *);
	const char	*synopsis;
	const char	*help;
	int		 flags;		/* CMD_*; 0 for most */
};

struct migration {
	long		 version;
	char		*file;		/* file name inside the directory */
};

/* util.c: errors.  fail() prints "otas-admin: ..." and returns code. */
int	 fail(int code, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	 fail_db(PGconn *conn, const PGresult *res);
void	 one_line(const char *in, char *out, size_t cap);
void	 db_error_line(PGconn *conn, const PGresult *res, char *line,
	    size_t cap);

/* util.c: checked input; each returns 0 or an exit code after printing. */
int	 check_uuid(const char *what, const char *s);
int	 check_text(const char *what, const char *s, int required);
const char *opt(const struct args *a, const char *name);

/* out.c: output. */
void	 json_print(struct json_object *o);
const char *cell(const PGresult *res, int row, int col);
struct json_object *jraw(const char *text);

/* How a result column becomes a member of a listing's JSON objects. */
enum jkind { J_TEXT, J_BOOL, J_INT, J_RAW };
struct jcolumn {
	const char	*name;
	enum jkind	 kind;
};

/*
 * The rows of res as a JSON array of objects, column i named cols[i].name
 * (ncols must be res's column count); SQL NULL becomes JSON null.
 */
struct json_object *jrows(const PGresult *res, const struct jcolumn *cols,
	    int ncols);
const char *or_dash(const char *s);

/*
 * out.c: a command's answer, gathered field by field and line by line;
 * with --json the fields make one object printed by out_end, else the
 * lines are printed as they come.  A string, value or line given in the
 * other form is ignored; out_add consumes v even then.
 */
struct out {
	int		 json;
	struct json_object *obj;
};
void	 out_start(struct out *o, const struct ctx *c);
void	 out_add(struct out *o, const char *key, struct json_object *v);
void	 out_str(struct out *o, const char *key, const char *s);
void	 out_int(struct out *o, const char *key, long long n);
void	 out_bool(struct out *o, const char *key, int b);
void	 out_rows(struct out *o, const char *key, const PGresult *res,
	    const struct jcolumn *cols, int ncols);
void	 out_line(struct out *o, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 out_end(struct out *o);
void	 out_drop(struct out *o);

/* util.c: database. */
PGconn	*admin_connect(const struct otas_config *cfg);
PGresult *admin_query(PGconn *conn, const char *sql, int n,
	    const char *const *params);
int	 admin_exec(PGconn *conn, const char *sql);
/* become.c: drop from root to user for good (check --as); 0 or exit code. */
int	 admin_become(const char *user);
int	 agent_find(PGconn *conn, const char *id, int lock, int *active);
PGresult *agent_query(const struct ctx *c, const char *agent, const char *sql,
	    int n, const char *const *params, int *rc);

/*
 * PostgreSQL's count of rows a command touched (PQcmdTuples) into *n;
 * EXIT_FAIL after printing when it is not a number.
 */
int	 db_rows(PGresult *res, long long *n);
/* The same for the bigint in row, col of res. */
int	 db_cell(const PGresult *res, int row, int col, long long *n);

/* migrate.c: the migration files and the versions applied (check.c). */
const char *mig_sql_dir(const struct otas_config *cfg, const char *opt);
int	 mig_list(const char *dir, struct migration **out, size_t *count);
void	 mig_free(struct migration *m, size_t n);
PGresult *mig_applied(PGconn *conn);
int	 mig_is_applied(const PGresult *res, long version);
long	 mig_top(const PGresult *res);

/*
 * keys.c: a new key, made and inserted in the caller's transaction by
 * key_insert, printed by key_print, wiped by newkey_wipe.
 */
struct newkey {
	char	 id[UUID_STR_LEN + 1];
	char	 prefix[KEY_PREFIX_LEN + 1];
	char	 key[KEY_ISSUED_LEN + 1];
	char	 hashed[HASH_ENCODED_MAX];
	char	*expires_at;		/* NULL: never */
	char	*created_at;
};

/* What a new key is made with: its name (checked by the caller), then
 * the options every command that makes one takes (key_options). */
struct keyopts {
	const char	*name;		/* --name / --key-name; "" if absent */
	const char	*days;		/* NULL: never expires */
	char		 dbuf[16];
	long		 iterations;
};

int	 key_options(const struct ctx *c, const struct args *a,
	    struct keyopts *ko);
int	 key_insert(PGconn *conn, const char *agent, const struct keyopts *ko,
	    struct newkey *k);
void	 key_print(struct out *o, const char *agent, const char *name,
	    const struct newkey *k);
void	 newkey_wipe(struct newkey *k);

/* The commands: 0, or an exit code after one line on stderr. */
int	 cmd_migrate(struct ctx *, struct args *);
int	 cmd_check(struct ctx *, struct args *);
int	 cmd_agent_create(struct ctx *, struct args *);
int	 cmd_agent_list(struct ctx *, struct args *);
int	 cmd_agent_disable(struct ctx *, struct args *);
int	 cmd_agent_enable(struct ctx *, struct args *);
int	 cmd_agent_limit(struct ctx *, struct args *);
int	 cmd_key_issue(struct ctx *, struct args *);
int	 cmd_key_rotate(struct ctx *, struct args *);
int	 cmd_key_revoke(struct ctx *, struct args *);
int	 cmd_key_list(struct ctx *, struct args *);
int	 cmd_session_list(struct ctx *, struct args *);
int	 cmd_session_purge(struct ctx *, struct args *);
int	 cmd_session_end(struct ctx *, struct args *);

#endif
