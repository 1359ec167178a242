/*
 * metrics — the pool's scoreboard file and its Prometheus text.
 *
 * Layout (one version, checked whole before anything is read): a header,
 * one slot per program for the totals of processes gone, then
 * METRICS_SLOTS slots for living processes, each 64-byte aligned so that
 * two processes never write one cache line.  A slot's counts are an array
 * of _Atomic uint64_t added to with relaxed order: a scrape needs each
 * number whole, not an order between them.  Claiming, folding and
 * scraping take the pool's lock (a mutex for the threads of this process,
 * flock for the others; a killed holder releases it), never the request
 * path.  A scrape folds gone processes before it sums, under the same
 * lock as every fold, so no scrape can see a count twice or not at all.
 *
 * A process is gone when its pid is, or when the pid now names a process
 * started at another time (/proc/<pid>/stat, field 22): a reused pid does
 * not keep a dead slot alive.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "decimal.h"
#include "hashbudget.h"
#include "log.h"
#include "metrics.h"
#include "textbuf.h"
#include "version.h"

/* The statuses any program answers; anything else counts as "other". */
static const int codes[] = { 200, 400, 401, 403, 404, 405, 409, 413, 422,
    429, 500, 503 };
#define NCODES		(sizeof(codes) / sizeof(codes[0]) + 1)

/* Request duration bucket bounds, microseconds; the last bucket is +Inf. */
static const long long dur_le[] = { 1000, 2500, 5000, 10000, 25000, 50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000 };
#define NDUR		(sizeof(dur_le) / sizeof(dur_le[0]) + 1)

/* Rows per group commit (batch.h: at most 64). */
static const long long rows_le[] = { 1, 2, 4, 8, 16, 32, 64 };
#define NROWS		(sizeof(rows_le) / sizeof(rows_le[0]) + 1)

static const char *const program_names[METRICS_PROGRAMS] = {
	[METRICS_SESSION] = "otas-session",
	[METRICS_AUTHZ] = "otas-authz",
};

static const struct {
	const char	*name;	/* otas_<name>_total */
	const char	*help;
} counter_info[METRICS_COUNTERS] = {
	[METRICS_SESSIONS_CREATED] = { "sessions_created",
	    "Sessions stored (an Idempotency-Key replay is not one)." },
	[METRICS_IDEMPOTENCY_REPLAYS] = { "idempotency_replays",
	    "Creates answered with the session of an earlier Idempotency-Key." },
	[METRICS_DB_STATEMENTS] = { "db_statements",
	    "Database statements run, the retry after a lost answer included." },
	[METRICS_DB_ERRORS] = { "db_errors",
	    "Database statements that ended without a result." },
	[METRICS_DB_RECONNECTS] = { "db_reconnects",
	    "Database connections opened after a process's first." },
	[METRICS_KEY_CACHE_HITS] = { "key_cache_hits",
	    "Keys found verified in the process's cache." },
	[METRICS_KEY_CACHE_MISSES] = { "key_cache_misses",
	    "Keys that had to be looked up and hashed." },
	[METRICS_SLOW_HASHES] = { "slow_hashes",
	    "Slow key hashes done (above OTAS_SLOW_HASH_ITERATIONS)." },
	[METRICS_SLOW_HASH_ITERATIONS] = { "slow_hash_iterations",
	    "PBKDF2 iterations of the slow hashes done." },
	[METRICS_SLOW_HASHES_REFUSED] = { "slow_hashes_refused",
	    "Slow hashes refused (503) because the budget was too far behind." },
	[METRICS_RATE_LIMITED] = { "rate_limited",
	    "Requests answered 429 by a rate limit." },
	[METRICS_SCRAPES] = { "metrics_scrapes",
	    "Answers to GET /metrics (not in otas_requests_total)." },
	[METRICS_PROCESSES_STARTED] = { "processes_started",
	    "Processes started since the pool's file was made." },
};

/* Everything a process counts; folded and summed as one array. */
struct counts {
	_Atomic uint64_t counter[METRICS_COUNTERS];
	_Atomic uint64_t code[NCODES];
	_Atomic uint64_t dur[NDUR];		/* per bucket, not cumulative */
	_Atomic uint64_t dur_usec;
	_Atomic uint64_t rows[NROWS];
	_Atomic uint64_t rows_sum;
};
#define NVALUES		(sizeof(struct counts) / sizeof(_Atomic uint64_t))

struct slot {
	_Atomic int32_t	 pid;		/* 0: free */
	int32_t		 program;	/* enum metrics_program */
	_Atomic uint64_t starttime;	/* the owner's, in clock ticks */
	_Atomic int32_t	 threads;
	_Atomic int32_t	 busy;
	struct counts	 n;
} __attribute__((aligned(64)));

struct header {
	char		 magic[8];
	uint32_t	 version;
	uint32_t	 header_size;
	uint32_t	 slot_size;
	uint32_t	 nslots;
	uint64_t	 file_size;
	int64_t		 start_time;	/* the file's birth, Unix seconds */
} __attribute__((aligned(64)));

struct image {
	struct header	 h;
	/* The host's slow-hash budget (hashbudget.h), under the pool's lock. */
	struct hashbudget_pool hashbudget __attribute__((aligned(64)));
	struct slot	 gone[METRICS_PROGRAMS];
	struct slot	 slot[METRICS_SLOTS];
};

/* The process's side. */
static struct {
	pthread_mutex_t	 lock;
	int		 fd;
	struct image	*map;		/* NULL: counting privately */
	struct slot	*self;		/* NULL: counting nothing */
	int		 program;
	int		 cgi;
} m = { PTHREAD_MUTEX_INITIALIZER, -1, NULL, NULL, 0, 0 };

static struct slot private_slot;

/* ---------------------------------------------------------- request path */

static void
add(_Atomic uint64_t *v, uint64_t n)
{
	atomic_fetch_add_explicit(v, n, memory_order_relaxed);
}

void
metrics_count(enum metrics_counter c)
{
	if (m.self != NULL && (unsigned)c < METRICS_COUNTERS)
		add(&m.self->n.counter[c], 1);
}

void
metrics_add(enum metrics_counter c, uint64_t n)
{
	if (m.self != NULL && (unsigned)c < METRICS_COUNTERS)
		add(&m.self->n.counter[c], n);
}

void
metrics_threads(int n)
{
	if (m.self != NULL)
		atomic_store_explicit(&m.self->threads, n,
		    memory_order_relaxed);
}

void
metrics_busy(int delta)
{
	if (m.self != NULL)
		atomic_fetch_add_explicit(&m.self->busy, delta,
		    memory_order_relaxed);
}

static size_t
bucket(const long long *le, size_t n, long long v)
{
	size_t i;

	for (i = 0; i < n && v > le[i]; i++)
		;
	return i;
}

static size_t
code_index(int http)
{
	size_t i;

	for (i = 0; i < NCODES - 1; i++)
		if (codes[i] == http)
			return i;
	return NCODES - 1;
}

void
metrics_request(int http, long long usec)
{
	struct slot *s = m.self;

	if (s == NULL)
		return;
	if (usec < 0)
		usec = 0;
	add(&s->n.code[code_index(http)], 1);
	add(&s->n.dur[bucket(dur_le, NDUR - 1, usec)], 1);
	add(&s->n.dur_usec, (uint64_t)usec);
}

void
metrics_commit_rows(int rows)
{
	struct slot *s = m.self;

	if (s == NULL || rows < 0)
		return;
	add(&s->n.rows[bucket(rows_le, NROWS - 1, rows)], 1);
	add(&s->n.rows_sum, (uint64_t)rows);
}

/* ----------------------------------------------------------------- image */

size_t
metrics_image_size(void)
{
	return sizeof(struct image);
}

void
metrics_image_init(void *image, long long start_time)
{
	struct image *im = image;

	memset(im, 0, sizeof(*im));
	memcpy(im->h.magic, METRICS_MAGIC, sizeof(im->h.magic));
	im->h.version = METRICS_VERSION;
	im->h.header_size = sizeof(struct header);
	im->h.slot_size = sizeof(struct slot);
	im->h.nslots = METRICS_SLOTS;
	im->h.file_size = sizeof(struct image);
	im->h.start_time = start_time;
}

int
metrics_header_check(const void *image, size_t len)
{
	const struct image *im = image;

	if (len < sizeof(struct image) || ((uintptr_t)image & 63) != 0)
		return -1;
	if (memcmp(im->h.magic, METRICS_MAGIC, sizeof(im->h.magic)) != 0 ||
	    im->h.version != METRICS_VERSION ||
	    im->h.header_size != sizeof(struct header) ||
	    im->h.slot_size != sizeof(struct slot) ||
	    im->h.nslots != METRICS_SLOTS ||
	    im->h.file_size != sizeof(struct image))
		return -1;
	return 0;
}

/* -------------------------------------------------------------- scraping */

struct out {
	char	*p;
	size_t	 cap, len;
	int	 overflow;
};

static void put(struct out *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
put(struct out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	if (textbuf_vappend(o->p, o->cap, &o->len, fmt, ap) == -1)
		o->overflow = 1;
	va_end(ap);
}

static uint64_t
get(const _Atomic uint64_t *v)
{
	return atomic_load_explicit((_Atomic uint64_t *)v,
	    memory_order_relaxed);
}

/* One program's counts: its gone total plus every slot of its own. */
static void
sum_program(const struct image *im, int p, uint64_t sum[NVALUES])
{
	const _Atomic uint64_t *v;
	size_t i, k;

	memset(sum, 0, NVALUES * sizeof(sum[0]));
	v = (const _Atomic uint64_t *)&im->gone[p].n;
	for (k = 0; k < NVALUES; k++)
		sum[k] += get(&v[k]);
	for (i = 0; i < METRICS_SLOTS; i++) {
		if (im->slot[i].program != p)
			continue;
		v = (const _Atomic uint64_t *)&im->slot[i].n;
		for (k = 0; k < NVALUES; k++)
			sum[k] += get(&v[k]);
	}
}

/* Index of a member of struct counts in the flat array. */
#define AT(member)	(offsetof(struct counts, member) / sizeof(uint64_t))

static void
put_counters(struct out *o, uint64_t sum[][NVALUES])
{
	int c, p;

	for (c = 0; c < METRICS_COUNTERS; c++) {
		put(o, "# HELP otas_%s_total %s\n# TYPE otas_%s_total counter\n",
		    counter_info[c].name, counter_info[c].help,
		    counter_info[c].name);
		for (p = 0; p < METRICS_PROGRAMS; p++)
			put(o, "otas_%s_total{program=\"%s\"} %llu\n",
			    counter_info[c].name, program_names[p],
			    (unsigned long long)sum[p][AT(counter) + c]);
	}
}

static void
put_requests(struct out *o, uint64_t sum[][NVALUES])
{
	size_t i;
	int p;

	put(o, "# HELP otas_requests_total Requests answered, by program and "
	    "HTTP status.\n# TYPE otas_requests_total counter\n");
	for (p = 0; p < METRICS_PROGRAMS; p++)
		for (i = 0; i < NCODES; i++) {
			if (i < NCODES - 1)
				put(o, "otas_requests_total{program=\"%s\","
				    "code=\"%d\"} ", program_names[p], codes[i]);
			else
				put(o, "otas_requests_total{program=\"%s\","
				    "code=\"other\"} ", program_names[p]);
			put(o, "%llu\n", (unsigned long long)
			    sum[p][AT(code) + i]);
		}
}

/*
 * A histogram from per-bucket counts (bounds le[0..n-1] in units of
 * 1/scale; the (n+1)-th bucket is +Inf) and the sum of what it counted.
 */
static void
put_histogram(struct out *o, const char *name, const char *help,
    const char *program, const uint64_t *b, const long long *le, size_t n,
    uint64_t total, double scale, int head)
{
	uint64_t cum = 0;
	size_t i;

	if (head)
		put(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (i = 0; i < n; i++) {
		cum += b[i];
		put(o, "%s_bucket{program=\"%s\",le=\"%g\"} %llu\n", name,
		    program, (double)le[i] / scale, (unsigned long long)cum);
	}
	cum += b[n];
	put(o, "%s_bucket{program=\"%s\",le=\"+Inf\"} %llu\n", name, program,
	    (unsigned long long)cum);
	put(o, "%s_sum{program=\"%s\"} %.6f\n", name, program,
	    (double)total / scale);
	put(o, "%s_count{program=\"%s\"} %llu\n", name, program,
	    (unsigned long long)cum);
}

static void
put_histograms(struct out *o, uint64_t sum[][NVALUES])
{
	int p;

	for (p = 0; p < METRICS_PROGRAMS; p++)
		put_histogram(o, "otas_request_duration_seconds",
		    "Time from a request's start to its answer.",
		    program_names[p], &sum[p][AT(dur)], dur_le, NDUR - 1,
		    sum[p][AT(dur_usec)], 1e6, p == 0);
	for (p = 0; p < METRICS_PROGRAMS; p++)
		put_histogram(o, "otas_db_group_commit_rows",
		    "Sessions stored by one statement and commit.",
		    program_names[p], &sum[p][AT(rows)], rows_le, NROWS - 1,
		    sum[p][AT(rows_sum)], 1, p == 0);
}

/* A gauge by program and state: v[program][0] busy, [1] idle. */
static void
put_busy_idle(struct out *o, const char *name, const char *help,
    long long v[METRICS_PROGRAMS][2])
{
	int p;

	put(o, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
	for (p = 0; p < METRICS_PROGRAMS; p++)
		put(o, "%s{program=\"%s\",state=\"busy\"} %lld\n"
		    "%s{program=\"%s\",state=\"idle\"} %lld\n",
		    name, program_names[p], v[p][0],
		    name, program_names[p], v[p][1]);
}

/* Living processes and their threads, busy or idle, by program. */
static void
put_gauges(struct out *o, const struct image *im)
{
	long long thr[METRICS_PROGRAMS][2], proc[METRICS_PROGRAMS][2];
	long long t, b;
	size_t i;
	int p;

	memset(thr, 0, sizeof(thr));
	memset(proc, 0, sizeof(proc));
	for (i = 0; i < METRICS_SLOTS; i++) {
		const struct slot *s = &im->slot[i];

		p = s->program;
		if (p < 0 || p >= METRICS_PROGRAMS ||
		    atomic_load_explicit((_Atomic int32_t *)&s->pid,
		    memory_order_relaxed) <= 0)
			continue;
		t = atomic_load_explicit((_Atomic int32_t *)&s->threads,
		    memory_order_relaxed);
		b = atomic_load_explicit((_Atomic int32_t *)&s->busy,
		    memory_order_relaxed);
		t = t < 0 ? 0 : t;
		b = b < 0 ? 0 : b > t ? t : b;
		thr[p][0] += b;
		thr[p][1] += t - b;
		proc[p][b > 0 ? 0 : 1]++;
	}
	put_busy_idle(o, "otas_threads",
	    "Worker threads of living processes.", thr);
	put_busy_idle(o, "otas_processes",
	    "Living processes (busy: serving at least one request).", proc);
}

/* The version as a label value: \, " and newline escaped. */
static void
put_info(struct out *o, const struct image *im)
{
	const char *v = version_string();

	put(o, "# HELP otas_build_info The version of the program answering "
	    "the scrape.\n# TYPE otas_build_info gauge\n"
	    "otas_build_info{version=\"");
	for (; *v != '\0'; v++)
		put(o, "%s%c", *v == '\\' || *v == '"' ? "\\" : "",
		    *v == '\n' ? 'n' : *v);
	put(o, "\"} 1\n");
	put(o, "# HELP otas_pool_start_time_seconds When the pool's metrics "
	    "file was made (Unix time).\n"
	    "# TYPE otas_pool_start_time_seconds gauge\n"
	    "otas_pool_start_time_seconds %lld\n", (long long)im->h.start_time);
}

long
metrics_text(const void *image, size_t len, char *out, size_t cap)
{
	uint64_t (*s)[NVALUES];
	struct out o = { out, cap, 0, 0 };
	int p;

	if (metrics_header_check(image, len) == -1 || cap == 0)
		return -1;
	if ((s = calloc(METRICS_PROGRAMS, sizeof(*s))) == NULL)
		return -1;
	for (p = 0; p < METRICS_PROGRAMS; p++)
		sum_program(image, p, s[p]);
	put_info(&o, image);
	put_requests(&o, s);
	put_histograms(&o, s);
	put_counters(&o, s);
	put_gauges(&o, image);
	free(s);
	return o.overflow ? -1 : (long)o.len;
}

/* ------------------------------------------------------- the pool's lock */

static void
pool_lock(void)
{
	pthread_mutex_lock(&m.lock);
	while (m.fd != -1 && flock(m.fd, LOCK_EX) == -1 && errno == EINTR)
		;
}

static void
pool_unlock(void)
{
	if (m.fd != -1)
		flock(m.fd, LOCK_UN);
	pthread_mutex_unlock(&m.lock);
}

struct hashbudget_pool *
metrics_pool_lock(void)
{
	if (m.map == NULL)
		return NULL;
	pool_lock();
	return &m.map->hashbudget;
}

void
metrics_pool_unlock(void)
{
	pool_unlock();
}

/* ------------------------------------------------------------- processes */

/*
 * Field 22 of /proc/<pid>/stat, the process's start in clock ticks after
 * boot: 0, -1 when there is no such entry, -2 when it cannot be read.
 * The command name (field 2) may hold spaces and parentheses, so fields
 * are counted after its last ')'.
 */
static int
proc_starttime(long pid, uint64_t *t)
{
	char path[64], buf[1024], *p;
	long long v;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? -1 : -2;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -2;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return -2;
	for (field = 2; field < 22 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL)
		return -2;
	/* The field ends at the next blank (or the line's end). */
	if (decimal_parse(p + 1, strcspn(p + 1, " \n"), 0, LLONG_MAX,
	    &v) == -1)
		return -2;
	*t = (uint64_t)v;
	return 0;
}

/* Whether the process that claimed s still runs. */
static int
slot_alive(const struct slot *s)
{
	long pid = atomic_load(&s->pid);
	uint64_t t;

	if (pid <= 0)
		return 0;
	switch (proc_starttime(pid, &t)) {
	case 0:
		return t == atomic_load(&s->starttime);
	case -1:	/* /proc may hide other users' processes (hidepid) */
		return !(kill((pid_t)pid, 0) == -1 && errno == ESRCH);
	default:
		return 1;
	}
}

/* Moves s's counts into its program's totals and frees it; under lock. */
static void
fold(struct image *im, struct slot *s)
{
	_Atomic uint64_t *from = (_Atomic uint64_t *)&s->n, *to;
	size_t k;

	if (s->program < 0 || s->program >= METRICS_PROGRAMS)
		s->program = 0;
	to = (_Atomic uint64_t *)&im->gone[s->program].n;
	for (k = 0; k < NVALUES; k++)
		add(&to[k], atomic_exchange(&from[k], 0));
	atomic_store(&s->threads, 0);
	atomic_store(&s->busy, 0);
	atomic_store(&s->pid, 0);
}

/* Folds every slot whose process is gone; under lock. */
static void
reclaim(struct image *im)
{
	size_t i;

	for (i = 0; i < METRICS_SLOTS; i++)
		if (atomic_load(&im->slot[i].pid) != 0 &&
		    &im->slot[i] != m.self && !slot_alive(&im->slot[i]))
			fold(im, &im->slot[i]);
}

static struct slot *
claim_free(struct image *im)
{
	uint64_t t = 0;
	size_t i;

	(void)proc_starttime((long)getpid(), &t);
	for (i = 0; i < METRICS_SLOTS; i++) {
		struct slot *s = &im->slot[i];

		if (atomic_load(&s->pid) != 0)
			continue;
		/* Counts a free slot still holds stay counted. */
		if (s->program >= 0 && s->program < METRICS_PROGRAMS)
			fold(im, s);
		s->program = m.program;
		atomic_store(&s->starttime, t);
		atomic_store(&s->pid, (int32_t)getpid());
		return s;
	}
	return NULL;
}

/* A free slot, reclaiming those of gone processes when none is; lock held. */
static struct slot *
claim(struct image *im)
{
	struct slot *s;

	if ((s = claim_free(im)) != NULL)
		return s;
	reclaim(im);
	return claim_free(im);
}

/* -------------------------------------------------------------- the file */

/* OTAS_METRICS_FILE, else beside the settings file; "" when neither. */
static int
file_path(const struct otas_config *cfg, char *buf, size_t cap)
{
	const char *slash;
	int n;

	if (cfg->metrics_file != NULL)
		n = snprintf(buf, cap, "%s", cfg->metrics_file);
	else if (cfg->settings_file != NULL &&
	    (slash = strrchr(cfg->settings_file, '/')) != NULL)
		n = snprintf(buf, cap, "%.*s/%s",
		    (int)(slash - cfg->settings_file), cfg->settings_file,
		    METRICS_FILE_NAME);
	else
		n = snprintf(buf, cap, "%s", "");
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* fd is a regular file of ours that nobody else may write. */
static const char *
file_usable(int fd, struct stat *st)
{
	if (fstat(fd, st) == -1)
		return strerror(errno);
	if (!S_ISREG(st->st_mode))
		return "not a regular file";
	if (st->st_uid != geteuid())
		return "owned by another user";
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return "writable by group or others";
	return NULL;
}

static void *
map_fd(int fd)
{
	void *p = mmap(NULL, sizeof(struct image), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * A new file for this version in place of path (empty, short, or laid out
 * by another version): built under a temporary name, then renamed over,
 * so a process never maps a half-made one.  Processes of the old version
 * keep the old inode until they exit.
 */
static const char *
file_replace(const char *path)
{
	char tmp[PATH_MAX];
	void *p;
	int fd, n;

	n = snprintf(tmp, sizeof(tmp), "%s.%ld.new", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return "path too long";
	(void)unlink(tmp);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1)
		return strerror(errno);
	if (ftruncate(fd, (off_t)sizeof(struct image)) == -1 ||
	    (p = map_fd(fd)) == NULL) {
		close(fd);
		unlink(tmp);
		return strerror(errno);
	}
	metrics_image_init(p, clock_wall_sec());
	munmap(p, sizeof(struct image));
	close(fd);
	if (rename(tmp, path) == -1) {
		unlink(tmp);
		return strerror(errno);
	}
	return NULL;
}

/* Whether fd still is the file at path (not renamed over meanwhile). */
static int
still_at(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * Opens path and maps it, making or replacing it when it is not a valid
 * file of this version; returns NULL, or why not (with m.fd closed).
 * The pool's lock is held on success.
 */
static const char *
file_open(const char *path)
{
	const char *why = NULL;
	struct stat st;
	int tries;

	for (tries = 0; tries < 3; tries++) {
		m.fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		    0600);
		if (m.fd == -1)
			return strerror(errno);
		pool_lock();
		if ((why = file_usable(m.fd, &st)) != NULL)
			break;
		if (still_at(m.fd, path) &&
		    (size_t)st.st_size == sizeof(struct image) &&
		    (m.map = map_fd(m.fd)) != NULL) {
			if (metrics_header_check(m.map, sizeof(*m.map)) == 0)
				return NULL;
			munmap(m.map, sizeof(*m.map));
			m.map = NULL;
		}
		if (still_at(m.fd, path) && (why = file_replace(path)) != NULL)
			break;
		pool_unlock();
		close(m.fd);
		m.fd = -1;
	}
	if (why == NULL)
		why = "replaced by another process meanwhile";
	if (m.fd != -1) {
		pool_unlock();
		close(m.fd);
		m.fd = -1;
	}
	return why;
}

static int
program_index(const char *prog)
{
	int p;

	for (p = 0; p < METRICS_PROGRAMS; p++)
		if (strcmp(prog, program_names[p]) == 0)
			return p;
	return -1;
}

void
metrics_open(const char *prog, const struct otas_config *cfg, int cgi)
{
	char path[PATH_MAX];
	const char *why;
	int p;

	if (cfg == NULL || !cfg->metrics || (p = program_index(prog)) == -1)
		return;
	m.program = p;
	m.cgi = cgi;
	memset(&private_slot, 0, sizeof(private_slot));
	private_slot.program = p;
	m.self = &private_slot;
	if (file_path(cfg, path, sizeof(path)) == -1 || path[0] == '\0') {
		log_msg("metrics: counting this process only: set "
		    "OTAS_METRICS_FILE to share counts with the pool");
		return;
	}
	if ((why = file_open(path)) != NULL) {
		log_msg("metrics: counting this process only: %s: %s", path,
		    why);
		return;
	}
	if (!cgi && (m.self = claim(m.map)) == NULL) {
		m.self = &private_slot;
		log_msg("metrics: %s: all %d slots taken; this process's "
		    "counts join the pool when it exits", path, METRICS_SLOTS);
	}
	pool_unlock();
	metrics_count(METRICS_PROCESSES_STARTED);
}

void
metrics_close(void)
{
	if (m.map == NULL) {
		m.self = NULL;
		return;
	}
	pool_lock();
	if (m.self != NULL)
		fold(m.map, m.self);
	m.self = NULL;
	pool_unlock();
	munmap(m.map, sizeof(*m.map));
	m.map = NULL;
	close(m.fd);
	m.fd = -1;
}

/*
 * A private image of this process alone, for a process without the file:
 * its slot in a zeroed image (once per scrape: rare, never the hot path).
 */
static long
scrape_private(char *out, size_t cap)
{
	struct image *im;
	long n;

	if (posix_memalign((void **)&im, 64, sizeof(*im)) != 0)
		return -1;
	metrics_image_init(im, 0);
	if (m.self != NULL) {
		_Atomic uint64_t *from = (_Atomic uint64_t *)&m.self->n;
		_Atomic uint64_t *to = (_Atomic uint64_t *)&im->slot[0].n;
		size_t k;

		/* Other threads add meanwhile: each number read whole. */
		for (k = 0; k < NVALUES; k++)
			atomic_store_explicit(&to[k], get(&from[k]),
			    memory_order_relaxed);
		im->slot[0].program = m.self->program;
		atomic_store(&im->slot[0].pid, (int32_t)getpid());
		atomic_store(&im->slot[0].threads,
		    atomic_load(&m.self->threads));
		atomic_store(&im->slot[0].busy, atomic_load(&m.self->busy));
	}
	n = metrics_text(im, sizeof(*im), out, cap);
	free(im);
	return n;
}

long
metrics_scrape(char *out, size_t cap)
{
	long n;

	metrics_count(METRICS_SCRAPES);
	if (m.map == NULL)
		return scrape_private(out, cap);
	pool_lock();
	reclaim(m.map);
	n = metrics_text(m.map, sizeof(*m.map), out, cap);
	pool_unlock();
	return n;
}
