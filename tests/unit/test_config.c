/*
 * test_config — config_load from the environment and the settings file:
 * defaults, every number refusing junk and out-of-range values with a
 * sentence naming the variable, JWT secrets from a file or the variable, a
 * database URL checked at start without being echoed; the settings file's
 * settings, its errors naming file and line, its permissions, the
 * environment winning over it; and otas.conf.example listing every setting
 * with its default.  Where the file is found and how its lines split is
 * test_settings_file's.  Every test starts from an environment with no
 * OTAS_* variable set (the setup clears them) in the directory it started
 * in.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "site.h"
#include "tmpfile.h"

#define SECRET40 "0123456789abcdefghijklmnopqrstuvwxyzABCD"

static const char *const vars[] = {
	"OTAS_DATABASE_URL", "OTAS_JWT_SECRET_FILE", "OTAS_JWT_SECRET",
	"OTAS_JWT_PREVIOUS_SECRET_FILE", "OTAS_TOKEN_TTL", "OTAS_TOKEN_LEEWAY",
	"OTAS_MAX_BODY", "OTAS_CONNECT_TIMEOUT", "OTAS_STATEMENT_TIMEOUT_MS",
	"OTAS_DB_UNNAMED_STATEMENTS", "OTAS_MAX_REQUESTS",
	"OTAS_AUTHZ_CHECK_DB", "OTAS_AUTHZ_CACHE_SECONDS",
	"OTAS_SLOW_HASH_ITERATIONS", "OTAS_SLOW_HASH_RATE", "OTAS_REHASH",
	"OTAS_IDEMPOTENCY_TTL",
	"OTAS_KEY_ITERATIONS", "OTAS_THREADS", "OTAS_SQL_DIR", "OTAS_CONFIG",
	"SCRIPT_FILENAME", "OTAS_RUNTIME_ROLE", "OTAS_SESSION_RETENTION",
	"OTAS_DB_DEADLINE_MS", "OTAS_AUTHZ_DATABASE_URL", "OTAS_SESSION_RATE",
};

/* The numeric settings, where each lands, and one good value. */
static const struct {
	const char	*name;
	size_t		 off;
	int		 is_flag;
	const char	*good;
	long		 good_value;
} numbers[] = {
	{ "OTAS_TOKEN_TTL", offsetof(struct otas_config, token_ttl), 0,
	    "3600", 3600 },
	{ "OTAS_TOKEN_LEEWAY", offsetof(struct otas_config, token_leeway), 0,
	    "5", 5 },
	{ "OTAS_MAX_BODY", offsetof(struct otas_config, max_body), 0,
	    "1024", 1024 },
	{ "OTAS_CONNECT_TIMEOUT",
	    offsetof(struct otas_config, connect_timeout), 0, "7", 7 },
	{ "OTAS_STATEMENT_TIMEOUT_MS",
	    offsetof(struct otas_config, statement_timeout_ms), 0, "1500",
	    1500 },
	{ "OTAS_MAX_REQUESTS", offsetof(struct otas_config, max_requests), 0,
	    "500", 500 },
	{ "OTAS_AUTHZ_CACHE_SECONDS",
	    offsetof(struct otas_config, authz_cache_seconds), 0, "30", 30 },
	{ "OTAS_SLOW_HASH_ITERATIONS",
	    offsetof(struct otas_config, slow_hash_iterations), 0, "20000",
	    20000 },
	{ "OTAS_SLOW_HASH_RATE",
	    offsetof(struct otas_config, slow_hash_rate), 0, "20000", 20000 },
	{ "OTAS_IDEMPOTENCY_TTL",
	    offsetof(struct otas_config, idempotency_ttl), 0, "600", 600 },
	{ "OTAS_REHASH", offsetof(struct otas_config, rehash), 1, "0", 0 },
	{ "OTAS_DB_DEADLINE_MS",
	    offsetof(struct otas_config, db_deadline_ms), 0, "2500", 2500 },
	{ "OTAS_KEY_ITERATIONS", offsetof(struct otas_config, key_iterations),
	    0, "2000", 2000 },
	{ "OTAS_DB_UNNAMED_STATEMENTS",
	    offsetof(struct otas_config, unnamed_statements), 1, "1", 1 },
	{ "OTAS_AUTHZ_CHECK_DB", offsetof(struct otas_config, authz_check_db),
	    1, "1", 1 },
};
#define NNUMBERS (sizeof(numbers) / sizeof(numbers[0]))

static long
number_at(const struct otas_config *c, size_t i)
{
	const char *p = (const char *)c + numbers[i].off;

	if (numbers[i].is_flag)
		return *(const int *)(const void *)p;
	return *(const long *)(const void *)p;
}

static int
clear_env(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	return site_back_to_start();
}

/* config_load must fail, with a message that mentions name. */
static void
assert_refused(unsigned need, const char *name, char *err, size_t errlen)
{
	struct otas_config c;

	memset(err, 0, errlen);
	if (config_load(&c, NULL, need, err, errlen) != -1) {
		config_free(&c);
		fail_msg("%s=%s accepted", name, getenv(name) ?
		    getenv(name) : "(unset)");
	}
	config_free(&c);
	if (strstr(err, name) == NULL)
		fail_msg("message does not name %s: %s", name, err);
}

/* config_load, need a secret or not, must succeed. */
static void
load_needing(struct otas_config *c, unsigned need)
{
	char err[256] = "";

	if (config_load(c, NULL, need, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
}

static void
load_with_secret(struct otas_config *c)
{
	load_needing(c, CONFIG_NEED_SECRET);
}

static void
load_ok(struct otas_config *c)
{
	load_needing(c, 0);
}

static void
defaults_without_any_setting(void **state)
{
	struct otas_config c;

	load_ok(&c);
	assert_null(c.database_url);
	assert_null(c.jwt_secret.bytes);
	assert_null(c.jwt_previous.bytes);
	assert_int_equal(c.token_ttl, 30L * 86400);
	assert_int_equal(c.token_leeway, 60);
	assert_int_equal(c.max_body, 65536);
	assert_int_equal(c.connect_timeout, 2);
	assert_int_equal(c.statement_timeout_ms, 2000);
	assert_int_equal(c.unnamed_statements, 0);
	assert_int_equal(c.max_requests, 0);
	assert_int_equal(c.authz_check_db, 0);
	assert_int_equal(c.authz_cache_seconds, 5);
	assert_int_equal(c.slow_hash_iterations, 10000);
	assert_int_equal(c.slow_hash_rate, 1000000);
	assert_int_equal(c.rehash, 1);
	assert_int_equal(c.idempotency_ttl, 86400);
	assert_int_equal(c.key_iterations, 1000);
	config_free(&c);
}

static void
each_number_takes_a_good_value(void **state)
{
	struct otas_config c;
	char err[256];
	size_t i;

	for (i = 0; i < NNUMBERS; i++) {
		clear_env(state);
		setenv(numbers[i].name, numbers[i].good, 1);
		if (config_load(&c, NULL, 0, err, sizeof(err)) != 0)
			fail_msg("%s=%s refused: %s", numbers[i].name,
			    numbers[i].good, err);
		assert_int_equal(number_at(&c, i), numbers[i].good_value);
		config_free(&c);
	}
}

static void
empty_number_keeps_the_default(void **state)
{
	struct otas_config c;

	setenv("OTAS_TOKEN_TTL", "", 1);
	load_ok(&c);
	assert_int_equal(c.token_ttl, 30L * 86400);
	config_free(&c);
}

/* Every number setting, set to each of bad[0..n) alone, is refused
 * with a message naming it. */
static void
assert_every_number_refuses(void **state, const char *const bad[], size_t n)
{
	char err[256];
	size_t i, j;

	for (i = 0; i < NNUMBERS; i++)
		for (j = 0; j < n; j++) {
			clear_env(state);
			setenv(numbers[i].name, bad[j], 1);
			assert_refused(0, numbers[i].name, err, sizeof(err));
		}
}

static void
each_number_refuses_non_numbers_naming_the_variable(void **state)
{
	const char *junk[] = { "abc", "12abc", "1.5", "7 ", "0x10", "1e3",
	    "--1", "+", "-", "7\n" };

	assert_every_number_refuses(state, junk,
	    sizeof(junk) / sizeof(junk[0]));
}

static void
each_number_refuses_out_of_range_naming_the_variable(void **state)
{
	const char *range[] = { "-1", "-99999", "99999999999999999999",
	    "-99999999999999999999" };

	assert_every_number_refuses(state, range,
	    sizeof(range) / sizeof(range[0]));
}

/* strtol skips leading space and takes '+': "whole-string" forbids both. */
static void
numbers_with_leading_space_or_plus_are_refused(void **state)
{
	const char *junk[] = { " 7", "\t7", "\n7", "+7" };

	assert_every_number_refuses(state, junk,
	    sizeof(junk) / sizeof(junk[0]));
}

/* One setting alone, refused with a message naming it. */
static const struct {
	const char	*name, *value;
} refused_alone[] = {
	/* Flags take 0 and 1 only. */
	{ "OTAS_DB_UNNAMED_STATEMENTS", "2" },
	{ "OTAS_AUTHZ_CHECK_DB", "yes" },
	/* A zero TTL, body limit or timeout would make the program useless. */
	{ "OTAS_TOKEN_TTL", "0" },
	{ "OTAS_MAX_BODY", "0" },
	{ "OTAS_CONNECT_TIMEOUT", "0" },
	{ "OTAS_STATEMENT_TIMEOUT_MS", "0" },
	{ "OTAS_KEY_ITERATIONS", "0" },
	/* A duration needs its unit, a rate its window. */
	{ "OTAS_SESSION_RETENTION", "90" },
	{ "OTAS_SESSION_RETENTION", "-1d" },
	{ "OTAS_SESSION_RATE", "5/m" },
	{ "OTAS_SESSION_RATE", "5" },
};

static void
flags_nonsense_limits_and_malformed_durations_are_refused(void **state)
{
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(refused_alone) / sizeof(refused_alone[0]); i++) {
		clear_env(state);
		setenv(refused_alone[i].name, refused_alone[i].value, 1);
		assert_refused(0, refused_alone[i].name, err, sizeof(err));
	}
}

static void
refusal_message_does_not_echo_the_value(void **state)
{
	char err[256];

	setenv("OTAS_MAX_BODY", "zzSENTINELzz", 1);
	assert_refused(0, "OTAS_MAX_BODY", err, sizeof(err));
	assert_null(strstr(err, "zzSENTINELzz"));
}

/* OTAS_JWT_SECRET_FILE holding bytes[0..n) (and OTAS_JWT_SECRET set to
 * variable, unless NULL): the secret is SECRET40. */
static const struct {
	const char	*name;
	const char	*bytes;
	size_t		 n;
	const char	*variable;
} secret_files[] = {
	{ "trailing newline stripped", SECRET40 "\n", 41, NULL },
	{ "CRLF stripped", SECRET40 "\r\n", 42, NULL },
	{ "file preferred over the variable", SECRET40, 40,
	    "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ" },
};

static void
secret_file_is_read_line_end_stripped_and_preferred(void **state)
{
	char path[] = "/tmp/test_config.XXXXXX";
	struct otas_config c;
	size_t i;

	for (i = 0; i < sizeof(secret_files) / sizeof(secret_files[0]); i++) {
		clear_env(state);
		memcpy(path, "/tmp/test_config.XXXXXX", sizeof(path));
		write_file(path, secret_files[i].bytes, secret_files[i].n);
		setenv("OTAS_JWT_SECRET_FILE", path, 1);
		if (secret_files[i].variable != NULL)
			setenv("OTAS_JWT_SECRET", secret_files[i].variable, 1);
		load_with_secret(&c);
		if (c.jwt_secret.len != strlen(SECRET40) ||
		    memcmp(c.jwt_secret.bytes, SECRET40, strlen(SECRET40)) != 0)
			fail_msg("%s: not the secret", secret_files[i].name);
		config_free(&c);
		assert_null(c.jwt_secret.bytes);
		unlink(path);
	}
}

static void
secret_file_under_32_bytes_is_refused(void **state)
{
	char path[] = "/tmp/test_config.XXXXXX";
	char err[256];

	/* 31 bytes plus a newline that does not count. */
	write_file(path, "0123456789abcdefghijklmnopqrstu\n", 32);
	setenv("OTAS_JWT_SECRET_FILE", path, 1);
	assert_refused(CONFIG_NEED_SECRET, "OTAS_JWT_SECRET_FILE", err,
	    sizeof(err));
	assert_null(strstr(err, "0123456789abcdefghijklmnopqrstu"));
	unlink(path);
}

static void
secret_variable_under_32_bytes_is_refused(void **state)
{
	char err[256];

	setenv("OTAS_JWT_SECRET", "0123456789abcdefghijklmnopqrstu", 1);
	assert_refused(CONFIG_NEED_SECRET, "OTAS_JWT_SECRET", err,
	    sizeof(err));
	assert_null(strstr(err, "0123456789abcdefghijklmnopqrstu"));
	/* Even when no secret is needed, a short one is a mistake. */
	assert_refused(0, "OTAS_JWT_SECRET", err, sizeof(err));
}

static void
secret_of_exactly_32_bytes_is_accepted(void **state)
{
	struct otas_config c;

	setenv("OTAS_JWT_SECRET", "0123456789abcdefghijklmnopqrstuv", 1);
	load_with_secret(&c);
	assert_int_equal(c.jwt_secret.len, CONFIG_SECRET_MIN);
	config_free(&c);
}

static void
secret_variable_used_when_no_file(void **state)
{
	struct otas_config c;

	setenv("OTAS_JWT_SECRET", SECRET40, 1);
	load_with_secret(&c);
	assert_int_equal(c.jwt_secret.len, strlen(SECRET40));
	assert_memory_equal(c.jwt_secret.bytes, SECRET40, strlen(SECRET40));
	config_free(&c);

	/* An empty OTAS_JWT_SECRET_FILE is as good as absent. */
	setenv("OTAS_JWT_SECRET_FILE", "", 1);
	load_with_secret(&c);
	assert_int_equal(c.jwt_secret.len, strlen(SECRET40));
	config_free(&c);
}

static void
missing_secret_is_refused_when_needed(void **state)
{
	struct otas_config c;
	char err[256];

	assert_refused(CONFIG_NEED_SECRET, "OTAS_JWT_SECRET", err, sizeof(err));
	load_ok(&c);
	assert_null(c.jwt_secret.bytes);
	config_free(&c);
}

static void
unreadable_secret_file_is_refused_without_the_secret(void **state)
{
	char err[256];
	char dir[] = "/tmp/test_config.XXXXXX";

	setenv("OTAS_JWT_SECRET", SECRET40, 1);
	setenv("OTAS_JWT_SECRET_FILE", "/nonexistent/otas/jwt-secret", 1);
	assert_refused(CONFIG_NEED_SECRET, "OTAS_JWT_SECRET_FILE", err,
	    sizeof(err));
	assert_null(strstr(err, SECRET40));
	assert_null(strstr(err, "0123456789abcdef"));

	/* A directory opens but cannot be read. */
	assert_non_null(mkdtemp(dir));
	setenv("OTAS_JWT_SECRET_FILE", dir, 1);
	assert_refused(CONFIG_NEED_SECRET, "OTAS_JWT_SECRET_FILE", err,
	    sizeof(err));
	assert_null(strstr(err, "0123456789abcdef"));
	rmdir(dir);
}

static void
secret_file_larger_than_the_limit_is_refused(void **state)
{
	char path[] = "/tmp/test_config.XXXXXX";
	char err[256];
	char *big;
	const size_t n = 64 * 1024;

	assert_non_null(big = malloc(n));
	memset(big, 'S', n);
	write_file(path, big, n);
	free(big);
	setenv("OTAS_JWT_SECRET_FILE", path, 1);
	assert_refused(CONFIG_NEED_SECRET, "OTAS_JWT_SECRET_FILE", err,
	    sizeof(err));
	assert_null(strstr(err, "SSSS"));
	unlink(path);
}

static void
previous_secret_file_is_loaded_and_checked(void **state)
{
	char cur[] = "/tmp/test_config.XXXXXX", prev[] = "/tmp/test_config.XXXXXX";
	struct otas_config c;
	char err[256];

	write_file(cur, SECRET40, strlen(SECRET40));
	write_file(prev, "previous-secret-previous-secret-previous\n", 41);
	setenv("OTAS_JWT_SECRET_FILE", cur, 1);
	setenv("OTAS_JWT_PREVIOUS_SECRET_FILE", prev, 1);
	load_with_secret(&c);
	assert_int_equal(c.jwt_previous.len, 40);
	assert_memory_equal(c.jwt_previous.bytes,
	    "previous-secret-previous-secret-previous", 40);
	config_free(&c);
	unlink(prev);

	memcpy(prev, "/tmp/test_config.XXXXXX", sizeof(prev));
	write_file(prev, "short\n", 6);
	setenv("OTAS_JWT_PREVIOUS_SECRET_FILE", prev, 1);
	assert_refused(CONFIG_NEED_SECRET, "OTAS_JWT_PREVIOUS_SECRET_FILE",
	    err, sizeof(err));
	unlink(prev);
	unlink(cur);
}

static void
database_url_is_kept(void **state)
{
	struct otas_config c;

	setenv("OTAS_DATABASE_URL", "postgresql://otas@127.0.0.1:5432/otas", 1);
	load_ok(&c);
	assert_string_equal(c.database_url,
	    "postgresql://otas@127.0.0.1:5432/otas");
	config_free(&c);
	assert_null(c.database_url);

	setenv("OTAS_DATABASE_URL", "host=/run/postgresql dbname=otas", 1);
	load_ok(&c);
	assert_string_equal(c.database_url, "host=/run/postgresql dbname=otas");
	config_free(&c);
}

static void
deadline_defaults_to_a_second_past_the_statement_timeout(void **state)
{
	struct otas_config c;

	load_ok(&c);
	assert_int_equal(c.db_deadline_ms, 3000);
	config_free(&c);
	setenv("OTAS_STATEMENT_TIMEOUT_MS", "500", 1);
	load_ok(&c);
	assert_int_equal(c.db_deadline_ms, 1500);
	config_free(&c);
}

/* The server would run on a statement the client has given up on. */
static void
deadline_below_the_statement_timeout_is_refused(void **state)
{
	char err[256];

	setenv("OTAS_STATEMENT_TIMEOUT_MS", "2000", 1);
	setenv("OTAS_DB_DEADLINE_MS", "1999", 1);
	assert_refused(0, "OTAS_DB_DEADLINE_MS", err, sizeof(err));
}

static void
authz_database_url_is_kept_and_checked(void **state)
{
	struct otas_config c;
	char err[256];

	setenv("OTAS_AUTHZ_DATABASE_URL", "postgresql://otas@10.0.0.2,"
	    "10.0.0.3/otas?target_session_attrs=prefer-standby", 1);
	load_ok(&c);
	assert_non_null(strstr(c.authz_database_url, "prefer-standby"));
	config_free(&c);
	assert_null(c.authz_database_url);

	setenv("OTAS_AUTHZ_DATABASE_URL", "postgresql://otas:hunter2pw@[::1",
	    1);
	assert_refused(0, "OTAS_AUTHZ_DATABASE_URL", err, sizeof(err));
	assert_null(strstr(err, "hunter2pw"));
}

static void
malformed_database_url_is_refused_without_echo(void **state)
{
	const char *bad[] = {
		"postgresql://[::1",
		"postgresql://otas:hunter2pw@[::1/otas",
		"host=localhost password='hunter2pw",
		"postgresql://otas:hunter2pw@localhost/otas?bogus_option=1",
	};
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		clear_env(state);
		setenv("OTAS_DATABASE_URL", bad[i], 1);
		assert_refused(0, "OTAS_DATABASE_URL", err,
		    sizeof(err));
		assert_null(strstr(err, "[::1"));
		assert_null(strstr(err, "hunter2pw"));
		assert_null(strstr(err, "bogus_option"));
	}
}

static void
short_error_buffer_is_truncated_not_overrun(void **state)
{
	struct otas_config c;
	char err[12];

	memset(err, '#', sizeof(err));
	setenv("OTAS_MAX_BODY", "junk", 1);
	assert_int_equal(config_load(&c, NULL, 0, err, 8), -1);
	config_free(&c);
	assert_true(strlen(err) < 8);
	assert_int_equal(err[8], '#');
}

static void
runtime_role_defaults_to_otas_runtime_and_takes_a_name(void **state)
{
	struct otas_config c;

	load_ok(&c);
	assert_string_equal(c.runtime_role, "otas_runtime");
	config_free(&c);
	setenv("OTAS_RUNTIME_ROLE", "shop_otas_2", 1);
	load_ok(&c);
	assert_string_equal(c.runtime_role, "shop_otas_2");
	config_free(&c);
}

static void
runtime_role_refuses_what_is_no_plain_name(void **state)
{
	static const char *const bad[] = { "Otas", "otas-runtime",
	    "otas runtime", "1otas", "pg_monitor", "o\"; DROP TABLE agent; --",
	    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl" };
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("OTAS_RUNTIME_ROLE", bad[i], 1);
		assert_refused(0, "OTAS_RUNTIME_ROLE", err, sizeof(err));
	}
}

static void
session_retention_is_off_unless_set_and_takes_a_duration(void **state)
{
	struct otas_config c;

	load_ok(&c);
	assert_int_equal(c.session_retention, 0);
	config_free(&c);
	setenv("OTAS_SESSION_RETENTION", "90d", 1);
	load_ok(&c);
	assert_int_equal(c.session_retention, 90LL * 86400);
	config_free(&c);
}

static void
session_rate_is_off_unless_set_and_takes_a_rate(void **state)
{
	struct otas_config c;

	load_ok(&c);
	assert_int_equal(c.session_rate.quota, 0);
	config_free(&c);
	setenv("OTAS_SESSION_RATE", "5/min", 1);
	load_ok(&c);
	assert_int_equal(c.session_rate.quota, 5);
	assert_int_equal(c.session_rate.window, 60);
	assert_int_equal(c.session_rate.burst, 5);
	config_free(&c);
	setenv("OTAS_SESSION_RATE", "off", 1);
	load_ok(&c);
	assert_int_equal(c.session_rate.quota, 0);
	config_free(&c);
}

/* ------------------------------------------------ the settings file */

/* Loads with OTAS_CONFIG naming the site's file; returns config_load's. */
static int
load_site(const struct site *s, struct otas_config *c, unsigned need,
    char *err, size_t errlen)
{
	setenv("OTAS_CONFIG", s->conf, 1);
	return config_load(c, NULL, need, err, errlen);
}

/* The site's settings load (needing what need says); then it goes. */
static void
assert_site_loads(struct site *s, unsigned need)
{
	struct otas_config c;
	char err[512] = "";

	if (load_site(s, &c, need, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	config_free(&c);
	site_remove(s);
}

/* The file must be refused, with file:line and the words in the message. */
static void
assert_file_refused(const char *conf, unsigned line, const char *words)
{
	struct site s;
	struct otas_config c;
	char err[512], where[160];

	site_make(&s, conf);
	if (load_site(&s, &c, 0, err, sizeof(err)) != -1) {
		config_free(&c);
		fail_msg("accepted: %s", conf);
	}
	snprintf(where, sizeof(where), "%s:%u: ", s.conf, line);
	if (strncmp(err, where, strlen(where)) != 0 ||
	    strstr(err, words) == NULL)
		fail_msg("want \"%s...%s\", got \"%s\"", where, words, err);
	assert_null(strchr(err, '\n'));
	site_remove(&s);
}

static void
settings_file_values_are_read(void **state)
{
	struct site s;
	struct otas_config c;
	char err[512];

	site_make(&s, "# a comment\n\n   \t\nOTAS_TOKEN_TTL=3600\n"
	    "  # indented comment\nOTAS_AUTHZ_CHECK_DB=1\n"
	    "OTAS_DATABASE_URL=host=/run/postgresql dbname=otas\n"
	    "OTAS_JWT_SECRET=" SECRET40 "\n");
	assert_int_equal(load_site(&s, &c, CONFIG_NEED_SECRET, err,
	    sizeof(err)), 0);
	assert_int_equal(c.token_ttl, 3600);
	assert_int_equal(c.authz_check_db, 1);
	assert_string_equal(c.database_url, "host=/run/postgresql dbname=otas");
	assert_int_equal(c.jwt_secret.len, strlen(SECRET40));
	assert_string_equal(c.settings_file, s.conf);
	assert_int_equal(c.token_leeway, 60);	/* not in the file: default */
	config_free(&c);
	site_remove(&s);
}

static void
settings_file_with_crlf_lines_and_no_final_newline_is_read(void **state)
{
	struct site s;
	struct otas_config c;
	char err[512];

	site_make(&s, "# uploaded from Windows\r\nOTAS_MAX_BODY=1024\r\n"
	    "OTAS_THREADS=4");
	assert_int_equal(load_site(&s, &c, 0, err, sizeof(err)), 0);
	assert_int_equal(c.max_body, 1024);
	assert_int_equal(c.threads, 4);
	config_free(&c);
	site_remove(&s);
}

static void
environment_wins_over_the_settings_file(void **state)
{
	struct site s;
	struct otas_config c;
	char err[512];

	site_make(&s, "OTAS_TOKEN_TTL=3600\nOTAS_MAX_BODY=1024\n");
	setenv("OTAS_TOKEN_TTL", "7200", 1);
	assert_int_equal(load_site(&s, &c, 0, err, sizeof(err)), 0);
	assert_int_equal(c.token_ttl, 7200);
	assert_int_equal(c.max_body, 1024);
	config_free(&c);
	site_remove(&s);
}

static void
secret_in_the_environment_wins_over_a_secret_file_in_the_settings_file(
    void **state)
{
	struct site s;
	struct otas_config c;
	char err[512];

	site_make(&s, "OTAS_JWT_SECRET_FILE=jwt-secret\n");
	site_file(&s, "jwt-secret", SECRET40 "\n", 0600);
	setenv("OTAS_JWT_SECRET", "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ", 1);
	assert_int_equal(load_site(&s, &c, CONFIG_NEED_SECRET, err,
	    sizeof(err)), 0);
	assert_memory_equal(c.jwt_secret.bytes, "ZZZZZZZZ", 8);
	config_free(&c);
	site_remove(&s);
}

static void
relative_secret_file_is_beside_the_settings_file(void **state)
{
	struct site s;
	struct otas_config c;
	char err[512];

	site_make(&s, "OTAS_JWT_SECRET_FILE=jwt-secret\nOTAS_SQL_DIR=sql\n");
	site_file(&s, "jwt-secret", SECRET40 "\n", 0600);
	assert_int_equal(chdir("/"), 0);	/* not where the file is */
	assert_int_equal(load_site(&s, &c, CONFIG_NEED_SECRET, err,
	    sizeof(err)), 0);
	assert_memory_equal(c.jwt_secret.bytes, SECRET40, strlen(SECRET40));
	assert_string_equal(c.jwt_secret_file + strlen(s.dir), "/jwt-secret");
	assert_string_equal(c.sql_dir + strlen(s.dir), "/sql");
	config_free(&c);
	site_remove(&s);
}

static void
named_settings_file_that_is_missing_is_an_error(void **state)
{
	struct otas_config c;
	char err[512];

	setenv("OTAS_CONFIG", "/nonexistent/otas.conf", 1);
	assert_int_equal(config_load(&c, NULL, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/otas.conf"));
}

static void
settings_file_found_beside_the_program_from_argv0(void **state)
{
	struct site s;
	struct otas_config c;
	char err[512];

	site_make(&s, "OTAS_TOKEN_LEEWAY=5\n");
	assert_int_equal(config_load(&c, s.program, 0, err, sizeof(err)), 0);
	assert_int_equal(c.token_leeway, 5);
	assert_string_equal(c.settings_file, s.conf);
	config_free(&c);
	site_remove(&s);
}

static void
no_settings_file_beside_the_program_is_fine(void **state)
{
	struct site s;
	struct otas_config c;
	char err[512];

	site_make(&s, NULL);
	setenv("OTAS_TOKEN_LEEWAY", "9", 1);
	assert_int_equal(config_load(&c, s.program, 0, err, sizeof(err)), 0);
	assert_int_equal(c.token_leeway, 9);
	assert_null(c.settings_file);
	config_free(&c);
	site_remove(&s);
}

static void
unknown_setting_is_refused_naming_file_and_line(void **state)
{
	assert_file_refused("OTAS_TOKEN_TTL=60\n# x\nOTAS_TOKEN_TLL=60\n", 3,
	    "unknown setting OTAS_TOKEN_TLL");
	/* OTAS_CONFIG names the file; it is no setting of the file. */
	assert_file_refused("OTAS_CONFIG=/etc/otas.conf\n", 1,
	    "unknown setting OTAS_CONFIG");
}

static void
bad_value_is_refused_naming_file_line_and_setting_not_value(void **state)
{
	struct site s;
	struct otas_config c;
	char err[512];

	assert_file_refused("\n\nOTAS_MAX_BODY=zzSENTINELzz\n", 3,
	    "OTAS_MAX_BODY");
	site_make(&s, "OTAS_MAX_BODY=zzSENTINELzz\n");
	assert_int_equal(load_site(&s, &c, 0, err, sizeof(err)), -1);
	assert_null(strstr(err, "zzSENTINELzz"));
	site_remove(&s);
	assert_file_refused("OTAS_TOKEN_TTL=60 \n", 1, "OTAS_TOKEN_TTL");
	assert_file_refused("OTAS_AUTHZ_CHECK_DB=yes\n", 1,
	    "OTAS_AUTHZ_CHECK_DB");
	assert_file_refused("OTAS_DATABASE_URL=host=x password='hunter2pw\n",
	    1, "OTAS_DATABASE_URL");
	assert_file_refused("OTAS_JWT_SECRET=short\n", 1, "OTAS_JWT_SECRET");
	assert_file_refused("#\nOTAS_JWT_SECRET_FILE=no-such-file\n", 2,
	    "OTAS_JWT_SECRET_FILE");
}

static void
a_bad_value_in_the_file_stops_even_when_the_environment_overrides(
    void **state)
{
	setenv("OTAS_MAX_BODY", "1024", 1);
	assert_file_refused("OTAS_MAX_BODY=-5\n", 1, "OTAS_MAX_BODY");
}

static void
lines_that_are_not_name_equals_value_are_refused(void **state)
{
	static const char *const lines[] = { "OTAS_TOKEN_TTL\n",
	    "OTAS_TOKEN_TTL = 60\n", "export OTAS_TOKEN_TTL=60\n", "=60\n",
	    "\"OTAS_TOKEN_TTL\"=60\n" };
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		assert_file_refused(lines[i], 1, "NAME=value");
}

static void
setting_twice_in_the_file_is_refused(void **state)
{
	assert_file_refused("OTAS_TOKEN_TTL=60\nOTAS_TOKEN_TTL=61\n", 2,
	    "first on line 1");
}

static void
nul_byte_in_a_line_is_refused(void **state)
{
	struct site s;
	struct otas_config c;
	char err[512];
	int fd;

	site_make(&s, NULL);
	assert_true((fd = open(s.conf, O_WRONLY | O_CREAT, 0600)) >= 0);
	assert_int_equal(write(fd, "#\nOTAS_TOKEN_TTL=6\0000\n", 21), 21);
	close(fd);
	assert_int_equal(load_site(&s, &c, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: "));
	assert_non_null(strstr(err, "NUL"));
	site_remove(&s);
}

static void
secret_in_a_file_others_can_read_is_refused(void **state)
{
	const char *secrets[] = {
		"OTAS_JWT_SECRET=" SECRET40 "\n",
		"OTAS_DATABASE_URL=postgresql://otas:hunter2pw@127.0.0.1/otas\n",
		"OTAS_DATABASE_URL=host=127.0.0.1 password=hunter2pw\n",
		"OTAS_AUTHZ_DATABASE_URL=postgresql://r:hunter2pw@127.0.0.2/o\n",
		"OTAS_DATABASE_URL=postgresql://otas@127.0.0.1/otas?"
		    "sslpassword=hunter2pw\n",
	};
	/* 0640 is allowed only to a file root owns: test_settings_file.c */
	const mode_t modes[] = { 0604, 0660, 0644, 0620 };
	struct site s;
	struct otas_config c;
	char err[512], name[64];
	size_t i, j;

	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		for (j = 0; j < sizeof(modes) / sizeof(modes[0]); j++) {
			site_make(&s, NULL);
			site_file(&s, "otas.conf", secrets[i], modes[j]);
			assert_int_equal(load_site(&s, &c, 0, err,
			    sizeof(err)), -1);
			assert_non_null(strstr(err, s.conf));
			assert_non_null(strstr(err, "chmod 600"));
			/* It names the setting that holds the secret. */
			snprintf(name, sizeof(name), "%.*s",
			    (int)strcspn(secrets[i], "="), secrets[i]);
			assert_non_null(strstr(err, name));
			assert_null(strstr(err, "hunter2pw"));
			assert_null(strstr(err, SECRET40));
			site_remove(&s);
		}
}

static void
file_without_secrets_may_be_readable_by_others(void **state)
{
	struct site s;

	/* A secret's path is no secret; a URL without password neither. */
	site_make(&s, NULL);
	site_file(&s, "otas.conf", "OTAS_DATABASE_URL=postgresql://otas@"
	    "127.0.0.1/otas\nOTAS_JWT_SECRET_FILE=jwt-secret\n", 0644);
	site_file(&s, "jwt-secret", SECRET40, 0600);
	assert_site_loads(&s, CONFIG_NEED_SECRET);
}

/* Served from a web space, a readable secret file is anyone's secret. */
static void
secret_file_others_can_read_is_refused(void **state)
{
	const char *names[] = { "OTAS_JWT_SECRET_FILE",
	    "OTAS_JWT_PREVIOUS_SECRET_FILE" };
	const mode_t modes[] = { 0644, 0604, 0660, 0620 };
	struct site s;
	struct otas_config c;
	char err[512], conf[256];
	size_t i, j;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		for (j = 0; j < sizeof(modes) / sizeof(modes[0]); j++) {
			site_make(&s, NULL);
			snprintf(conf, sizeof(conf), "OTAS_JWT_SECRET_FILE="
			    "jwt-secret\n%s", i == 0 ? "" :
			    "OTAS_JWT_PREVIOUS_SECRET_FILE=jwt-secret.old\n");
			site_file(&s, "otas.conf", conf, 0644);
			site_file(&s, "jwt-secret", SECRET40, i == 0 ?
			    modes[j] : 0600);
			site_file(&s, "jwt-secret.old", SECRET40, i == 1 ?
			    modes[j] : 0600);
			assert_int_equal(load_site(&s, &c, CONFIG_NEED_SECRET,
			    err, sizeof(err)), -1);
			assert_non_null(strstr(err, names[i]));
			assert_non_null(strstr(err, i == 0 ? "/jwt-secret holds"
			    : "/jwt-secret.old holds"));
			assert_non_null(strstr(err, "group or others have "
			    "access to it: chmod 600"));
			assert_null(strstr(err, SECRET40));
			site_remove(&s);
		}
	/* The same file at 0600 (0640 too when root owns it) is taken. */
	site_make(&s, "OTAS_JWT_SECRET_FILE=jwt-secret\n");
	site_file(&s, "jwt-secret", SECRET40, 0600);
	assert_site_loads(&s, CONFIG_NEED_SECRET);
}

static void
empty_value_in_the_file_is_as_good_as_absent(void **state)
{
	struct site s;
	struct otas_config c;
	char err[512];

	site_make(&s, "OTAS_TOKEN_TTL=\nOTAS_JWT_SECRET=\n");
	assert_int_equal(load_site(&s, &c, 0, err, sizeof(err)), 0);
	assert_int_equal(c.token_ttl, 30L * 86400);
	assert_null(c.jwt_secret.bytes);
	config_free(&c);
	site_remove(&s);
}

/* otas.conf.example: every row once, as "#NAME=", numbers with defaults. */
static void
example_lists_every_setting_with_its_default(void **state)
{
	char text[16384], want[128], def[32];
	const char *name, *at;
	size_t i, n;
	FILE *f;

	assert_non_null(f = fopen("otas.conf.example", "r"));
	n = fread(text, 1, sizeof(text) - 1, f);
	assert_true(n > 0 && n < sizeof(text) - 1);
	text[n] = '\0';
	fclose(f);
	for (i = 0; config_setting(i, &name, def, sizeof(def)) == 0; i++) {
		snprintf(want, sizeof(want), "\n#%s=%s%s", name, def,
		    def[0] != '\0' ? "\n" : "");
		if ((at = strstr(text, want)) == NULL)
			fail_msg("otas.conf.example lacks \"%s\"", want + 1);
		snprintf(want, sizeof(want), "\n#%s=", name);
		if (strstr(strstr(text, want) + 1, want) != NULL)
			fail_msg("otas.conf.example lists %s twice", name);
	}
	assert_true(i >= 20);
}

/*
 * otas.conf(5): every row once as ".It Ev NAME" in SETTINGS, with
 * "Default: DEF" in its entry when the row has a default, and no entry
 * there that is not a row — so the manual, the example and the table
 * cannot drift apart.
 */
static void
manual_lists_every_setting_with_its_default_and_no_other(void **state)
{
	char text[65536], want[128], def[32];
	const char *name, *at, *start, *end, *next, *p;
	size_t i, n, entries = 0;
	FILE *f;

	assert_non_null(f = fopen("otas.conf.5", "r"));
	n = fread(text, 1, sizeof(text) - 1, f);
	assert_true(n > 0 && n < sizeof(text) - 1);
	text[n] = '\0';
	fclose(f);
	assert_non_null(start = strstr(text, "\n.Sh SETTINGS\n"));
	assert_non_null(end = strstr(start, "\n.Sh ENVIRONMENT\n"));
	for (p = start; (p = strstr(p, "\n.It Ev OTAS_")) != NULL && p < end;
	    p++)
		entries++;
	for (i = 0; config_setting(i, &name, def, sizeof(def)) == 0; i++) {
		snprintf(want, sizeof(want), "\n.It Ev %s\n", name);
		if ((at = strstr(start, want)) == NULL || at > end)
			fail_msg("otas.conf.5 lacks \"%s\"", want + 1);
		if (strstr(at + 1, want) != NULL && strstr(at + 1, want) < end)
			fail_msg("otas.conf.5 lists %s twice", name);
		if (def[0] == '\0')
			continue;
		next = strstr(at + 1, "\n.It ");
		if (next == NULL || strstr(at + 1, "\n.El") < next)
			next = strstr(at + 1, "\n.El");
		snprintf(want, sizeof(want), "\nDefault: %s\n", def);
		if ((p = strstr(at, want)) == NULL || p > next)
			fail_msg("otas.conf.5: %s lacks \"Default: %s\"", name,
			    def);
	}
	if (entries != i)
		fail_msg("otas.conf.5 has %zu settings, the table %zu", entries,
		    i);
}

#define T(f) cmocka_unit_test_setup(f, clear_env)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(defaults_without_any_setting),
		T(each_number_takes_a_good_value),
		T(empty_number_keeps_the_default),
		T(each_number_refuses_non_numbers_naming_the_variable),
		T(each_number_refuses_out_of_range_naming_the_variable),
		T(numbers_with_leading_space_or_plus_are_refused),
		T(flags_nonsense_limits_and_malformed_durations_are_refused),
		T(refusal_message_does_not_echo_the_value),
		T(secret_file_is_read_line_end_stripped_and_preferred),
		T(secret_file_under_32_bytes_is_refused),
		T(secret_variable_under_32_bytes_is_refused),
		T(secret_of_exactly_32_bytes_is_accepted),
		T(secret_variable_used_when_no_file),
		T(missing_secret_is_refused_when_needed),
		T(unreadable_secret_file_is_refused_without_the_secret),
		T(secret_file_larger_than_the_limit_is_refused),
		T(previous_secret_file_is_loaded_and_checked),
		T(database_url_is_kept),
		T(malformed_database_url_is_refused_without_echo),
		T(short_error_buffer_is_truncated_not_overrun),
		T(runtime_role_defaults_to_otas_runtime_and_takes_a_name),
		T(runtime_role_refuses_what_is_no_plain_name),
		T(session_retention_is_off_unless_set_and_takes_a_duration),
		T(session_rate_is_off_unless_set_and_takes_a_rate),
		T(settings_file_values_are_read),
		T(settings_file_with_crlf_lines_and_no_final_newline_is_read),
		T(environment_wins_over_the_settings_file),
		T(secret_in_the_environment_wins_over_a_secret_file_in_the_settings_file),
		T(relative_secret_file_is_beside_the_settings_file),
		T(named_settings_file_that_is_missing_is_an_error),
		T(settings_file_found_beside_the_program_from_argv0),
		T(no_settings_file_beside_the_program_is_fine),
		T(unknown_setting_is_refused_naming_file_and_line),
		T(bad_value_is_refused_naming_file_line_and_setting_not_value),
		T(a_bad_value_in_the_file_stops_even_when_the_environment_overrides),
		T(lines_that_are_not_name_equals_value_are_refused),
		T(setting_twice_in_the_file_is_refused),
		T(nul_byte_in_a_line_is_refused),
		T(secret_in_a_file_others_can_read_is_refused),
		T(secret_file_others_can_read_is_refused),
		T(file_without_secrets_may_be_readable_by_others),
		T(empty_value_in_the_file_is_as_good_as_absent),
		T(example_lists_every_setting_with_its_default),
		T(manual_lists_every_setting_with_its_default_and_no_other),
		T(deadline_defaults_to_a_second_past_the_statement_timeout),
		T(deadline_below_the_statement_timeout_is_refused),
		T(authz_database_url_is_kept_and_checked),
	};

	if (site_remember_start() == -1)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
