/*
 * otas-admin — the operator's command line: schema migrations, agents, keys,
 * sessions and a health check (doc/agents-and-keys.md;
 * manual: otas-admin.1).
 *
 * Shape: one table of commands here; main() strips the flags every command
 * takes (--json, --help), finds the command, parses its options against the
 * table, and calls one function from bin/admin/ (one file per subject:
 * migrate.c, check.c, agents.c, keys.c, limits.c, purge.c; util.c and
 * out.c shared by all; declarations in admin.h).  Each command is one database
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
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "version.h"

/* -------------------------------------------------------- table and main */

#define KEY_EXPIRY_HELP \
	"  --expires-in DAYS key expires after DAYS days (default 30)\n" \
	"  --never           key never expires\n" \
	"  --iterations N    PBKDF2 iterations (default OTAS_KEY_ITERATIONS " \
	"or 1000)\n"
#define KEY_OPTS_HELP \
	"  --name N          a label for the key\n" \
	KEY_EXPIRY_HELP

static const struct cmd cmds[] = {
	{ NULL, "migrate", { "sql-dir=", "runtime-login", NULL }, 0, 0,
	  cmd_migrate,
	  "migrate [--sql-dir DIR] [--runtime-login]",
	  "Applies the SQL migrations not yet applied, in numeric order, each\n"
	  "in its own transaction with its row in otas_schema_migrations, then\n"
	  "grants the programs' runtime role (OTAS_RUNTIME_ROLE, default\n"
	  "otas_runtime) its rights, creating it NOLOGIN when it is missing.\n"
	  "  --sql-dir DIR     migrations directory (default $OTAS_SQL_DIR or\n"
	  "                    " OTAS_SQL_DIR ")\n"
	  "  --runtime-login   create a missing runtime role with LOGIN\n",
	  0 },
	{ NULL, "check", { "sql-dir=", "as=", NULL }, 0, 0, cmd_check,
	  "check [--sql-dir DIR] [--as USER]",
	  "Checks the configuration, that the database is reachable, that\n"
	  "every migration is applied, and reports the rights of the role it\n"
	  "connects as.  Exit 0 when all pass, 1 otherwise.\n"
	  "  --sql-dir DIR     migrations directory to compare against\n"
	  "  --as USER         (root, or USER itself) check as USER sees it:\n"
	  "                    its view of the settings and secret files, its\n"
	  "                    HOME's .pgpass, and the role it connects as has\n"
	  "                    the programs' rights and no more\n",
	  CMD_REPORTS },
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
	  KEY_EXPIRY_HELP, 0 },
	{ "agent", "list", { NULL }, 0, 0, cmd_agent_list,
	  "agent list",
	  "Lists every agent with its state, number of usable keys and session\n"
	  "limit (default: OTAS_SESSION_RATE's).\n",
	  0 },
	{ "agent", "disable", { NULL }, 1, 1, cmd_agent_disable,
	  "agent disable AGENT_ID",
	  "Disables an agent: none of its keys works from the next request.\n",
	  0 },
	{ "agent", "enable", { NULL }, 1, 1, cmd_agent_enable,
	  "agent enable AGENT_ID",
	  "Enables a disabled agent: its usable keys (active, not revoked, not\n"
	  "expired) work again from the next request.\n",
	  0 },
	{ "agent", "limit", { "burst=", NULL }, 2, 2, cmd_agent_limit,
	  "agent limit AGENT_ID RATE [--burst N]",
	  "Limits the sessions an agent creates, whatever key it uses; over\n"
	  "it, otas-session answers 429.  RATE: N/s, N/min, N/h or N/d; off\n"
	  "(no limit, whatever OTAS_SESSION_RATE says); or default (the\n"
	  "agent's own limit removed: OTAS_SESSION_RATE applies).\n"
	  "  --burst N         sessions at once (default N of RATE)\n",
	  0 },
	{ "key", "issue", { "name=", "expires-in=", "never", "iterations=" },
	  1, 1, cmd_key_issue,
	  "key issue AGENT_ID [--name N] [--expires-in DAYS | --never] "
	  "[--iterations N]",
	  "Issues a new key for an agent and prints it once.\n"
	  KEY_OPTS_HELP, 0 },
	{ "key", "rotate", { "name=", "expires-in=", "never", "iterations=" },
	  1, 1, cmd_key_rotate,
	  "key rotate AGENT_ID [--name N] [--expires-in DAYS | --never] "
	  "[--iterations N]",
	  "Revokes every active key of an agent and issues one new key, in one\n"
	  "transaction, and prints the new key once.\n"
	  KEY_OPTS_HELP, 0 },
	{ "key", "revoke", { "end-sessions", NULL }, 1, 1, cmd_key_revoke,
	  "key revoke KEY_ID|PREFIX [--end-sessions]",
	  "Revokes one key, named by its id or its prefix.  It stops working\n"
	  "at the next request; the sessions it made run on.\n"
	  "  --end-sessions    also end every open session the key made\n"
	  "                    (a leaked key: whoever stole it is cut off)\n",
	  0 },
	{ "key", "list", { NULL }, 1, 1, cmd_key_list,
	  "key list AGENT_ID",
	  "Lists an agent's keys: prefix, state (active, revoked, expired),\n"
	  "created, last used, expires.  Never the hash.\n",
	  0 },
	{ "session", "list", { "limit=", NULL }, 1, 1, cmd_session_list,
	  "session list AGENT_ID [--limit N]",
	  "Lists an agent's sessions, newest first, with their meta.\n"
	  "  --limit N         at most N sessions (default 20)\n",
	  0 },
	{ "session", "end", { NULL }, 1, 1, cmd_session_end,
	  "session end SESSION_ID",
	  "Ends one session: its token is refused from the next request by\n"
	  "otas-authz in database mode (OTAS_AUTHZ_CHECK_DB=1).\n",
	  0 },
	{ "session", "purge", { "older-than=", "dry-run", "batch=", NULL },
	  0, 0, cmd_session_purge,
	  "session purge [--older-than DURATION] [--dry-run] [--batch N]",
	  "Deletes the sessions older than DURATION (e.g. 90d, 12h), in\n"
	  "batches of short transactions, safe while serving, and the\n"
	  "Idempotency-Key records that expired or whose session went.\n"
	  "  --older-than D    retention (default OTAS_SESSION_RETENTION; unset:\n"
	  "                    no session is deleted, expired records are)\n"
	  "  --dry-run         count what would go, delete nothing\n"
	  "  --batch N         rows per transaction (default 10000)\n",
	  0 },
};
#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

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

/* Which of c's options "--NAME[=...]" (len bytes of arg) is; -1: none. */
static int
opt_index(const struct cmd *c, const char *arg, size_t len)
{
	int	 i;

	for (i = 0; c->opts[i] != NULL; i++)
		if (strncmp(c->opts[i], arg, len) == 0 &&
		    (c->opts[i][len] == '\0' || c->opts[i][len] == '='))
			return i;
	return -1;
}

/*
 * One option argv[*k] (after its "--"), with its value from "=VALUE" or
 * from the next argument, which *k then passes.
 */
static int
opt_take(const struct cmd *c, const char *label, int argc, char **argv,
    int *k, struct args *a)
{
	const char	*arg = argv[*k] + 2, *eq = strchr(arg, '=');
	size_t		 len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
	int		 i;

	if ((i = opt_index(c, arg, len)) == -1)
		return fail(EXIT_USAGE, "%s: unknown option --%.*s",
		    label, (int)len, arg);
	if (a->val[i] != NULL)
		return fail(EXIT_USAGE, "%s: --%.*s given twice",
		    label, (int)len, arg);
	if (c->opts[i][len] == '\0' && eq != NULL)
		return fail(EXIT_USAGE, "%s: --%.*s takes no value",
		    label, (int)len, arg);
	if (c->opts[i][len] == '\0')
		a->val[i] = "";
	else if (eq != NULL)
		a->val[i] = eq + 1;
	else if (*k + 1 < argc)
		a->val[i] = argv[++*k];
	else
		return fail(EXIT_USAGE, "%s: --%.*s needs a value",
		    label, (int)len, arg);
	return 0;
}

/*
 * Options as "--opt VALUE" or "--opt=VALUE", in any order among the
 * positional arguments; "--" ends options.  Each at most once.
 */
static int
args_parse(const struct cmd *c, const char *label, int argc, char **argv,
    struct args *a)
{
	const char	*arg;
	int		 k, rc, dashdash = 0;

	memset(a, 0, sizeof(*a));
	a->cmd = c;
	for (k = 0; k < argc; k++) {
		arg = argv[k];
		if (!dashdash && strcmp(arg, "--") == 0)
			dashdash = 1;
		else if (dashdash || arg[0] != '-' || arg[1] == '\0') {
			if (a->npos == c->maxpos)
				return fail(EXIT_USAGE, "%s: unexpected "
				    "argument: %s", label, arg);
			a->pos[a->npos++] = arg;
		} else if (arg[1] != '-')
			/* Prefixes of the original backend may begin with '-'. */
			return fail(EXIT_USAGE, "%s: unknown option %s (an "
			    "argument that begins with '-' goes after --)",
			    label, arg);
		else if ((rc = opt_take(c, label, argc, argv, &k, a)) != 0)
			return rc;
	}
	if (a->npos < c->minpos)
		return fail(EXIT_USAGE, "%s: missing argument (usage: "
		    "otas-admin %s)", label, c->synopsis);
	return 0;
}

/*
 * Takes --json and --help (or -h) out of argv, anywhere before "--": the
 * other words go to av, their number is returned.
 */
static int
flags_strip(int argc, char **argv, char **av, int *json, int *help)
{
	int	 i, n = 0, dashdash = 0;

	for (i = 1; i < argc; i++) {
		if (!dashdash && strcmp(argv[i], "--json") == 0)
			*json = 1;
		else if (!dashdash && (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0))
			*help = 1;
		else {
			if (strcmp(argv[i], "--") == 0)
				dashdash = 1;
			av[n++] = argv[i];
		}
	}
	return n;
}

/*
 * The command the n words of av name, in *c with *first the words its
 * name took; else *c is NULL and the exit code says how the help or the
 * error just printed ends the program.
 */
static int
cmd_lookup(char **av, int n, int help, const struct cmd **c, int *first)
{
	int	 group;

	*c = NULL;
	if (n == 0 && help) {
		usage_all(stdout);
		return EXIT_OK;
	}
	if (n == 0)
		return fail(EXIT_USAGE, "no command given (see otas-admin "
		    "--help)");
	group = is_group(av[0]);
	if (group && n < 2 && help) {
		usage_group(av[0]);
		return EXIT_OK;
	}
	if (group && n < 2)
		return fail(EXIT_USAGE, "%s: missing subcommand (see "
		    "otas-admin %s --help)", av[0], av[0]);
	*first = group ? 2 : 1;
	if ((*c = cmd_find(group ? av[0] : NULL, av[group])) == NULL)
		return fail(EXIT_USAGE, "unknown command: %s%s%s (see "
		    "otas-admin --help)", av[0], group ? " " : "",
		    group ? av[1] : "");
	return EXIT_OK;
}

/*
 * Runs c with its parsed arguments, the settings read.  check (CMD_REPORTS)
 * runs even when they are bad, to report it; with --as it becomes the user
 * before anything is read, so every file is opened with its rights; there
 * is no way back to root.
 */
static int
cmd_run(const struct cmd *c, struct ctx *ctx, struct args *a,
    const char *argv0)
{
	int	 rc, reports = (c->flags & CMD_REPORTS) != 0;

	if (reports && (ctx->as = opt(a, "as")) != NULL &&
	    (rc = admin_become(ctx->as)) != 0)
		return rc;
	/* The endpoint's settings: the same file beside us, the same rules. */
	ctx->cfg_ok = config_load(&ctx->cfg, argv0, 0, ctx->cfg_err,
	    sizeof(ctx->cfg_err)) == 0;
	if (!ctx->cfg_ok && !reports)
		rc = fail(EXIT_FAIL, "%s", ctx->cfg_err);
	else
		rc = c->fn(ctx, a);
	config_free(&ctx->cfg);
	return rc;
}

/* Parses the arguments after c's name and runs it. */
static int
cmd_start(const struct cmd *c, struct ctx *ctx, int argc, char **argv,
    const char *argv0)
{
	struct args	 a;
	char		 label[64];
	int		 n, rc;

	n = snprintf(label, sizeof(label), "%s%s%s", c->group ? c->group : "",
	    c->group ? " " : "", c->name);
	if (n < 0 || (size_t)n >= sizeof(label))
		return EXIT_USAGE;
	if ((rc = args_parse(c, label, argc, argv, &a)) != 0)
		return rc;
	return cmd_run(c, ctx, &a, argv0);
}

int
main(int argc, char *argv[])
{
	const struct cmd	*c;
	struct ctx		 ctx;
	char			**av;
	int			 n, rc, first, help = 0;

	if ((rc = version_answer("otas-admin", argc, argv)) != 0)
		return rc == 1 ? 0 : 1;
	memset(&ctx, 0, sizeof(ctx));
	if ((av = calloc(argc + 1, sizeof(*av))) == NULL)
		return fail(EXIT_FAIL, "out of memory");
	n = flags_strip(argc, argv, av, &ctx.json, &help);
	rc = cmd_lookup(av, n, help, &c, &first);
	if (c != NULL && help)
		usage_cmd(c);
	else if (c != NULL)
		rc = cmd_start(c, &ctx, n - first, av + first, argv[0]);
	free(av);
	if (fflush(stdout) == EOF && rc == EXIT_OK)
		rc = fail(EXIT_FAIL, "cannot write output: %s",
		    strerror(errno));
	return rc;
}
