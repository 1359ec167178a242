/*
 * config — read every OTAS_* setting once, at start, from the settings file
 * (settings_file.c finds and splits it) and then the environment (which
 * wins), and refuse a bad one with a sentence that names it (and the file
 * and line it came from).
 *
 * Shape: one table, one row per setting (name, kind, field, default and
 * range), so reading, checking, defaults and documentation cannot drift
 * apart.  A settings file holding a secret must be private, as libpq
 * demands of .pgpass.  Secrets are wiped on release.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "config.h"
#include "decimal.h"
#include "duration.h"
#include "settings_file.h"
#include "span.h"

#define SECRET_FILE_MAX		4096

enum kind {
	NUMBER,		/* long, decimal in [min, max] */
	FLAG,		/* int, 0 or 1 */
	PATH,		/* char *; relative in the file: to the file's directory */
	DB_URL,		/* char *; a libpq URI or conninfo string */
	SECRET,		/* struct otas_secret, the value itself */
	ROLE,		/* char [CONFIG_ROLE_MAX + 1], a plain PostgreSQL name */
	DURATION,	/* long long seconds, written "90d" (lib/duration.h) */
	RATE		/* struct rate, written "5/min" or "off" (lib/rate.h) */
};

/*
 * def is the default as the settings file would spell it (NULL: unset), so
 * the example file can be checked against it; it is read like any value.
 */
struct setting {
	const char	*name;
	enum kind	 kind;
	size_t		 field;		/* offsetof(struct otas_config, ...) */
	const char	*def;
	long		 min, max;	/* NUMBER */
};

#define AT(m)	offsetof(struct otas_config, m)

static const struct setting settings[] = {
	{ "OTAS_DATABASE_URL",		DB_URL,	AT(database_url), NULL, 0, 0 },
	{ "OTAS_JWT_SECRET_FILE",	PATH,	AT(jwt_secret_file), NULL, 0, 0 },
	{ "OTAS_JWT_SECRET",		SECRET,	AT(jwt_secret), NULL, 0, 0 },
	{ "OTAS_JWT_PREVIOUS_SECRET_FILE", PATH, AT(jwt_previous_file),
	    NULL, 0, 0 },
	{ "OTAS_TOKEN_TTL",		NUMBER,	AT(token_ttl), "2592000",
	    60, 366L * 86400 },			/* 30 days; at most a year */
	{ "OTAS_TOKEN_LEEWAY",		NUMBER,	AT(token_leeway), "60",
	    0, 3600 },
	{ "OTAS_MAX_BODY",		NUMBER,	AT(max_body), "65536",
	    2, 16L * 1024 * 1024 },
	{ "OTAS_CONNECT_TIMEOUT",	NUMBER,	AT(connect_timeout), "2",
	    1, 60 },
	{ "OTAS_STATEMENT_TIMEOUT_MS",	NUMBER,	AT(statement_timeout_ms),
	    "2000", 10, 600000 },
	{ "OTAS_DB_DEADLINE_MS",	NUMBER,	AT(db_deadline_ms), NULL,
	    100, 601000 },			/* unset: statement + 1000 */
	{ "OTAS_DB_UNNAMED_STATEMENTS",	FLAG,	AT(unnamed_statements), "0",
	    0, 1 },
	{ "OTAS_THREADS",		NUMBER,	AT(threads), "1", 1, 64 },
	{ "OTAS_MAX_REQUESTS",		NUMBER,	AT(max_requests), "0",
	    0, LONG_MAX },
	{ "OTAS_AUTHZ_CHECK_DB",	FLAG,	AT(authz_check_db), "0", 0, 1 },
	{ "OTAS_AUTHZ_DATABASE_URL",	DB_URL,	AT(authz_database_url), NULL,
	    0, 0 },
	{ "OTAS_AUTHZ_CACHE_SECONDS",	NUMBER,	AT(authz_cache_seconds), "5",
	    0, 3600 },
	{ "OTAS_SLOW_HASH_ITERATIONS",	NUMBER,	AT(slow_hash_iterations),
	    "10000", 1, 10000000 },
	{ "OTAS_SLOW_HASH_RATE",	NUMBER,	AT(slow_hash_rate), "1000000",
	    1000, 1000000000L },		/* iterations/s per host */
	{ "OTAS_REHASH",		FLAG,	AT(rehash), "1", 0, 1 },
	{ "OTAS_IDEMPOTENCY_TTL",	NUMBER,	AT(idempotency_ttl), "86400",
	    1, 366L * 86400 },		/* seconds; a day */
	{ "OTAS_KEY_ITERATIONS",	NUMBER,	AT(key_iterations), "1000",
	    1, 10000000 },
	{ "OTAS_SQL_DIR",		PATH,	AT(sql_dir), NULL, 0, 0 },
	{ "OTAS_RUNTIME_ROLE",		ROLE,	AT(runtime_role), "otas_runtime",
	    0, 0 },
	{ "OTAS_SESSION_RETENTION",	DURATION, AT(session_retention), NULL,
	    0, 0 },
	{ "OTAS_SESSION_RATE",		RATE,	AT(session_rate), "off", 0, 0 },
	{ "OTAS_METRICS",		FLAG,	AT(metrics), "1", 0, 1 },
	{ "OTAS_METRICS_FILE",		PATH,	AT(metrics_file), NULL, 0, 0 },
};

#define NSETTINGS	(sizeof(settings) / sizeof(settings[0]))

enum source { UNSET, FROM_FILE, FROM_ENV };

/* One config_load: where each setting came from, for messages and order. */
struct load {
	struct otas_config *c;
	char		*err;
	size_t		 errlen;
	const struct settings_file *file; /* the settings file, while parsed */
	enum source	 src[NSETTINGS];
	unsigned	 lineno[NSETTINGS]; /* line of a setting from the file */
	const char	*secret;	/* a setting holding a secret in the file */
	int		 secret_password; /* ...a password in that URL */
};

static int fail(struct load *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The one way to refuse: "MESSAGE", or "FILE:LINE: MESSAGE" for a setting
 * from the file (row: its index, or -1 for the line being read).  A path
 * quoted from the file may hold any byte: control bytes become '?', so the
 * message stays one line in the log.
 */
static int
fail(struct load *ld, int row, const char *fmt, ...)
{
	char msg[512], *p;
	va_list ap;
	unsigned line = ld->file != NULL ? ld->file->line : 0;
	int from_file = ld->file != NULL && row < 0;

	if (row >= 0 && ld->src[row] == FROM_FILE) {
		from_file = 1;
		line = ld->lineno[row];
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Truncating a message is fine: it is only ever cut, never overrun. */
	if (from_file)
		snprintf(ld->err, ld->errlen, "%s:%u: %s",
		    ld->c->settings_file, line, msg);
	else
		snprintf(ld->err, ld->errlen, "%s", msg);
	for (p = ld->err; ld->errlen > 0 && *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return -1;
}

static void *
field(struct otas_config *c, const struct setting *s)
{
	return (char *)c + s->field;
}

static int
row_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < NSETTINGS; i++)
		if (span_is(name, len, settings[i].name))
			return (int)i;
	return -1;
}

#define ROW(name)	row_find(name, sizeof(name) - 1)

/* ---------------------------------------------------------------- values */

static int
secret_set(struct otas_secret *s, const char *bytes, size_t len)
{
	/* Editors and `echo` add a newline that nobody means as key material. */
	while (len > 0 && (bytes[len - 1] == '\n' || bytes[len - 1] == '\r'))
		len--;
	if ((s->bytes = malloc(len + 1)) == NULL)
		return -1;
	memcpy(s->bytes, bytes, len);
	s->bytes[len] = '\0';
	s->len = len;
	return 0;
}

static void
secret_free(struct otas_secret *s)
{
	if (s->bytes != NULL) {
		OPENSSL_cleanse(s->bytes, s->len);
		free(s->bytes);
	}
	s->bytes = NULL;
	s->len = 0;
}

/* A malformed URL is caught at start, not at the first request. */
static int
url_check(const char *url, int *has_password)
{
	PQconninfoOption *opts, *o;
	char *perr = NULL;

	if ((opts = PQconninfoParse(url, &perr)) == NULL) {
		PQfreemem(perr);	/* it may quote the URL, password and all */
		return -1;
	}
	*has_password = 0;
	for (o = opts; o->keyword != NULL; o++)
		/* sslpassword unlocks the client key: as secret as password. */
		if ((strcmp(o->keyword, "password") == 0 ||
		    strcmp(o->keyword, "sslpassword") == 0) && o->val != NULL &&
		    o->val[0] != '\0')
			*has_password = 1;
	PQconninfoFree(opts);
	return 0;
}

#ifdef OTAS_STATIC_BUILD
/* h[0..n) is an IPv4 or IPv6 address or a socket directory (or empty). */
static int
host_needs_no_lookup(const char *h, size_t n)
{
	char		 buf[64];
	unsigned char	 addr[16];

	if (n == 0 || h[0] == '/' || h[0] == '@')
		return 1;
	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, h, n);
	buf[n] = '\0';
	return inet_pton(AF_INET, buf, addr) == 1 ||
	    inet_pton(AF_INET6, buf, addr) == 1;
}

/*
 * Static glibc cannot resolve host names (its NSS modules are shared
 * libraries), so a static program would fail at every connection; it
 * refuses a name at start instead.  Returns 1 and the first name in buf
 * when a host of url (a list, or PGHOST when it has none, as in libpq)
 * needs a lookup.  hostaddr, when given, is what libpq connects to.
 */
static int
url_host_name(const char *url, char *buf, size_t cap)
{
	PQconninfoOption *opts, *o;
	const char *host = NULL, *hostaddr = NULL, *h, *comma;
	size_t n;
	int found = 0;

	if ((opts = PQconninfoParse(url, NULL)) == NULL)
		return 0;	/* url_check has refused it */
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
	if (host == NULL || *host == '\0')
		host = getenv("PGHOST");
	if (hostaddr != NULL && *hostaddr != '\0')
		host = NULL;
	for (h = host; h != NULL && !found; h = comma ? comma + 1 : NULL) {
		comma = strchr(h, ',');
		n = comma != NULL ? (size_t)(comma - h) : strlen(h);
		if ((found = !host_needs_no_lookup(h, n)))
			snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1),
			    h);
	}
	PQconninfoFree(opts);
	return found;
}
#endif

static int
text_set(struct load *ld, int row, char **f, const char *v)
{
	free(*f);
	if ((*f = strdup(v)) == NULL)
		return fail(ld, row, "out of memory");
	return 0;
}

/* A relative path from the file names a place beside the file. */
static int
path_set(struct load *ld, int row, char **f, const char *v)
{
	char buf[PATH_MAX];
	int n;

	if (ld->file == NULL || v[0] == '/')
		return text_set(ld, row, f, v);
	n = snprintf(buf, sizeof(buf), "%s/%s", ld->file->dir, v);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return fail(ld, row, "%s: the path is too long",
		    settings[row].name);
	return text_set(ld, row, f, buf);
}

/*
 * The runtime role's name goes into GRANT statements (quoted there), and
 * into doc/database-roles.md's createuser line: plain lower-case identifiers only,
 * and none of PostgreSQL's reserved pg_ names.
 */
static int
role_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > CONFIG_ROLE_MAX || strncmp(s, "pg_", 3) == 0 ||
	    (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (i = 0; i < n; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') &&
		    !(s[i] >= '0' && s[i] <= '9') && s[i] != '_')
			return 0;
	return 1;
}

/* Stores one value (never empty: empty means unset) into its field. */
static int
value_set(struct load *ld, int row, const char *v)
{
	const struct setting *s = &settings[row];
	void *f = field(ld->c, s);
	long n;
	int pw;
#ifdef OTAS_STATIC_BUILD
	char name[64];
#endif

	switch (s->kind) {
	case NUMBER:
	case FLAG:
		if (decimal_long(v, s->min, s->max, &n) == -1)
			return fail(ld, row, "%s must be a whole number from "
			    "%ld to %ld", s->name, s->min, s->max);
		if (s->kind == FLAG)
			*(int *)f = (int)n;
		else
			*(long *)f = n;
		return 0;
	case PATH:
		return path_set(ld, row, f, v);
	case DB_URL:
		if (url_check(v, &pw) == -1)
			return fail(ld, row, "%s is not a valid libpq URI or "
			    "conninfo string", s->name);
#ifdef OTAS_STATIC_BUILD
		if (url_host_name(v, name, sizeof(name)))
			return fail(ld, row, "%s names the database host \"%s\"; "
			    "this static build cannot look host names up: give "
			    "its IP address or a socket directory", s->name,
			    name);
#endif
		if (pw && ld->file != NULL) {
			ld->secret = s->name;
			ld->secret_password = 1;
		}
		return text_set(ld, row, f, v);
	case SECRET:
		if (ld->file != NULL) {
			ld->secret = s->name;
			ld->secret_password = 0;
		}
		secret_free(f);
		if (secret_set(f, v, strlen(v)) == -1)
			return fail(ld, row, "out of memory");
		return 0;
	case ROLE:
		if (!role_valid(v))
			return fail(ld, row, "%s must be a lower-case PostgreSQL "
			    "name of at most %d characters ([a-z0-9_], not "
			    "starting with a digit or pg_)", s->name,
			    CONFIG_ROLE_MAX);
		snprintf(f, CONFIG_ROLE_MAX + 1, "%s", v);
		return 0;
	case DURATION:
		if (duration_parse(v, strlen(v), f) == -1)
			return fail(ld, row, "%s must be a whole number and one "
			    "unit (s, m, h, d, w), e.g. 90d", s->name);
		return 0;
	case RATE:
		if (rate_parse(v, strlen(v), f) == -1)
			return fail(ld, row, "%s must be off or a whole number "
			    "from 1 to %ld, '/' and one unit (s, min, h, d), "
			    "e.g. 5/min", s->name, RATE_QUOTA_MAX);
		return 0;
	}
	return -1;
}

/* ----------------------------------------------------- the settings file */

/* One NAME=value line of the file, read through the table like a variable. */
static int
file_setting(void *arg, const char *name, size_t len, const char *value)
{
	struct load *ld = arg;
	int row;

	if ((row = row_find(name, len)) == -1)
		return fail(ld, -1, "unknown setting %.*s (see "
		    "otas.conf.example)", (int)len, name);
	if (ld->src[row] == FROM_FILE)
		return fail(ld, -1, "%s is set twice (first on line %u)",
		    settings[row].name, ld->lineno[row]);
	ld->src[row] = FROM_FILE;
	ld->lineno[row] = ld->file->line;
	if (value[0] == '\0')
		return 0;		/* NAME= : as good as absent */
	return value_set(ld, row, value);
}

static int
load_file(struct load *ld, const char *argv0)
{
	struct settings_file sf;
	char msg[512], holds[96];
	const char *why;
	int rc;

	if ((rc = settings_file_open(&sf, argv0, msg, sizeof(msg))) <= 0)
		return rc == 0 ? 0 : fail(ld, -1, "%s", msg);
	ld->c->settings_file = sf.path;
	ld->file = &sf;
	if ((rc = settings_file_parse(&sf, file_setting, ld, &why)) == -1 &&
	    why != NULL)
		fail(ld, -1, "%s", why);
	ld->file = NULL;
	/* A secret is for its owner's eyes only (settings_file_private). */
	if (rc == 0 && ld->secret != NULL) {
		snprintf(holds, sizeof(holds), "%s%s", ld->secret_password ?
		    "a password in " : "", ld->secret);
		if (settings_file_private(ld->c->settings_file, &sf.st,
		    "the settings file", holds, msg, sizeof(msg)) == -1)
			rc = fail(ld, -1, "%s", msg);
	}
	settings_file_close(&sf);
	return rc;
}

/* ----------------------------------------------------------- environment */

static int
load_env(struct load *ld)
{
	const char *v;
	size_t i;

	for (i = 0; i < NSETTINGS; i++) {
		v = getenv(settings[i].name);
		if (v == NULL || v[0] == '\0')	/* empty: as good as absent */
			continue;
		ld->src[i] = FROM_ENV;
		if (value_set(ld, (int)i, v) == -1)
			return -1;
	}
	return 0;
}

/* --------------------------------------------------------------- secrets */

static int
secret_from_file(struct load *ld, int row, struct otas_secret *s,
    const char *path)
{
	char buf[SECRET_FILE_MAX + 1], msg[512];
	struct stat st;
	ssize_t n;
	int rc;

	if ((n = settings_file_read(path, buf, SECRET_FILE_MAX, &st)) < 0)
		return fail(ld, row, "%s: cannot read %s: %s",
		    settings[row].name, path, strerror(errno));
	/*
	 * As private as a settings file holding it would have to be: a
	 * secret file in a web space, readable by the web server, is served
	 * to anyone who guesses its name.  Who owns it matters less than for
	 * the settings file: its owner can read it anyway.
	 */
	if (settings_file_private(path, &st, "the JWT secret file",
	    "a JWT secret", msg, sizeof(msg)) == -1)
		rc = fail(ld, row, "%s: %s", settings[row].name, msg);
	else if (n > SECRET_FILE_MAX)
		rc = fail(ld, row, "%s: %s is larger than %d bytes",
		    settings[row].name, path, SECRET_FILE_MAX);
	else if ((rc = secret_set(s, buf, (size_t)n)) == -1)
		fail(ld, row, "out of memory");
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

static int
secret_check(struct load *ld, int row, const struct otas_secret *s)
{
	if (s->len < CONFIG_SECRET_MIN)
		return fail(ld, row, "%s: the JWT secret has %zu bytes; HS256 "
		    "needs at least %d (RFC 7518 section 3.2)",
		    settings[row].name, s->len, CONFIG_SECRET_MIN);
	return 0;
}

/*
 * The secret file is preferred over the inline secret, except that an
 * inline secret from the environment beats a file named in the settings
 * file: the environment wins.
 */
static int
load_secrets(struct load *ld, unsigned need)
{
	struct otas_config *c = ld->c;
	int file = ROW("OTAS_JWT_SECRET_FILE"), inl = ROW("OTAS_JWT_SECRET");
	int prev = ROW("OTAS_JWT_PREVIOUS_SECRET_FILE");
	int row;

	if (c->jwt_secret_file != NULL && !(c->jwt_secret.bytes != NULL &&
	    ld->src[inl] == FROM_ENV && ld->src[file] == FROM_FILE)) {
		row = file;
		secret_free(&c->jwt_secret);
		if (secret_from_file(ld, row, &c->jwt_secret,
		    c->jwt_secret_file) == -1)
			return -1;
	} else if (c->jwt_secret.bytes != NULL)
		row = inl;
	else if (need & CONFIG_NEED_SECRET)
		return fail(ld, -1, "no JWT secret: set OTAS_JWT_SECRET_FILE "
		    "(preferred) or OTAS_JWT_SECRET");
	else
		return 0;
	if (secret_check(ld, row, &c->jwt_secret) == -1)
		return -1;
	if (c->jwt_previous_file == NULL)
		return 0;
	if (secret_from_file(ld, prev, &c->jwt_previous,
	    c->jwt_previous_file) == -1)
		return -1;
	return secret_check(ld, prev, &c->jwt_previous);
}

/*
 * A request's whole wait on the database, connecting and the retry
 * included.  By default a second past the server's statement_timeout, so
 * the server cancels a slow statement before the client gives up on it;
 * below it, a statement would run on after its 503.
 */
static int
load_deadline(struct load *ld)
{
	struct otas_config *c = ld->c;

	if (c->db_deadline_ms == 0)
		c->db_deadline_ms = c->statement_timeout_ms + 1000;
	else if (c->db_deadline_ms < c->statement_timeout_ms)
		return fail(ld, ROW("OTAS_DB_DEADLINE_MS"), "OTAS_DB_DEADLINE_MS "
		    "must not be below OTAS_STATEMENT_TIMEOUT_MS");
	return 0;
}

/* ------------------------------------------------------------------- API */

int
config_load(struct otas_config *c, const char *argv0, unsigned need,
    char *err, size_t errlen)
{
	struct load ld;
	size_t i;
	int rc;

	memset(c, 0, sizeof(*c));
	memset(&ld, 0, sizeof(ld));
	ld.c = c;
	ld.err = err;
	ld.errlen = errlen;
	rc = 0;
	for (i = 0; i < NSETTINGS && rc == 0; i++)
		if (settings[i].def != NULL)
			rc = value_set(&ld, (int)i, settings[i].def);
	if (rc == 0)
		rc = load_file(&ld, argv0);
	if (rc == 0)
		rc = load_env(&ld);
	if (rc == 0)
		rc = load_deadline(&ld);
	if (rc == 0)
		rc = load_secrets(&ld, need);
	if (rc == -1)
		config_free(c);
	return rc;
}

void
config_free(struct otas_config *c)
{
	free(c->settings_file);
	free(c->database_url);
	free(c->authz_database_url);
	free(c->jwt_secret_file);
	free(c->jwt_previous_file);
	free(c->sql_dir);
	free(c->metrics_file);
	c->metrics_file = NULL;
	c->settings_file = c->database_url = c->authz_database_url = NULL;
	c->jwt_secret_file = c->jwt_previous_file = c->sql_dir = NULL;
	secret_free(&c->jwt_secret);
	secret_free(&c->jwt_previous);
}

int
config_setting(size_t i, const char **name, char *def, size_t deflen)
{
	if (i >= NSETTINGS)
		return -1;
	*name = settings[i].name;
	snprintf(def, deflen, "%s", settings[i].def != NULL ?
	    settings[i].def : "");
	return 0;
}

/*
 * The start-up log line's view of the settings.  Of the database URL only
 * the host, port, database and user are shown: its password (and any other
 * parameter a URL may carry) never reaches a log.  Secrets appear only as
 * whether they are set.
 */
static int
describe_database(const char *url, char *buf, size_t cap)
{
	static const char *const shown[] = { "host", "hostaddr", "port",
	    "dbname", "user" };
	PQconninfoOption *opts, *o;
	size_t used = 0, i;
	char *perr = NULL;
	int n;

	if (url == NULL)
		return snprintf(buf, cap, "db=libpq-defaults") < (int)cap ?
		    0 : -1;
	if ((opts = PQconninfoParse(url, &perr)) == NULL) {
		PQfreemem(perr);
		return snprintf(buf, cap, "db=unparsable") < (int)cap ? 0 : -1;
	}
	buf[0] = '\0';
	for (o = opts; o->keyword != NULL; o++)
		for (i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
			if (strcmp(o->keyword, shown[i]) != 0 ||
			    o->val == NULL || *o->val == '\0')
				continue;
			n = snprintf(buf + used, cap - used, "%sdb_%s=%s",
			    used > 0 ? " " : "", o->keyword, o->val);
			if (n < 0 || (size_t)n >= cap - used) {
				PQconninfoFree(opts);
				return -1;
			}
			used += (size_t)n;
		}
	PQconninfoFree(opts);
	return 0;
}

int
config_describe(const struct otas_config *c, char *buf, size_t cap)
{
	char db[384];
	int n;

	if (describe_database(c->database_url, db, sizeof(db)) == -1)
		return -1;
	n = snprintf(buf, cap, "settings=%s %s threads=%ld max_requests=%ld "
	    "token_ttl=%ld max_body=%ld connect_timeout=%ld "
	    "statement_timeout_ms=%ld db_deadline_ms=%ld unnamed_statements=%d "
	    "authz_check_db=%d jwt_secret=%s previous_secret=%s",
	    c->settings_file != NULL ? c->settings_file : "none", db,
	    c->threads, c->max_requests, c->token_ttl, c->max_body,
	    c->connect_timeout, c->statement_timeout_ms, c->db_deadline_ms,
	    c->unnamed_statements, c->authz_check_db,
	    c->jwt_secret.bytes != NULL ? "set" : "unset",
	    c->jwt_previous.bytes != NULL ? "set" : "unset");
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}
