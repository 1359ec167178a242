"""bench — what `make bench` runs: the whole stack under load, measured
against PostgreSQL's own ceiling for the same statement.

One run, on this machine, everything private and on 127.0.0.1:

  * a PostgreSQL 15 cluster that is DURABLE (fsync, synchronous_commit and
    full_page_writes on — unlike the test fixtures) with pg_stat_statements;
  * for each responder mode — OTAS_THREADS=1 (one row per statement) and
    OTAS_THREADS=N (group commit):
      - lighttpd from lighttpd.conf.example, spawning the responders,
      - nginx from nginx.conf.example in front of the example's spawn-fcgi
        command under multiwatch, as it says, with as many responders as
        lighttpd spawns (BENCH_GC_PROCS x N, BENCH_PROCS x 1),
      - alternating at each concurrency: pgbench running the responder's own
        hot statement (-M prepared), wrk against lighttpd, wrk against nginx;
      - database statements and commits per request (pg_stat_statements);
      - resident memory of one responder before and after 100 000 requests;
  * one connection, both modes interleaved (commit latency drifts);
  * metrics on and off (OTAS_METRICS=1 / 0), in back-to-back pairs: the
    cost of counting;
  * the first request with a key hashed at 260 000 PBKDF2 iterations against
    the ones after it (the per-process key cache);
  * what it costs on a shared host: p50 and p99 of one request at a time
    with the static programs as plain CGI (Apache mod_cgi: a process, a
    database connection and a key hash per request) and under mod_fcgid,
    each with a fast key and a 260 000-iteration key;
  * a 260 000-iteration key in fresh processes (plain CGI): its first
    request and the 20 after it, with OTAS_REHASH=1 (the first use stores
    a fast hash) and OTAS_REHASH=0;
  * the time of a 401 for an unknown prefix against a known prefix with a
    wrong secret (no timing oracle for prefixes);
  * the insert rate with an empty agent_session against one holding a
    million rows (ten million with BENCH_10M=1);
  * group commit behind lighttpd with the bench agent unlimited against
    limited far above its reach (otas-admin agent limit 1000000/s):
    throughput and statements per request.
  * the authorizer: requests per second of the protected example URL
    through lighttpd with one session token, stateless and in database
    mode (OTAS_AUTHZ_CHECK_DB=1), side by side.

The statement pgbench runs is not written here: tests/bench/hot-sql (linked
with libotas.a) prints the responder's SQL and its $2..$8 become pgbench
variables.  CPU per request comes from /proc/PID/stat (utime+stime) of every
process of each part, over each run, divided by the requests wrk counted.

The package reuses the integration suite's harness (PostgreSQL, processes,
the web servers and the example renderer, the package tests/harness), which
the bench finds by running from tests/:  cd tests && python3 -m bench.
Files: rig.py (the stacks), load.py (wrk, pgbench, /proc), measurements.py
(one function per measurement), report.py (what is printed).

Every process started is stopped by PID at the end, also on failure or ^C;
every wait is bounded.  Knobs (environment): BENCH_SECONDS (10),
BENCH_CONNECTIONS (1,16,64), BENCH_PROCS (4 lighttpd responders),
BENCH_THREADS (8, group-commit threads per process), BENCH_GC_PROCS (2),
BENCH_RSS_REQUESTS (100000), BENCH_10M=1 or BENCH_FILL_ROWS=N,
BENCH_MODES (e.g. "1" or "1,8"; default: 1 and BENCH_THREADS),
BENCH_HOSTING_REQUESTS (100 per shared-host case), BENCH_PREFIX_REQUESTS
(200 of each prefix case), BENCH_ONLY (measurement functions to run, e.g.
"rate_limit"; default all), BENCH_OUT (report file;
default $BUILD/bench/report.txt).
"""
