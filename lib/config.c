/*
 * config — read every OTAS_* setting once, at start, and refuse a bad one
 * with a sentence that names the variable.  Secrets are read from files when
 * possible (FcgidInitialEnv cuts values at 255 bytes, and files keep them out
 * of `ps e`); their bytes are wiped on release.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "config.h"

#define SECRET_FILE_MAX 4096

static int fail(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* A whole-string decimal in [min, max]; absent or empty keeps *out. */
static int
env_long(const char *name, long min, long max, long *out, char *err,
    size_t errlen)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return 0;
	/* strtol would skip leading blanks and take a '+': not here. */
	if (!(*s >= '0' && *s <= '9') && !(*s == '-' && s[1] >= '0' &&
	    s[1] <= '9'))
		return fail(err, errlen, "%s must be a whole number from %ld "
		    "to %ld", name, min, max);
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return fail(err, errlen, "%s must be a whole number from %ld "
		    "to %ld", name, min, max);
	*out = v;
	return 0;
}

static int
env_flag(const char *name, int *out, char *err, size_t errlen)
{
	long v = *out;

	if (env_long(name, 0, 1, &v, err, errlen) == -1)
		return -1;
	*out = (int)v;
	return 0;
}

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

static int
secret_from_file(struct otas_secret *s, const char *var, const char *path,
    char *err, size_t errlen)
{
	char buf[SECRET_FILE_MAX + 1];
	size_t n;
	FILE *f;
	int rc;

	if ((f = fopen(path, "rb")) == NULL)
		return fail(err, errlen, "%s: cannot read %s: %s", var, path,
		    strerror(errno));
	n = fread(buf, 1, sizeof(buf), f);
	rc = ferror(f);
	fclose(f);
	if (rc)
		return fail(err, errlen, "%s: cannot read %s", var, path);
	if (n > SECRET_FILE_MAX)
		return fail(err, errlen, "%s: %s is larger than %d bytes", var,
		    path, SECRET_FILE_MAX);
	rc = secret_set(s, buf, n);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (rc == -1)
		return fail(err, errlen, "out of memory");
	return 0;
}

static int
secret_check(const struct otas_secret *s, const char *var, char *err,
    size_t errlen)
{
	if (s->len < CONFIG_SECRET_MIN)
		return fail(err, errlen, "%s: the JWT secret has %zu bytes; "
		    "HS256 needs at least %d (RFC 7518 section 3.2)", var,
		    s->len, CONFIG_SECRET_MIN);
	return 0;
}

static int
load_secrets(struct otas_config *c, unsigned need, char *err, size_t errlen)
{
	const char *file = getenv("OTAS_JWT_SECRET_FILE");
	const char *inline_secret = getenv("OTAS_JWT_SECRET");
	const char *prev = getenv("OTAS_JWT_PREVIOUS_SECRET_FILE");
	const char *var;

	if (file != NULL && *file != '\0') {
		var = "OTAS_JWT_SECRET_FILE";
		if (secret_from_file(&c->jwt_secret, var, file, err,
		    errlen) == -1)
			return -1;
	} else if (inline_secret != NULL) {
		var = "OTAS_JWT_SECRET";
		if (secret_set(&c->jwt_secret, inline_secret,
		    strlen(inline_secret)) == -1)
			return fail(err, errlen, "out of memory");
	} else if (need & CONFIG_NEED_SECRET) {
		return fail(err, errlen, "no JWT secret: set "
		    "OTAS_JWT_SECRET_FILE (preferred) or OTAS_JWT_SECRET");
	} else
		return 0;
	if (secret_check(&c->jwt_secret, var, err, errlen) == -1)
		return -1;

	if (prev == NULL || *prev == '\0')
		return 0;
	var = "OTAS_JWT_PREVIOUS_SECRET_FILE";
	if (secret_from_file(&c->jwt_previous, var, prev, err, errlen) == -1)
		return -1;
	return secret_check(&c->jwt_previous, var, err, errlen);
}

/* Catch a malformed URL at start, not at the first request. */
static int
load_database(struct otas_config *c, unsigned need, char *err, size_t errlen)
{
	const char *url = getenv("OTAS_DATABASE_URL");
	PQconninfoOption *opts;
	char *perr = NULL;

	if (url == NULL || *url == '\0')
		return 0;
	if ((need & CONFIG_NEED_DB) != 0) {
		if ((opts = PQconninfoParse(url, &perr)) == NULL) {
			/* perr may quote the URL, password and all. */
			PQfreemem(perr);
			return fail(err, errlen, "OTAS_DATABASE_URL is not a "
			    "valid libpq URI or conninfo string");
		}
		PQconninfoFree(opts);
	}
	if ((c->database_url = strdup(url)) == NULL)
		return fail(err, errlen, "out of memory");
	return 0;
}

static int
load_numbers(struct otas_config *c, char *err, size_t errlen)
{
	if (env_long("OTAS_TOKEN_TTL", 60, 366L * 86400, &c->token_ttl, err,
	    errlen) == -1 ||
	    env_long("OTAS_TOKEN_LEEWAY", 0, 3600, &c->token_leeway, err,
	    errlen) == -1 ||
	    env_long("OTAS_MAX_BODY", 2, 16L * 1024 * 1024, &c->max_body, err,
	    errlen) == -1 ||
	    env_long("OTAS_CONNECT_TIMEOUT", 1, 60, &c->connect_timeout, err,
	    errlen) == -1 ||
	    env_long("OTAS_STATEMENT_TIMEOUT_MS", 10, 600000,
	    &c->statement_timeout_ms, err, errlen) == -1 ||
	    env_long("OTAS_MAX_REQUESTS", 0, LONG_MAX, &c->max_requests, err,
	    errlen) == -1 ||
	    env_long("OTAS_THREADS", 1, 64, &c->threads, err, errlen) == -1 ||
	    env_long("OTAS_AUTHZ_CACHE_SECONDS", 0, 3600,
	    &c->authz_cache_seconds, err, errlen) == -1 ||
	    env_long("OTAS_SLOW_HASH_ITERATIONS", 1, 10000000,
	    &c->slow_hash_iterations, err, errlen) == -1 ||
	    env_long("OTAS_SLOW_HASH_RATE", 1000, 1000000000L,
	    &c->slow_hash_rate, err, errlen) == -1 ||
	    env_long("OTAS_IDEMPOTENCY_TTL", 1, 366L * 86400,
	    &c->idempotency_ttl, err, errlen) == -1 ||
	    env_long("OTAS_KEY_ITERATIONS", 1, 10000000, &c->key_iterations,
	    err, errlen) == -1)
		return -1;
	if (env_flag("OTAS_DB_UNNAMED_STATEMENTS", &c->unnamed_statements, err,
	    errlen) == -1 ||
	    env_flag("OTAS_AUTHZ_CHECK_DB", &c->authz_check_db, err,
	    errlen) == -1 ||
	    env_flag("OTAS_REHASH", &c->rehash, err, errlen) == -1)
		return -1;
	return 0;
}

int
config_load(struct otas_config *c, unsigned need, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->token_ttl = 30L * 86400;
	c->token_leeway = 60;
	c->max_body = 64 * 1024;
	c->connect_timeout = 2;
	c->statement_timeout_ms = 2000;
	c->authz_cache_seconds = 5;
	c->slow_hash_iterations = 10000;
	c->slow_hash_rate = 1000000;
	c->rehash = 1;
	c->idempotency_ttl = 86400;
	c->key_iterations = 1000;
	c->threads = 1;

	if (load_numbers(c, err, errlen) == -1 ||
	    load_database(c, need, err, errlen) == -1 ||
	    load_secrets(c, need, err, errlen) == -1) {
		config_free(c);
		return -1;
	}
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

void
config_free(struct otas_config *c)
{
	free(c->database_url);
	c->database_url = NULL;
	secret_free(&c->jwt_secret);
	secret_free(&c->jwt_previous);
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
	n = snprintf(buf, cap, "%s threads=%ld max_requests=%ld "
	    "token_ttl=%ld max_body=%ld connect_timeout=%ld "
	    "statement_timeout_ms=%ld unnamed_statements=%d "
	    "authz_check_db=%d jwt_secret=%s previous_secret=%s", db,
	    c->threads, c->max_requests, c->token_ttl, c->max_body,
	    c->connect_timeout, c->statement_timeout_ms,
	    c->unnamed_statements, c->authz_check_db,
	    c->jwt_secret.bytes != NULL ? "set" : "unset",
	    c->jwt_previous.bytes != NULL ? "set" : "unset");
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}
