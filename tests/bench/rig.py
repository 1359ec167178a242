"""rig — what every measurement of the benchmark stands on.

One durable PostgreSQL cluster (the harness's postgres.Postgres with
production durability and pg_stat_statements), a JWT secret, a key issued
by otas-admin, the pgbench script of the hot statement, and web servers
started from the shipped examples through the harness's own classes:
lighttpd from lighttpd.conf.example (max-procs changed), nginx from
nginx.conf.example with the example's spawn-fcgi command (under
multiwatch, as the example says, with lighttpd's number of responders).  Every server started
is stopped at the end, whatever happened.

A measurement asks the rig for a stack, measures with measured_wrk() or
measured_pgbench(), and leaves its results with row() (the results
table) and target() (the targets list).
"""

import json
import os
import subprocess
import sys

from harness import postgres
from harness import processes
from harness import servers_apache_nginx
from harness import stack

from . import load, report


def env_int(name, default, lo, hi):
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        v = int(raw, 10)
    except ValueError:
        raise SystemExit("bench: %s=%r is not an integer" % (name, raw))
    if not lo <= v <= hi:
        raise SystemExit("bench: %s=%d is outside %d..%d" % (name, v, lo,
                                                             hi))
    return v


def env_list(name, default):
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        out = [int(x, 10) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise SystemExit("bench: %s=%r is not a list of integers" %
                         (name, raw))
    if not out or min(out) < 1 or max(out) > 256:
        raise SystemExit("bench: %s=%r: each value 1..256" % (name, raw))
    return out


class Knobs:
    """The environment's settings of one run (see the package's
    docstring for each)."""

    def __init__(self):
        self.seconds = env_int("BENCH_SECONDS", 10, 1, 600)
        self.conns = env_list("BENCH_CONNECTIONS", [1, 16, 64])
        self.procs = env_int("BENCH_PROCS", 4, 1, 64)
        self.threads = env_int("BENCH_THREADS", 8, 2, 64)
        self.gc_procs = env_int("BENCH_GC_PROCS", 2, 1, 64)
        self.rss_requests = env_int("BENCH_RSS_REQUESTS", 100000, 1000,
                                    10 ** 8)
        big = os.environ.get("BENCH_10M", "") == "1"
        self.fill_rows = env_int("BENCH_FILL_ROWS",
                                 10 ** 7 if big else 10 ** 6, 1000, 10 ** 9)
        self.hosting_requests = env_int("BENCH_HOSTING_REQUESTS", 100, 1,
                                        10 ** 6)
        self.prefix_requests = env_int("BENCH_PREFIX_REQUESTS", 200, 1,
                                       10 ** 6)
        self.modes = env_list("BENCH_MODES", [1, self.threads])
        # The connection count the targets are judged at.
        self.c16 = 16 if 16 in self.conns else max(self.conns)


# Production durability and pg_stat_statements; every other setting is
# PostgreSQL's default except room for the connections of all the stacks
# at once and a WAL size that keeps the ten-million-row fill from
# checkpointing every few seconds.
PG_SETTINGS = dict(postgres.DURABLE, **{
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "top",
    "max_connections": "250", "shared_buffers": "512MB",
    "max_wal_size": "4GB"})


class Rig:
    def __init__(self, out, build, workdir, knobs):
        self.out = out              # report.Report
        self.build = build
        self.workdir = workdir
        self.knobs = knobs
        self.pg = None
        self.servers = []           # started, stopped at the end
        self.rows = []              # the results table
        self.targets = []           # (text, verdict) lines

    # --- setup ----------------------------------------------------------

    def start(self):
        self.pg = postgres.Postgres(self.workdir, settings=PG_SETTINGS)
        self.pg.init()
        self.pg.start()
        self.pg.create_database()
        self.pg.migrate(self.build)
        self.pg.allow_runtime_login()
        self.pg.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        self.pg_version = self.pg.scalar("SHOW server_version")
        d = os.path.join(self.workdir, "etc")
        os.makedirs(d, mode=0o755)
        self.secret_path = os.path.join(d, "jwt-secret")
        stack.write_secret(self.secret_path, stack.random_secret(48))
        self.key = self.make_key("bench")
        self.script = os.path.join(self.workdir, "hot.sql")
        text, self.defines = load.pgbench_script(
            self.hot_sql(), self.key["key_id"], self.key["hashed"],
            load.SEED_META)
        with open(self.script, "w") as f:
            f.write(text)

    def make_key(self, name, iterations=None):
        """A key issued by otas-admin, as an operator would."""
        env = dict(os.environ, OTAS_DATABASE_URL=self.pg.url,
                   OTAS_SQL_DIR=os.path.join(stack.ROOT, "sql"))
        argv = [os.path.join(self.build, "otas-admin"), "--json", "agent",
                "create", "--name", name]
        if iterations is not None:
            argv += ["--iterations", str(iterations)]
        r = subprocess.run(argv, env=env, capture_output=True, text=True,
                           timeout=120, cwd=stack.ROOT)
        if r.returncode != 0:
            raise RuntimeError("otas-admin agent create failed (%d): %s" %
                               (r.returncode, r.stderr.strip()[:300]))
        k = json.loads(r.stdout)
        hashed = self.pg.scalar("SELECT hashed_key FROM agent_key"
                                " WHERE id = %s", (k["key_id"],))
        return {"key": k["key"], "key_id": k["key_id"],
                "agent_id": k["agent_id"], "hashed": hashed}

    def admin(self, *args):
        """otas-admin as the operator (the database's owner)."""
        env = dict(os.environ, OTAS_DATABASE_URL=self.pg.url,
                   OTAS_SQL_DIR=os.path.join(stack.ROOT, "sql"))
        r = subprocess.run([os.path.join(self.build, "otas-admin")] +
                           list(args), env=env, capture_output=True,
                           text=True, timeout=120, cwd=stack.ROOT)
        if r.returncode != 0:
            raise RuntimeError("otas-admin %s failed (%d): %s" % (
                " ".join(args[:2]), r.returncode, r.stderr.strip()[:300]))
        return r.stdout

    def hot_sql(self):
        r = subprocess.run([os.path.join(self.build, "bench", "hot-sql")],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0 or "INSERT INTO agent_session" not in r.stdout:
            raise RuntimeError("hot-sql printed no statement: " + r.stderr)
        return r.stdout.strip()

    # --- stacks ---------------------------------------------------------

    def app(self, threads, build=None, env=None):
        settings = {"OTAS_DATABASE_URL": self.pg.runtime_url,
                    "OTAS_JWT_SECRET_FILE": self.secret_path}
        # Always named: the examples' own value is group commit.
        settings["OTAS_THREADS"] = str(threads)
        settings.update(env or {})
        return stack.App(build or self.build, settings)

    def started(self, cls, name, threads, build=None, env=None, **kw):
        """A server of class cls in workdir/name serving the programs of
        build (default $BUILD) with threads threads each, and env's
        settings besides."""
        srv = stack.fresh(cls, os.path.join(self.workdir, name),
                          self.app(threads, build, env), **kw)
        self.servers.append(srv)
        return srv.start()

    def lighttpd(self, threads, procs, name):
        """lighttpd.conf.example with procs responders of threads each."""
        return self.started(stack.Lighttpd, name, threads, max_procs=procs)

    def nginx(self, threads, procs, name):
        """nginx.conf.example with procs responders of threads each."""
        return self.started(servers_apache_nginx.Nginx, name, threads,
                            procs=procs)

    def stop_server(self, srv):
        srv.stop()
        self.servers.remove(srv)

    def cleanup(self):
        for srv in self.servers:
            try:
                srv.stop()
            except Exception as e:
                print("bench: stopping %s: %s" % (srv.kind, e),
                      file=sys.stderr)
        if self.pg is not None:
            self.pg.destroy()

    # --- measuring ------------------------------------------------------

    def parts(self, server):
        """The pids of each part of a stack, now: responders, the web
        server's own processes, PostgreSQL."""
        resp = server.program_pids()
        web = [p for p in processes.tree(server.proc.pid) if p not in resp]
        return {"resp": resp, "web": web, "pg": self.pg.pids()}

    def measured_wrk(self, server, conns, seconds=None, token=None):
        """wrk against server with the CPU of every part around it (with
        token: the protected URL, see load.run_wrk)."""
        seconds = seconds or self.knobs.seconds
        parts = self.parts(server)
        before = {k: load.cpu_ticks(v) for k, v in parts.items()}
        res = load.run_wrk(server.url, conns, seconds, self.key["key"],
                           token)
        # Backends that connected during the run count too.
        parts["pg"] = self.pg.pids()
        for k, v in parts.items():
            res[k + "_cpu_us"] = load.cpu_delta_us(before[k],
                                                   load.cpu_ticks(v))
        n = max(res["requests"], 1)
        for k in ("resp", "web", "pg", "wrk"):
            res[k + "_us_req"] = res[k + "_cpu_us"] / n
        # A run that stalled (under ten answers a second; every working
        # stack here does hundreds) proves nothing either, even when wrk
        # counted no error.
        res["void"] = (res["non200"] != 0 or res["errors"] != 0 or
                       res["requests"] < 10 * seconds)
        return res

    def warm(self, server, conns, seconds=3):
        """Every responder connects, prepares and caches the key."""
        load.run_wrk(server.url, conns, seconds, self.key["key"])

    def measured_pgbench(self, clients, seconds=None):
        res = load.run_pgbench(self.pg, self.script, self.defines, clients,
                               seconds or self.knobs.seconds, self.workdir)
        res["void"] = res["failed"] != 0
        return res

    def settle(self):
        """A checkpoint between blocks, so no run inherits another's."""
        self.pg.query("CHECKPOINT")

    # --- results --------------------------------------------------------

    def row(self, mode, server, conns, res, base=None):
        self.rows.append({"mode": mode, "server": server, "conns": conns,
                          "res": res, "ratio": (res["rps"] / base["rps"])
                          if base else None})

    def find(self, mode_prefix, server, conns):
        for r in self.rows:
            if r["mode"].startswith(mode_prefix) and \
                    r["server"] == server and r["conns"] == conns:
                return r
        return None

    def target(self, text, ok, *rows, void=False):
        """One line of the targets list: text, then its verdict (a void
        row among rows, or void, leaves it undecided)."""
        self.targets.append("%s: %s" % (text, report.verdict(ok, *rows,
                                                              void=void)))
