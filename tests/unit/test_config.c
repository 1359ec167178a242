/*
 * test_config — config_load from the environment: defaults, every number
 * refusing junk and out-of-range values with a sentence naming the
 * variable, JWT secrets from a file or the variable, and a database URL
 * checked at start without being echoed.  Every test starts from an
 * environment with no OTAS_* variable set (the setup clears them).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define SECRET40 "0123456789abcdefghijklmnopqrstuvwxyzABCD"

static const char *const vars[] = {
	"OTAS_DATABASE_URL", "OTAS_JWT_SECRET_FILE", "OTAS_JWT_SECRET",
	"OTAS_JWT_PREVIOUS_SECRET_FILE", "OTAS_TOKEN_TTL", "OTAS_TOKEN_LEEWAY",
	"OTAS_MAX_BODY", "OTAS_CONNECT_TIMEOUT", "OTAS_STATEMENT_TIMEOUT_MS",
	"OTAS_DB_UNNAMED_STATEMENTS", "OTAS_MAX_REQUESTS",
	"OTAS_AUTHZ_CHECK_DB", "OTAS_AUTHZ_CACHE_SECONDS",
	"OTAS_SLOW_HASH_ITERATIONS", "OTAS_SLOW_HASH_RATE",
	"OTAS_KEY_ITERATIONS", "OTAS_REHASH", "OTAS_IDEMPOTENCY_TTL",
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
	return 0;
}

/* A temporary file holding bytes; the caller unlinks path. */
static void
write_file(char path[], const char *bytes, size_t n)
{
	FILE *f;
	int fd;

	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(f = fdopen(fd, "wb"));
	assert_int_equal(fwrite(bytes, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* config_load must fail, with a message that mentions name. */
static void
assert_refused(unsigned need, const char *name, char *err, size_t errlen)
{
	struct otas_config c;

	memset(err, 0, errlen);
	if (config_load(&c, need, err, errlen) != -1) {
		config_free(&c);
		fail_msg("%s=%s accepted", name, getenv(name) ?
		    getenv(name) : "(unset)");
	}
	config_free(&c);
	if (strstr(err, name) == NULL)
		fail_msg("message does not name %s: %s", name, err);
}

static void
defaults_without_any_setting(void **state)
{
	struct otas_config c;
	char err[256] = "";

	assert_int_equal(config_load(&c, 0, err, sizeof(err)), 0);
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
		if (config_load(&c, 0, err, sizeof(err)) != 0)
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
	char err[256];

	setenv("OTAS_TOKEN_TTL", "", 1);
	assert_int_equal(config_load(&c, 0, err, sizeof(err)), 0);
	assert_int_equal(c.token_ttl, 30L * 86400);
	config_free(&c);
}

static void
each_number_refuses_non_numbers_naming_the_variable(void **state)
{
	const char *junk[] = { "abc", "12abc", "1.5", "7 ", "0x10", "1e3",
	    "--1", "+", "-", "7\n" };
	char err[256];
	size_t i, j;

	for (i = 0; i < NNUMBERS; i++)
		for (j = 0; j < sizeof(junk) / sizeof(junk[0]); j++) {
			clear_env(state);
			setenv(numbers[i].name, junk[j], 1);
			assert_refused(0, numbers[i].name, err, sizeof(err));
		}
}

static void
each_number_refuses_out_of_range_naming_the_variable(void **state)
{
	const char *range[] = { "-1", "-99999", "99999999999999999999",
	    "-99999999999999999999" };
	char err[256];
	size_t i, j;

	for (i = 0; i < NNUMBERS; i++)
		for (j = 0; j < sizeof(range) / sizeof(range[0]); j++) {
			clear_env(state);
			setenv(numbers[i].name, range[j], 1);
			assert_refused(0, numbers[i].name, err, sizeof(err));
		}
}

/* strtol skips leading space and takes '+': "whole-string" forbids both. */
static void
numbers_with_leading_space_or_plus_are_refused(void **state)
{
	const char *junk[] = { " 7", "\t7", "\n7", "+7" };
	char err[256];
	size_t i, j;

	for (i = 0; i < NNUMBERS; i++)
		for (j = 0; j < sizeof(junk) / sizeof(junk[0]); j++) {
			clear_env(state);
			setenv(numbers[i].name, junk[j], 1);
			assert_refused(0, numbers[i].name, err, sizeof(err));
		}
}

static void
flags_refuse_values_other_than_0_and_1(void **state)
{
	char err[256];

	setenv("OTAS_DB_UNNAMED_STATEMENTS", "2", 1);
	assert_refused(0, "OTAS_DB_UNNAMED_STATEMENTS", err, sizeof(err));
	clear_env(state);
	setenv("OTAS_AUTHZ_CHECK_DB", "yes", 1);
	assert_refused(0, "OTAS_AUTHZ_CHECK_DB", err, sizeof(err));
}

static void
nonsense_limits_are_refused(void **state)
{
	char err[256];

	/* A zero TTL, body limit or timeout would make the program useless. */
	setenv("OTAS_TOKEN_TTL", "0", 1);
	assert_refused(0, "OTAS_TOKEN_TTL", err, sizeof(err));
	clear_env(state);
	setenv("OTAS_MAX_BODY", "0", 1);
	assert_refused(0, "OTAS_MAX_BODY", err, sizeof(err));
	clear_env(state);
	setenv("OTAS_CONNECT_TIMEOUT", "0", 1);
	assert_refused(0, "OTAS_CONNECT_TIMEOUT", err, sizeof(err));
	clear_env(state);
	setenv("OTAS_STATEMENT_TIMEOUT_MS", "0", 1);
	assert_refused(0, "OTAS_STATEMENT_TIMEOUT_MS", err, sizeof(err));
	clear_env(state);
	setenv("OTAS_KEY_ITERATIONS", "0", 1);
	assert_refused(0, "OTAS_KEY_ITERATIONS", err, sizeof(err));
}

static void
refusal_message_does_not_echo_the_value(void **state)
{
	char err[256];

	setenv("OTAS_MAX_BODY", "zzSENTINELzz", 1);
	assert_refused(0, "OTAS_MAX_BODY", err, sizeof(err));
	assert_null(strstr(err, "zzSENTINELzz"));
}

static void
secret_from_file_with_trailing_newline_stripped(void **state)
{
	char path[] = "/tmp/test_config.XXXXXX";
	struct otas_config c;
	char err[256];

	write_file(path, SECRET40 "\n", strlen(SECRET40) + 1);
	setenv("OTAS_JWT_SECRET_FILE", path, 1);
	assert_int_equal(config_load(&c, CONFIG_NEED_SECRET, err, sizeof(err)),
	    0);
	assert_int_equal(c.jwt_secret.len, strlen(SECRET40));
	assert_memory_equal(c.jwt_secret.bytes, SECRET40, strlen(SECRET40));
	config_free(&c);
	assert_null(c.jwt_secret.bytes);
	unlink(path);
}

static void
secret_from_file_with_crlf_stripped(void **state)
{
	char path[] = "/tmp/test_config.XXXXXX";
	struct otas_config c;
	char err[256];

	write_file(path, SECRET40 "\r\n", strlen(SECRET40) + 2);
	setenv("OTAS_JWT_SECRET_FILE", path, 1);
	assert_int_equal(config_load(&c, CONFIG_NEED_SECRET, err, sizeof(err)),
	    0);
	assert_int_equal(c.jwt_secret.len, strlen(SECRET40));
	config_free(&c);
	unlink(path);
}

static void
secret_file_is_preferred_over_the_variable(void **state)
{
	char path[] = "/tmp/test_config.XXXXXX";
	struct otas_config c;
	char err[256];

	write_file(path, SECRET40, strlen(SECRET40));
	setenv("OTAS_JWT_SECRET_FILE", path, 1);
	setenv("OTAS_JWT_SECRET", "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ", 1);
	assert_int_equal(config_load(&c, CONFIG_NEED_SECRET, err, sizeof(err)),
	    0);
	assert_int_equal(c.jwt_secret.len, strlen(SECRET40));
	assert_memory_equal(c.jwt_secret.bytes, SECRET40, strlen(SECRET40));
	config_free(&c);
	unlink(path);
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
	char err[256];

	setenv("OTAS_JWT_SECRET", "0123456789abcdefghijklmnopqrstuv", 1);
	assert_int_equal(config_load(&c, CONFIG_NEED_SECRET, err, sizeof(err)),
	    0);
	assert_int_equal(c.jwt_secret.len, CONFIG_SECRET_MIN);
	config_free(&c);
}

static void
secret_variable_used_when_no_file(void **state)
{
	struct otas_config c;
	char err[256];

	setenv("OTAS_JWT_SECRET", SECRET40, 1);
	assert_int_equal(config_load(&c, CONFIG_NEED_SECRET, err, sizeof(err)),
	    0);
	assert_int_equal(c.jwt_secret.len, strlen(SECRET40));
	assert_memory_equal(c.jwt_secret.bytes, SECRET40, strlen(SECRET40));
	config_free(&c);

	/* An empty OTAS_JWT_SECRET_FILE is as good as absent. */
	setenv("OTAS_JWT_SECRET_FILE", "", 1);
	assert_int_equal(config_load(&c, CONFIG_NEED_SECRET, err, sizeof(err)),
	    0);
	assert_int_equal(c.jwt_secret.len, strlen(SECRET40));
	config_free(&c);
}

static void
missing_secret_is_refused_when_needed(void **state)
{
	struct otas_config c;
	char err[256];

	assert_refused(CONFIG_NEED_SECRET, "OTAS_JWT_SECRET", err, sizeof(err));
	assert_int_equal(config_load(&c, 0, err, sizeof(err)), 0);
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
	assert_int_equal(config_load(&c, CONFIG_NEED_SECRET, err, sizeof(err)),
	    0);
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
	char err[256];

	setenv("OTAS_DATABASE_URL", "postgresql://otas@127.0.0.1:5432/otas", 1);
	assert_int_equal(config_load(&c, CONFIG_NEED_DB, err, sizeof(err)), 0);
	assert_string_equal(c.database_url,
	    "postgresql://otas@127.0.0.1:5432/otas");
	config_free(&c);
	assert_null(c.database_url);

	setenv("OTAS_DATABASE_URL", "host=/run/postgresql dbname=otas", 1);
	assert_int_equal(config_load(&c, CONFIG_NEED_DB, err, sizeof(err)), 0);
	assert_string_equal(c.database_url, "host=/run/postgresql dbname=otas");
	config_free(&c);
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
		assert_refused(CONFIG_NEED_DB, "OTAS_DATABASE_URL", err,
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
	assert_int_equal(config_load(&c, 0, err, 8), -1);
	config_free(&c);
	assert_true(strlen(err) < 8);
	assert_int_equal(err[8], '#');
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
		T(flags_refuse_values_other_than_0_and_1),
		T(nonsense_limits_are_refused),
		T(refusal_message_does_not_echo_the_value),
		T(secret_from_file_with_trailing_newline_stripped),
		T(secret_from_file_with_crlf_stripped),
		T(secret_file_is_preferred_over_the_variable),
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
