/*
 * config — the process's settings, read once before the first request from
 * the environment and from a settings file (FCGI_Accept would replace
 * environ; we never call it, but a setting read late would still fail at
 * the first request instead of at start).  A bad setting stops the program
 * with one line on stderr.
 *
 * Every setting is one row of the table in config.c; to add one, add its
 * field here, its row there, and its commented default to otas.conf.example
 * (a unit test checks that the example lists every row).
 */
#ifndef OTAS_CONFIG_H
#define OTAS_CONFIG_H

#include <stddef.h>

#include "rate.h"

#define CONFIG_SECRET_MIN 32	/* RFC 7518 §3.2: HS256 key >= hash size */
#define CONFIG_ROLE_MAX 63	/* PostgreSQL's NAMEDATALEN - 1 */

struct otas_secret {
	unsigned char	*bytes;		/* NULL when not configured */
	size_t		 len;
};

struct otas_config {
	char		*settings_file;	/* the file read; NULL: none */
	char		*database_url;	/* OTAS_DATABASE_URL; NULL: PG* defaults */
	char		*jwt_secret_file; /* OTAS_JWT_SECRET_FILE */
	char		*jwt_previous_file; /* OTAS_JWT_PREVIOUS_SECRET_FILE */
	struct otas_secret jwt_secret;	/* OTAS_JWT_SECRET_FILE | OTAS_JWT_SECRET */
	struct otas_secret jwt_previous; /* OTAS_JWT_PREVIOUS_SECRET_FILE */
	char		*sql_dir;	/* OTAS_SQL_DIR (otas-admin); NULL: built in */
	long		 token_ttl;	/* OTAS_TOKEN_TTL, seconds; 30 days */
	long		 token_leeway;	/* OTAS_TOKEN_LEEWAY, seconds; 60 */
	long		 max_body;	/* OTAS_MAX_BODY, bytes; 65536 */
	long		 connect_timeout; /* OTAS_CONNECT_TIMEOUT, s; 2 */
	long		 statement_timeout_ms; /* OTAS_STATEMENT_TIMEOUT_MS; 2000 */
	long		 db_deadline_ms; /* OTAS_DB_DEADLINE_MS; statement + 1000 */
	int		 unnamed_statements; /* OTAS_DB_UNNAMED_STATEMENTS=1 */
	long		 max_requests;	/* OTAS_MAX_REQUESTS; 0 = no limit */
	long		 threads;	/* OTAS_THREADS per process; 1 */
	int		 authz_check_db; /* OTAS_AUTHZ_CHECK_DB=1 */
	char		*authz_database_url; /* OTAS_AUTHZ_DATABASE_URL; NULL */
	long		 authz_cache_seconds; /* OTAS_AUTHZ_CACHE_SECONDS; 5 */
	long		 slow_hash_iterations; /* above: a "slow" hash; 10000 */
	long		 slow_hash_rate; /* OTAS_SLOW_HASH_RATE, iterations/s; 1000000 */
	int		 rehash;	/* OTAS_REHASH: replace slow hashes; 1 */
	long		 idempotency_ttl; /* OTAS_IDEMPOTENCY_TTL, seconds; 86400 */
	long		 key_iterations; /* OTAS_KEY_ITERATIONS for new keys; 1000 */
	char		 runtime_role[CONFIG_ROLE_MAX + 1]; /* OTAS_RUNTIME_ROLE */
	long long	 session_retention; /* OTAS_SESSION_RETENTION, s; 0: off */
	struct rate	 session_rate;	/* OTAS_SESSION_RATE; quota 0: off */
	int		 metrics;	/* OTAS_METRICS: count; 1 */
	char		*metrics_file;	/* OTAS_METRICS_FILE; NULL: beside settings */
};

/* What a program needs; config_load fails when it is missing. */
#define CONFIG_NEED_SECRET	0x1	/* a JWT secret is required */

/*
 * Fills c from the settings file and the environment; the environment wins.
 * The file is $OTAS_CONFIG, else otas.conf in the directory of the program
 * (argv0: main's argv[0]; NULL looks for no such file).  Returns 0, or -1
 * with one human sentence in err (naming the setting and, for the file, its
 * path and line; never a value).  config_free releases (and wipes) what
 * config_load allocated; safe on a zeroed struct.
 */
int	config_load(struct otas_config *c, const char *argv0, unsigned need,
	    char *err, size_t errlen);
void	config_free(struct otas_config *c);

/*
 * One line for the start-up log: the settings in effect, never a secret or
 * a password (of the database only host, port, name and user).  Returns 0,
 * or -1 when cap is too small.
 */
int	config_describe(const struct otas_config *c, char *buf, size_t cap);

/*
 * The i-th setting of the table: its name and its default as the settings
 * file would write it, in def ("" when unset by default).  Returns 0, or -1 past the last row; the unit
 * test uses it to hold otas.conf.example to the table.
 */
int	config_setting(size_t i, const char **name, char *def, size_t deflen);

#endif
