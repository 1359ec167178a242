/*
 * keys — making keys and the commands that make or change them: agent
 * create (an agent and its first key), key issue, rotate, revoke, list.
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

#include "hash.h"
#include "random.h"
#include "uuid.h"
#include "admin.h"

/*
 * Iterations for new keys: --iterations, else OTAS_KEY_ITERATIONS (whose
 * default is 1000).  The secret carries 256 bits of entropy, so a slow
 * hash buys nothing; a small count keeps every request cheap.
 */
int
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

/* ------------------------------------------------------------------ keys */

struct newkey {
	char	 id[UUID_STR_LEN + 1];
	char	 prefix[KEY_PREFIX_LEN + 1];
	char	 key[KEY_ISSUED_LEN + 1];
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
	char		 secret[KEY_SECRET_LEN + 1];
	const char	*p[6];
	PGresult	*res;
	int		 n;

	memset(k, 0, sizeof *k);
	if (uuid7_make(k->id) == -1 || random_alnum(k->prefix, KEY_PREFIX_LEN) == -1 ||
	    random_base64url(secret, KEY_SECRET_BYTES) == -1)
		return fail(EXIT_FAIL, "no random bytes available");
	n = snprintf(k->key, sizeof k->key, KEY_HEAD "%s_%s", k->prefix, secret);
	OPENSSL_cleanse(secret, sizeof secret);
	if (n < 0 || (size_t)n != KEY_ISSUED_LEN)
		return fail(EXIT_FAIL, "internal: key length");
	if (hash_make(k->key, KEY_ISSUED_LEN, iterations, k->hashed,
	    sizeof k->hashed) == -1)
		return fail(EXIT_FAIL, "cannot hash the new key");
	p[0] = k->id;
	p[1] = k->prefix;
	p[2] = k->hashed;
	p[3] = agent;
	p[4] = name;
	p[5] = days;
	res = admin_query(conn,
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
	/* "key name", not "name": after "agent: NAME" a bare "name: -"
	 * read as if the agent had none. */
	printf("key id:    %s\n", k->id);
	printf("agent id:  %s\n", agent);
	printf("prefix:    %s\n", k->prefix);
	printf("key name:  %s\n", name != NULL && name[0] != '\0' ? name :
	    "(none)");
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

int
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
	    (rc = key_iterations(&c->cfg, opt(a, "iterations"), &iter)) != 0)
		return rc;
	if (uuid7_make(id) == -1)
		return fail(EXIT_FAIL, "no random bytes available");
	if ((conn = admin_connect(&c->cfg)) == NULL)
		return EXIT_FAIL;
	rc = EXIT_FAIL;
	p[0] = id;
	p[1] = name;
	p[2] = desc;
	p[3] = prov;
	p[4] = proj;
	if (admin_exec(conn, "BEGIN") == -1 || (res = admin_query(conn,
	    "INSERT INTO agent (id, name, description, provider, project_id,"
	    " created_at, updated_at, created_by_id, is_active)"
	    " VALUES ($1, $2, $3, $4, $5, now(), now(), NULL, true)",
	    5, p)) == NULL)
		goto out;
	PQclear(res);
	if (key_insert(conn, id, kname, days, iter, &k) != 0 ||
	    admin_exec(conn, "COMMIT") == -1)
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
	    (rc = key_iterations(&c->cfg, opt(a, "iterations"), &iter)) != 0)
		return rc;
	if ((conn = admin_connect(&c->cfg)) == NULL)
		return EXIT_FAIL;
	rc = EXIT_FAIL;
	if (admin_exec(conn, "BEGIN") == -1 ||
	    agent_find(conn, agent, 1, &active) != 0)
		goto out;
	if (!active) {
		fail(EXIT_FAIL, "agent %s is disabled; a key for it would not "
		    "work", agent);
		goto out;
	}
	if (rotate) {
		if ((res = admin_query(conn, "UPDATE agent_key SET"
		    " revoked_at = now(), active = false WHERE agent_id = $1"
		    " AND active AND revoked_at IS NULL", 1, p)) == NULL)
			goto out;
		revoked = strtol(PQcmdTuples(res), NULL, 10);
		PQclear(res);
	}
	if (key_insert(conn, agent, name, days, iter, &k) != 0 ||
	    admin_exec(conn, "COMMIT") == -1)
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

/*
 * KEY is a key id or a prefix.  A prefix shared by several keys (possible
 * with the original backend's prefixes) is refused: the operator names the
 * key by id instead.  Revoking a revoked key changes nothing and succeeds.
 * The sessions the key made run on until their tokens expire, unless
 * --end-sessions ends every open one of them in the same transaction (also
 * for a key revoked before); sessions made before migration 005 whose
 * agent_key_id the original backend did not fill are not found by key.
 */
int
cmd_key_revoke(struct ctx *c, struct args *a)
{
	const char		*key = a->pos[0], *p[1] = { key };
	struct json_object	*o;
	PGconn			*conn;
	PGresult		*res;
	char			*id = NULL, *prefix = NULL;
	int			 byid, rc = EXIT_FAIL, changed = 0;
	int			 end = opt(a, "end-sessions") != NULL;
	long			 ended = 0;

	byid = uuid_valid(key, strlen(key));
	if (!byid && !prefix_valid(key))
		return fail(EXIT_USAGE, "not a key id or prefix: %s", key);
	if ((conn = admin_connect(&c->cfg)) == NULL)
		return EXIT_FAIL;
	if (admin_exec(conn, "BEGIN") == -1 || (res = admin_query(conn, byid ?
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
	if (changed && (res = admin_query(conn, "UPDATE agent_key SET"
	    " revoked_at = now(), active = false WHERE id = $1", 1, p)) == NULL)
		goto out;
	if (changed)
		PQclear(res);
	/* The trigger of sql/005 tells every otas-authz, at COMMIT. */
	if (end && (res = admin_query(conn, "UPDATE agent_session SET"
	    " ended_at = now() WHERE agent_key_id = $1 AND ended_at IS NULL",
	    1, p)) == NULL)
		goto out;
	if (end) {
		ended = strtol(PQcmdTuples(res), NULL, 10);
		PQclear(res);
	}
	if (admin_exec(conn, "COMMIT") == -1)
		goto out;
	if (c->json) {
		o = json_object_new_object();
		json_object_object_add(o, "key_id", json_object_new_string(id));
		json_object_object_add(o, "prefix",
		    json_object_new_string(prefix));
		json_object_object_add(o, "changed",
		    json_object_new_boolean(changed));
		if (end)
			json_object_object_add(o, "sessions_ended",
			    json_object_new_int64(ended));
		json_print(o);
	} else {
		printf("key %s (%s) %s\n", prefix, id, changed ? "revoked" :
		    "was already revoked or inactive");
		if (end)
			printf("sessions ended: %ld\n", ended);
	}
	rc = EXIT_OK;
out:
	free(id);
	free(prefix);
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

int
cmd_key_list(struct ctx *c, struct args *a)
{
	const char		*agent = a->pos[0], *p[1] = { agent };
	struct json_object	*o;
	PGconn			*conn;
	PGresult		*res;
	int			 i, rc, active;

	if ((rc = check_uuid("agent id", agent)) != 0)
		return rc;
	if ((conn = admin_connect(&c->cfg)) == NULL)
		return EXIT_FAIL;
	if ((rc = agent_find(conn, agent, 0, &active)) != 0) {
		PQfinish(conn);
		return rc;
	}
	res = admin_query(conn, "SELECT id, prefix, name,"
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
		json_object_object_add(o, "agent_id",
		    json_object_new_string(agent));
		json_object_object_add(o, "keys", jrows(res, key_columns,
		    NCOLS(key_columns)));
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
