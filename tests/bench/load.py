"""load — the load generators and the meters of the benchmark.

wrk drives a web server with session.lua (the documented request; its
done() prints one BENCH line that is parsed here); pgbench drives
PostgreSQL with the responder's own hot statement, as tests/bench/hot-sql
prints it.  CPU time and resident memory come from /proc, per process,
so every part of a stack (responders, web server, database, wrk) is
charged its own share.
"""

import http.client
import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time

from harness import postgres
from harness.examples import SESSION_PATH

LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "session.lua")
SEED_BODY = b'{"meta": {"task": "summarize", "input_length": 512}}'
SEED_META = '{"task": "summarize", "input_length": 512}'
CLK_TCK = os.sysconf("SC_CLK_TCK")

# A UUIDv7 made in SQL: 48 bits of Unix milliseconds, the version nibble,
# then gen_random_uuid()'s random bits (its variant bits included), so the
# primary-key index grows at its right edge as it does with the program's
# own ids.  The %s is the millisecond expression.
UUID7_SQL = ("(lpad(to_hex(%s), 12, '0') || '7' || "
             "substr(replace(gen_random_uuid()::text, '-', ''), 14))::uuid")
NOW_MS = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"


# --- /proc -----------------------------------------------------------------

def cpu_ticks(pids):
    """{pid: utime+stime in ticks} for the pids still alive."""
    out = {}
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        out[pid] = int(rest[11]) + int(rest[12])
    return out


def cpu_delta_us(before, after):
    """CPU microseconds the processes spent between two cpu_ticks() maps;
    a process that appeared in between counts from zero."""
    ticks = sum(t - before.get(pid, 0) for pid, t in after.items())
    return ticks * 1e6 / CLK_TCK


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for %d" % pid)


# --- wrk -------------------------------------------------------------------

def parse_wrk(out):
    m = re.search(r"^BENCH (.*)$", out, re.MULTILINE)
    if m is None:
        raise RuntimeError("wrk printed no BENCH line:\n" + out[-2000:])
    r = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    r["rps"] = r["requests"] * 1e6 / r["duration_us"]
    r["errors"] = sum(r[k] for k in ("connect", "read", "write", "timeout"))
    return r


def run_wrk(url, conns, seconds, key, token=None):
    """wrk for seconds on conns connections; its BENCH line as a dict,
    plus rps, errors and wrk's own CPU (wrk_cpu_us).  With token: the
    protected example URL with that session token (session.lua)."""
    threads = min(conns, 2)
    env = dict(os.environ, OTAS_BENCH_KEY=key)
    if token is not None:
        env["OTAS_BENCH_TOKEN"] = token
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(conns), "-d", "%ds" % seconds,
         "--timeout", "5s", "-s", LUA, url + SESSION_PATH],
        env=env, capture_output=True, text=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise RuntimeError("wrk failed (%d):\n%s%s" % (r.returncode,
                                                      r.stdout, r.stderr))
    res = parse_wrk(r.stdout)
    res["wrk_cpu_us"] = ((after.ru_utime + after.ru_stime) -
                         (before.ru_utime + before.ru_stime)) * 1e6
    return res


def series(port, key, n):
    """n session requests one after another: (seconds of each, in order,
    and the set of statuses they got)."""
    times, statuses = [], set()
    for _ in range(n):
        t, st = one_request(port, key)
        times.append(t)
        statuses.add(st)
    return times, statuses


def session_token(port, key):
    """The jwt_token of one session made with key."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", SESSION_PATH, body=SEED_BODY,
                     headers={"X-OTAS-AGENT-KEY": key,
                              "Content-Type": "application/json"})
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError("no session: %d %r" % (r.status, body[:200]))
        return json.loads(body)["response"]["jwt_token"]
    finally:
        conn.close()


def one_request(port, key):
    """(seconds, status) of one session request on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        t0 = time.perf_counter()
        conn.request("POST", SESSION_PATH, body=SEED_BODY,
                     headers={"X-OTAS-AGENT-KEY": key,
                              "Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        return time.perf_counter() - t0, r.status
    finally:
        conn.close()


# --- pgbench -----------------------------------------------------------------

def pgbench_script(sql, key_id, hashed_key, meta):
    """The hot statement with $1 made in SQL (a fresh UUIDv7 each time) and
    $2..$8 as pgbench variables ($5, the rehash, empty: none; $6..$8 the
    default rate limit, quota 0: none, as the responder sends it without
    OTAS_SESSION_RATE).  Whether a parameter is a scalar or an
    array (group commit's statement takes arrays) is read from its cast;
    an array gets a one-element ARRAY[...] of the variable, so both shapes
    of the statement work.  Returns (script, -D list)."""
    values = {2: key_id, 3: hashed_key, 4: meta, 5: "", 6: "0", 7: "1",
              8: "1"}
    defines = []
    seen = set()

    def subst(m):
        n, cast = int(m.group(1)), m.group(2) or ""
        is_array = cast.endswith("[]")
        seen.add(n)
        if n == 1:
            one = UUID7_SQL % NOW_MS
            return ("ARRAY[%s]" % one if is_array else "(%s)" % one) + cast
        if n not in values:
            raise RuntimeError("hot SQL has an unexpected $%d" % n)
        if values[n] == "":
            # pgbench refuses an empty -D variable: the literal instead.
            return ("ARRAY['']" if is_array else "''") + cast
        name = "p%d" % n
        defines.append("%s=%s" % (name, values[n]))
        return ("ARRAY[:%s]%s" if is_array else ":%s%s") % (name, cast)

    out = re.sub(r"\$(\d+)((?:::[a-z_]+(?:\[\])?)?)", subst, sql)
    if seen != set(values) | {1}:
        raise RuntimeError("hot SQL parameters are %s, not $1..$8" %
                           sorted(seen))
    return out.strip().rstrip(";") + ";\n", sorted(set(defines))


def pct(sorted_values, p):
    if not sorted_values:
        return 0
    i = min(len(sorted_values) - 1, int(round(p / 100.0 *
                                              (len(sorted_values) - 1))))
    return sorted_values[i]


def run_pgbench(pg, script, defines, clients, seconds, workdir):
    """pgbench -M prepared running script; rps, requests, failed and the
    p50/p99 of its per-transaction log."""
    logdir = tempfile.mkdtemp(prefix="pgbench-", dir=workdir)
    prefix = os.path.join(logdir, "tx")
    argv = [postgres.PG_BIN + "/pgbench", "-n", "-M", "prepared",
            "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres",
            "-c", str(clients), "-j", str(min(clients, 2)),
            "-T", str(seconds), "-f", script, "-l", "--log-prefix", prefix]
    for d in defines:
        argv += ["-D", d]
    argv.append(pg.dbname)
    r = subprocess.run(argv, capture_output=True, text=True,
                       timeout=seconds + 120)
    if r.returncode != 0:
        raise RuntimeError("pgbench failed (%d):\n%s%s" % (
            r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
    m = re.search(r"^tps = ([0-9.]+)", r.stdout, re.MULTILINE)
    done = re.search(r"actually processed: (\d+)", r.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", r.stdout)
    if m is None or done is None:
        raise RuntimeError("cannot read pgbench output:\n" + r.stdout)
    lat = []
    for name in os.listdir(logdir):
        with open(os.path.join(logdir, name)) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    lat.append(int(parts[2]))
    shutil.rmtree(logdir, ignore_errors=True)
    lat.sort()
    return {"rps": float(m.group(1)), "requests": int(done.group(1)),
            "failed": int(failed.group(1)) if failed else 0,
            "p50_us": pct(lat, 50), "p99_us": pct(lat, 99)}
