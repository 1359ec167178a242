/*
 * keys — making keys and the commands about them: key issue, rotate,
 * revoke, list; agent create (agents.c) makes its first key here too.
 *
 * A new key exists in clear only in this process's memory, long enough to
 * hash and print it once; it is wiped afterwards.  Every column of a new
 * row is given explicitly: an original OTAS database has no defaults.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "random.h"
#include "admin.h"

/*
 * Iterations for new keys: --iterations, else OTAS_KEY_ITERATIONS (whose
 * default is 1000).  The secret carries 256 bits of entropy, so a slow
 * hash buys nothing; a small count keeps every request cheap.
 */
static int
key_iterations(const struct otas_config *cfg, const char *opt, long *out)
{
	*out = cfg->key_iterations;
	if (opt != NULL && decimal_long(opt, 1, HASH_MAX_ITERATIONS, out) == -1)
		return fail(EXIT_USAGE, "--iterations must be a number from 1 "
		    "to %ld", HASH_MAX_ITERATIONS);
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
	if (days != NULL && decimal_long(days, 1, MAX_EXPIRY_DAYS, &d) == -1)
		return fail(EXIT_USAGE, "--expires-in must be a number of days "
		    "from 1 to %ld", MAX_EXPIRY_DAYS);
	n = snprintf(buf, cap, "%ld", d);
	if (n < 0 || (size_t)n >= cap)
		return fail(EXIT_FAIL, "internal: expiry buffer");
	*out = buf;
	return 0;
}

/* A new key's expiry and iterations, checked in that order. */
int
key_options(const struct ctx *c, const struct args *a, struct keyopts *ko)
{
	int	 rc;

	if ((rc = key_expiry(opt(a, "expires-in"), opt(a, "never"), ko->dbuf,
	    sizeof(ko->dbuf), &ko->days)) != 0)
		return rc;
	return key_iterations(&c->cfg, opt(a, "iterations"), &ko->iterations);
}

void
newkey_wipe(struct newkey *k)
{
	free(k->expires_at);
	free(k->created_at);
	OPENSSL_cleanse(k, sizeof(*k));
}

/* A new id, prefix and secret, and the key's hash. */
static int
key_make(long iterations, struct newkey *k)
{
	char	 secret[KEY_SECRET_LEN + 1];
	int	 n;

	memset(k, 0, sizeof(*k));
	if (uuid7_make(k->id) == -1 ||
	    random_alnum(k->prefix, KEY_PREFIX_LEN) == -1 ||
	    random_base64url(secret, KEY_SECRET_BYTES) == -1)
		return fail(EXIT_FAIL, "no random bytes available");
	n = snprintf(k->key, sizeof(k->key), KEY_HEAD "%s_%s", k->prefix,
	    secret);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (n < 0 || (size_t)n != KEY_ISSUED_LEN)
		return fail(EXIT_FAIL, "internal: key length");
	if (hash_make(k->key, KEY_ISSUED_LEN, iterations, k->hashed,
	    sizeof(k->hashed)) == -1)
		return fail(EXIT_FAIL, "cannot hash the new key");
	return 0;
}

/*
 * Makes a key and inserts its row inside the caller's transaction.  Every
 * column is given: an original OTAS database has no column defaults.
 */
int
key_insert(PGconn *conn, const char *agent, const struct keyopts *ko,
    struct newkey *k)
{
	const char	*p[6];
	PGresult	*res;
	int		 n = 0;

	if (key_make(ko->iterations, k) != 0)
		return EXIT_FAIL;
	p[0] = k->id;
	p[1] = k->prefix;
	p[2] = k->hashed;
	p[3] = agent;
	p[4] = ko->name;
	p[5] = ko->days;
	if ((res = admin_query(conn,
	    "INSERT INTO agent_key (id, prefix, hashed_key, agent_id, name,"
	    " created_at, last_used_at, revoked_at, expires_at, active)"
	    " VALUES ($1, $2, $3, $4, $5, now(), NULL, NULL,"
	    " now() + make_interval(days => $6::int), true)"
	    " RETURNING " ISO("created_at") ", " ISO("expires_at"), 6,
	    p)) == NULL)
		return EXIT_FAIL;
	if ((k->created_at = strdup(PQgetvalue(res, 0, 0))) == NULL ||
	    (!PQgetisnull(res, 0, 1) &&
	    (k->expires_at = strdup(PQgetvalue(res, 0, 1))) == NULL))
		n = -1;
	PQclear(res);
	return n == -1 ? fail(EXIT_FAIL, "out of memory") : 0;
}

/* The new key: its members of the JSON object, or its text lines. */
void
key_print(struct out *o, const char *agent, const char *name,
    const struct newkey *k)
{
	out_str(o, "key_id", k->id);
	out_str(o, "prefix", k->prefix);
	out_str(o, "key", k->key);
	out_str(o, "expires_at", k->expires_at);
	/* "key name", not "name": after "agent: NAME" a bare "name: -"
	 * read as if the agent had none. */
	out_line(o, "key id:    %s", k->id);
	out_line(o, "agent id:  %s", agent);
	out_line(o, "prefix:    %s", k->prefix);
	out_line(o, "key name:  %s", name[0] != '\0' ? name : "(none)");
	out_line(o, "expires:   %s", k->expires_at == NULL ? "never" :
	    k->expires_at);
	out_line(o, "\n%s\n", k->key);
	out_line(o, "This key is shown once and cannot be recovered: "
	    "only its hash is stored.");
}

/*
 * In the open transaction, with the agent row locked: an active agent
 * (a key for a disabled one would not work), and for rotate every active
 * key of it revoked (*revoked says how many).
 */
static int
key_prepare(PGconn *conn, const char *agent, int rotate, long long *revoked)
{
	const char	*p[1] = { agent };
	PGresult	*res;
	int		 active, rc;

	if (agent_find(conn, agent, 1, &active) != 0)
		return EXIT_FAIL;
	if (!active)
		return fail(EXIT_FAIL, "agent %s is disabled; a key for it "
		    "would not work", agent);
	if (!rotate)
		return 0;
	if ((res = admin_query(conn, "UPDATE agent_key SET"
	    " revoked_at = now(), active = false WHERE agent_id = $1"
	    " AND active AND revoked_at IS NULL", 1, p)) == NULL)
		return EXIT_FAIL;
	rc = db_rows(res, revoked);
	PQclear(res);
	return rc;
}

/*
 * key issue and key rotate: one transaction that (for rotate) revokes every
 * active key of the agent and inserts a new one.  The agent row is locked
 * so two rotations cannot interleave.
 */
static int
key_new(struct ctx *c, struct args *a, int rotate)
{
	const char	*agent = a->pos[0];
	struct keyopts	 ko;
	struct newkey	 k;
	struct out	 o;
	PGconn		*conn;
	long long	 revoked = 0;
	int		 rc;

	memset(&k, 0, sizeof(k));
	if ((ko.name = opt(a, "name")) == NULL)
		ko.name = "";
	if ((rc = check_uuid("agent id", agent)) != 0 ||
	    (rc = check_text("--name", ko.name, 0)) != 0 ||
	    (rc = key_options(c, a, &ko)) != 0)
		return rc;
	if ((conn = admin_connect(&c->cfg)) == NULL)
		return EXIT_FAIL;
	rc = EXIT_FAIL;
	if (admin_exec(conn, "BEGIN") == 0 &&
	    key_prepare(conn, agent, rotate, &revoked) == 0 &&
	    key_insert(conn, agent, &ko, &k) == 0 &&
	    admin_exec(conn, "COMMIT") == 0) {
		out_start(&o, c);
		out_str(&o, "agent_id", agent);
		out_str(&o, "name", ko.name);
		if (rotate)
			out_line(&o, "revoked:   %lld key%s", revoked,
			    revoked == 1 ? "" : "s");
		key_print(&o, agent, ko.name, &k);
		if (rotate)
			out_int(&o, "revoked", revoked);
		out_end(&o);
		rc = EXIT_OK;
	}
	newkey_wipe(&k);
	PQfinish(conn);
	return rc;
}

int
cmd_key_issue(struct ctx *c, struct args *a)
{
	return key_new(c, a, 0);
}

int
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

/* The key key revoke names, its row locked. */
struct revoked {
	char		*id, *prefix;
	int		 changed;	/* it was usable until now */
	long long	 ended;		/* sessions ended (--end-sessions) */
};

/*
 * Finds the one key named by id or prefix, locked.  A prefix shared by
 * several keys (possible with the original backend's prefixes) is refused:
 * the operator names the key by id instead.
 */
static int
revoke_find(PGconn *conn, const char *key, int byid, struct revoked *r)
{
	const char	*p[1] = { key };
	PGresult	*res;
	int		 n;

	if ((res = admin_query(conn, byid ?
	    "SELECT id, prefix, active AND revoked_at IS NULL FROM agent_key"
	    " WHERE id = $1 FOR UPDATE" :
	    "SELECT id, prefix, active AND revoked_at IS NULL FROM agent_key"
	    " WHERE prefix = $1 FOR UPDATE", 1, p)) == NULL)
		return EXIT_FAIL;
	if ((n = PQntuples(res)) == 1) {
		r->changed = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
		r->id = strdup(PQgetvalue(res, 0, 0));
		r->prefix = strdup(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	if (n == 0)
		return fail(EXIT_FAIL, "no key with %s %s", byid ? "id" :
		    "prefix", key);
	if (n > 1)
		return fail(EXIT_FAIL, "%d keys share prefix %s; revoke by "
		    "key id (see otas-admin key list)", n, key);
	if (r->id == NULL || r->prefix == NULL)
		return fail(EXIT_FAIL, "out of memory");
	return 0;
}

/*
 * Revokes the key found (unless it was already) and, with end, ends its
 * open sessions; the trigger of sql/005 tells every otas-authz, at COMMIT.
 */
static int
revoke_apply(PGconn *conn, struct revoked *r, int end)
{
	const char	*p[1] = { r->id };
	PGresult	*res;
	int		 rc;

	if (r->changed) {
		if ((res = admin_query(conn, "UPDATE agent_key SET"
		    " revoked_at = now(), active = false WHERE id = $1", 1,
		    p)) == NULL)
			return EXIT_FAIL;
		PQclear(res);
	}
	if (!end)
		return 0;
	if ((res = admin_query(conn, "UPDATE agent_session SET"
	    " ended_at = now() WHERE agent_key_id = $1 AND ended_at IS NULL",
	    1, p)) == NULL)
		return EXIT_FAIL;
	rc = db_rows(res, &r->ended);
	PQclear(res);
	return rc;
}

static void
revoke_print(const struct ctx *c, const struct revoked *r, int end)
{
	struct out	 o;

	out_start(&o, c);
	out_str(&o, "key_id", r->id);
	out_str(&o, "prefix", r->prefix);
	out_bool(&o, "changed", r->changed);
	out_line(&o, "key %s (%s) %s", r->prefix, r->id, r->changed ?
	    "revoked" : "was already revoked or inactive");
	if (end) {
		out_int(&o, "sessions_ended", r->ended);
		out_line(&o, "sessions ended: %lld", r->ended);
	}
	out_end(&o);
}

/*
 * KEY is a key id or a prefix.  Revoking a revoked key changes nothing and
 * succeeds.  The sessions the key made run on until their tokens expire,
 * unless --end-sessions ends every open one of them in the same
 * transaction (also for a key revoked before); sessions made before
 * migration 005 whose agent_key_id the original backend did not fill are
 * not found by key.
 */
int
cmd_key_revoke(struct ctx *c, struct args *a)
{
	const char	*key = a->pos[0];
	struct revoked	 r;
	PGconn		*conn;
	int		 byid, rc = EXIT_FAIL;
	int		 end = opt(a, "end-sessions") != NULL;

	memset(&r, 0, sizeof(r));
	byid = uuid_valid(key, strlen(key));
	if (!byid && !prefix_valid(key))
		return fail(EXIT_USAGE, "not a key id or prefix: %s", key);
	if ((conn = admin_connect(&c->cfg)) == NULL)
		return EXIT_FAIL;
	if (admin_exec(conn, "BEGIN") == 0 &&
	    revoke_find(conn, key, byid, &r) == 0 &&
	    revoke_apply(conn, &r, end) == 0 &&
	    admin_exec(conn, "COMMIT") == 0) {
		revoke_print(c, &r, end);
		rc = EXIT_OK;
	}
	free(r.id);
	free(r.prefix);
	PQfinish(conn);
	return rc;
}

/* key list --json: one object per key, in the query's column order. */
static const struct jcolumn key_columns[] = {
	{ "key_id", J_TEXT }, { "prefix", J_TEXT }, { "name", J_TEXT },
	{ "state", J_TEXT }, { "created_at", J_TEXT },
	{ "last_used_at", J_TEXT }, { "expires_at", J_TEXT },
	{ "revoked_at", J_TEXT },
};

#define KEY_ROW	"%-36s  %-12s  %-7s  %-20s  %-20s  %-20s  %s"

int
cmd_key_list(struct ctx *c, struct args *a)
{
	const char	*agent = a->pos[0], *p[1] = { agent };
	struct out	 o;
	PGresult	*res;
	int		 i, rc;

	if ((res = agent_query(c, agent, "SELECT id, prefix, name,"
	    " CASE WHEN NOT active OR revoked_at IS NOT NULL THEN 'revoked'"
	    " WHEN expires_at IS NOT NULL AND expires_at <= now()"
	    " THEN 'expired' ELSE 'active' END,"
	    " " ISO("created_at") ", " ISO("last_used_at") ","
	    " " ISO("expires_at") ", " ISO("revoked_at")
	    " FROM agent_key WHERE agent_id = $1"
	    " ORDER BY created_at DESC, id DESC", 1, p, &rc)) == NULL)
		return rc;
	out_start(&o, c);
	out_str(&o, "agent_id", agent);
	out_rows(&o, "keys", res, key_columns, NCOLS(key_columns));
	out_line(&o, KEY_ROW, "ID", "PREFIX", "STATE", "CREATED", "LAST USED",
	    "EXPIRES", "NAME");
	for (i = 0; i < PQntuples(res); i++)
		out_line(&o, KEY_ROW, PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 1), PQgetvalue(res, i, 3),
		    PQgetvalue(res, i, 4), or_dash(cell(res, i, 5)),
		    cell(res, i, 6) == NULL ? "never" : PQgetvalue(res, i, 6),
		    or_dash(PQgetvalue(res, i, 2)));
	out_end(&o);
	PQclear(res);
	return EXIT_OK;
}
