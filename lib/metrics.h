/*
 * metrics — the counters of every otas-session and otas-authz process of a
 * host, in one memory-mapped file (OTAS_METRICS_FILE), and their
 * Prometheus text for GET /metrics.
 *
 * A pool of FastCGI processes has no master to ask (mod_fcgid, lighttpd and
 * spawn-fcgi start and stop processes on their own; plain CGI runs one per
 * request), so the pool keeps a scoreboard as PHP-FPM does: one slot per
 * living process, claimed by pid at start, counted into with relaxed C11
 * atomics (no lock, no system call on the request path), and summed by
 * whichever process answers a scrape.  What a process counted is folded
 * into its program's totals when it exits, or, when it was killed, by the
 * next process that finds its pid gone: a counter never goes backwards
 * while the file lives.  Plain CGI counts into private memory and folds
 * once, at exit.
 *
 * Without a usable file (unset and no settings file, another owner, a
 * layout of another version that cannot be replaced) the process counts
 * privately and says so once in the log; its scrape then shows only
 * itself.  OTAS_METRICS=0 turns counting off.
 *
 * The file also holds the host's slow-hash budget (hashbudget.h), so that
 * every process of the host draws on one.
 */
#ifndef OTAS_METRICS_H
#define OTAS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_MAGIC		"OTASMTRC"
#define METRICS_VERSION		2
#define METRICS_SLOTS		512	/* living processes of a host */
#define METRICS_FILE_NAME	"otas.metrics" /* beside the settings file */

/* The programs that count; a slot belongs to one. */
enum metrics_program {
	METRICS_SESSION,
	METRICS_AUTHZ,
	METRICS_PROGRAMS
};

/* Plain counters: each is otas_<name>_total{program} in a scrape. */
enum metrics_counter {
	METRICS_SESSIONS_CREATED,
	METRICS_IDEMPOTENCY_REPLAYS,
	METRICS_DB_STATEMENTS,
	METRICS_DB_ERRORS,
	METRICS_DB_RECONNECTS,
	METRICS_KEY_CACHE_HITS,
	METRICS_KEY_CACHE_MISSES,
	METRICS_SLOW_HASHES,
	METRICS_SLOW_HASH_ITERATIONS,
	METRICS_SLOW_HASHES_REFUSED,
	METRICS_RATE_LIMITED,
	METRICS_SCRAPES,
	METRICS_PROCESSES_STARTED,
	METRICS_COUNTERS
};

struct otas_config;

/*
 * At start, before the threads: opens (or creates, 0600) the pool's file
 * and claims a slot for prog ("otas-session", "otas-authz"; any other name
 * counts nothing).  cgi: one request, then exit (no slot: private counts
 * folded by metrics_close).  Never fails the program: a file that cannot
 * be used is logged and the process counts privately.
 */
void	metrics_open(const char *prog, const struct otas_config *cfg, int cgi);
/* At exit: folds this process's counts into the totals, frees the slot. */
void	metrics_close(void);

/* The request path: lock-free, a few relaxed atomic additions each. */
void	metrics_count(enum metrics_counter c);
void	metrics_add(enum metrics_counter c, uint64_t n);
void	metrics_threads(int n);		/* this process's worker threads */
void	metrics_busy(int delta);	/* +1 a request begins, -1 it ends */
/* A request answered with HTTP status http after usec microseconds. */
void	metrics_request(int http, long long usec);
/* One group commit of rows rows (otas_db_group_commit_rows). */
void	metrics_commit_rows(int rows);

/*
 * The host's slow-hash budget in the pool's file (hashbudget.c), with the
 * pool's lock held until metrics_pool_unlock; NULL, and no lock, for a
 * process without the file.
 */
struct hashbudget_pool;
struct hashbudget_pool *metrics_pool_lock(void);
void	metrics_pool_unlock(void);

/*
 * The whole pool in Prometheus' text format (version 0.0.4) into out:
 * processes found gone are folded first.  Returns the length, or -1 when
 * cap is too small.  Not for the request path of other requests: it
 * takes the pool's lock.
 */
long	metrics_scrape(char *out, size_t cap);

/*
 * The same text from an image of the file (the pool's file as read back
 * from disk: untrusted), without folding: -1 when the header is not this
 * version's (magic, version, sizes) or cap is too small.  Pure, for the
 * fuzz target and the unit tests.  METRICS_TEXT_MAX is enough for any
 * image.
 */
#define METRICS_TEXT_MAX	(64 * 1024)
long	metrics_text(const void *image, size_t len, char *out, size_t cap);
/* 0 when image holds a valid header of this version for len bytes. */
int	metrics_header_check(const void *image, size_t len);
/* The file's size for this version; metrics_image_init lays one out. */
size_t	metrics_image_size(void);
void	metrics_image_init(void *image, long long start_time);

#endif
