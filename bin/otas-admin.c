/*
 * otas-admin — the operator's command line: schema migrations, agents, keys,
 * sessions and a health check (doc/agents-and-keys.md;
 * manual: otas-admin.1).
 *
 * Shape: one table of commands here; main() strips the flags every command
 * takes (--json, --help), finds the command, parses its options against the
 * table, and calls one function from bin/admin/ (util.c, migrate.c, keys.c,
 * agents.c; shared declarations in admin.h).  Each command is one database
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

/* ------------------------------------------------------ table and main */

#define KEY_OPTS_HELP \
	"  --name N          a label for the key\n" \
	"  --expires-in DAYS key expires after DAYS days (default 30)\n" \
	"  --never           key never expires\n" \
	"  --iterations N    PBKDF2 iterations (default OTAS_KEY_ITERATIONS " \
	"or 1000)\n"

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
	  "  --runtime-login   create a missing runtime role with LOGIN\n" },
	{ NULL, "check", { "sql-dir=", "as=", NULL }, 0, 0, cmd_check,
	  "check [--sql-dir DIR] [--as USER]",
	  "Checks the configuration, that the database is reachable, that\n"
	  "every migration is applied, and reports the rights of the role it\n"
	  "connects as.  Exit 0 when all pass, 1 otherwise.\n"
	  "  --sql-dir DIR     migrations directory to compare against\n"
	  "  --as USER         (root, or USER itself) check as USER sees it:\n"
	  "                    its view of the settings and secret files, its\n"
	  "                    HOME's .pgpass, and the role it connects as has\n"
	  "                    the programs' rights and no more\n" },
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
	  "Lists every agent with its state, number of usable keys and session\n"
	  "limit (default: OTAS_SESSION_RATE's).\n" },
	{ "agent", "disable", { NULL }, 1, 1, cmd_agent_disable,
	  "agent disable AGENT_ID",
	  "Disables an agent: none of its keys works from the next request.\n" },
	{ "agent", "enable", { NULL }, 1, 1, cmd_agent_enable,
	  "agent enable AGENT_ID",
	  "Enables a disabled agent: its usable keys (active, not revoked, not\n"
	  "expired) work again from the next request.\n" },
	{ "agent", "limit", { "burst=", NULL }, 2, 2, cmd_agent_limit,
	  "agent limit AGENT_ID RATE [--burst N]",
	  "Limits the sessions an agent creates, whatever key it uses; over\n"
	  "it, otas-session answers 429.  RATE: N/s, N/min, N/h or N/d; off\n"
	  "(no limit, whatever OTAS_SESSION_RATE says); or default (the\n"
	  "agent's own limit removed: OTAS_SESSION_RATE applies).\n"
	  "  --burst N         sessions at once (default N of RATE)\n" },
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
	{ "key", "revoke", { "end-sessions", NULL }, 1, 1, cmd_key_revoke,
	  "key revoke KEY_ID|PREFIX [--end-sessions]",
	  "Revokes one key, named by its id or its prefix.  It stops working\n"
	  "at the next request; the sessions it made run on.\n"
	  "  --end-sessions    also end every open session the key made\n"
	  "                    (a leaked key: whoever stole it is cut off)\n" },
	{ "key", "list", { NULL }, 1, 1, cmd_key_list,
	  "key list AGENT_ID",
	  "Lists an agent's keys: prefix, state (active, revoked, expired),\n"
	  "created, last used, expires.  Never the hash.\n" },
	{ "session", "list", { "limit=", NULL }, 1, 1, cmd_session_list,
	  "session list AGENT_ID [--limit N]",
	  "Lists an agent's sessions, newest first, with their meta.\n"
	  "  --limit N         at most N sessions (default 20)\n" },
	{ "session", "end", { NULL }, 1, 1, cmd_session_end,
	  "session end SESSION_ID",
	  "Ends one session: its token is refused from the next request by\n"
	  "otas-authz in database mode (OTAS_AUTHZ_CHECK_DB=1).\n" },
	{ "session", "purge", { "older-than=", "dry-run", "batch=", NULL },
	  0, 0, cmd_session_purge,
	  "session purge [--older-than DURATION] [--dry-run] [--batch N]",
	  "Deletes the sessions older than DURATION (e.g. 90d, 12h), in\n"
	  "batches of short transactions, safe while serving, and the\n"
	  "Idempotency-Key records that expired or whose session went.\n"
	  "  --older-than D    retention (default OTAS_SESSION_RETENTION; unset:\n"
	  "                    no session is deleted, expired records are)\n"
	  "  --dry-run         count what would go, delete nothing\n"
	  "  --batch N         rows per transaction (default 10000)\n" },
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
		/* Prefixes of the original backend may begin with '-'. */
		if (arg[1] != '-')
			return fail(EXIT_USAGE, "%s: unknown option %s (an "
			    "argument that begins with '-' goes after --)",
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

	if ((rc = version_answer("otas-admin", argc, argv)) != 0)
		return rc == 1 ? 0 : 1;
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
	/*
	 * check --as: become the user before anything is read, so every file
	 * is opened with its rights; there is no way back to root.
	 */
	if (c->fn == cmd_check && (ctx.as = opt(&a, "as")) != NULL &&
	    (rc = admin_become(ctx.as)) != 0)
		goto out;
	/* The endpoint's settings: the same file beside us, the same rules. */
	ctx.cfg_ok = config_load(&ctx.cfg, argv[0], 0, ctx.cfg_err,
	    sizeof ctx.cfg_err) == 0;
	if (!ctx.cfg_ok && c->fn != cmd_check)
		rc = fail(EXIT_FAIL, "%s", ctx.cfg_err);
	else
		rc = c->fn(&ctx, &a);
	config_free(&ctx.cfg);
out:
	free(av);
	if (fflush(stdout) == EOF && rc == EXIT_OK)
		rc = fail(EXIT_FAIL, "cannot write output: %s",
		    strerror(errno));
	return rc;
}
