"""postgres — a private PostgreSQL 15 cluster on a free loopback port.

One class for every cluster the harness runs: the test suite's (durability
off, for speed), the benchmark's (durable, with pg_stat_statements), a
primary and its standby.  They differ only in their settings, which are
postgresql.conf lines kept in the data directory's harness.conf (included
from postgresql.conf and rewritten at every start), so ALTER SYSTEM and
pg_reload_conf() still work on top of them, as on a real server.

The postmaster is our child (processes.Process), run as postgres; stop()
and start() keep the port, so url stays valid across a restart (fault
tests stop the database under load).
"""

import os
import shutil
import signal
import subprocess
import time

import psycopg2

from harness import processes

PG_BIN = "/usr/lib/postgresql/15/bin"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# The suite's: every commit is lost in a crash of the machine, which no
# test simulates; the benchmark, not the suite, measures real commits.
FAST = {"fsync": "off", "synchronous_commit": "off",
        "full_page_writes": "off"}
# PostgreSQL's own defaults, spelled out so a report can show them.
DURABLE = {"fsync": "on", "synchronous_commit": "on",
           "full_page_writes": "on"}

INCLUDE = "include_if_exists = 'harness.conf'\n"
# The PostgreSQL role the programs connect as: `otas-admin migrate` makes
# it (NOLOGIN) with sql/grants.sql's rights; the pg fixture lets it log in.
RUNTIME_ROLE = "otas_runtime"


def conf_line(name, value):
    return "%s = '%s'\n" % (name, str(value).replace("'", "''"))


class Postgres:
    """A cluster in basedir/name.  settings: postgresql.conf settings on
    top of FAST (pass DURABLE, or any other, to change them)."""

    def __init__(self, basedir, dbname="otas", name="pg", settings=None,
                 port=None):
        self.dir = os.path.join(basedir, name)
        self.data = os.path.join(self.dir, "data")
        self.logfile = os.path.join(self.dir, "postgres.log")
        self.dbname = dbname
        self.port = port or processes.free_port()
        self.settings = dict(FAST)
        self.settings.update(settings or {})
        self.proc = None

    @property
    def url(self):
        return "postgresql://postgres@127.0.0.1:%d/%s" % (self.port,
                                                          self.dbname)

    @property
    def runtime_url(self):
        """The programs' URL: the runtime role, which may do only what
        sql/grants.sql gives it (the tests' own queries use url)."""
        return "postgresql://%s@127.0.0.1:%d/%s" % (RUNTIME_ROLE, self.port,
                                                    self.dbname)

    def allow_runtime_login(self):
        """migrate creates the runtime role NOLOGIN; an operator gives it
        LOGIN and a password, here trust authentication needs none."""
        self.query("ALTER ROLE %s LOGIN" % RUNTIME_ROLE)

    def dsn(self, dbname=None):
        return "host=127.0.0.1 port=%d user=postgres dbname=%s" % (
            self.port, dbname or self.dbname)

    # --- making the data directory ------------------------------------

    def _as_postgres(self, argv, timeout=120):
        r = subprocess.run(["runuser", "-u", "postgres", "--"] + argv,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("%s failed (%d):\n%s" % (
                os.path.basename(argv[0]), r.returncode, r.stderr))

    def _make_dir(self):
        os.makedirs(self.dir)
        processes.give_to(self.dir, "postgres")

    def init(self):
        """A new, empty cluster (initdb; trust for loopback and the
        cluster's own socket, which only root and postgres can reach)."""
        self._make_dir()
        self._as_postgres([PG_BIN + "/initdb", "-D", self.data, "-A",
                           "trust", "-U", "postgres", "--locale=C", "-E",
                           "UTF8", "--no-sync"])
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(INCLUDE)

    def init_standby(self, primary, slot=None):
        """A copy of a running primary that follows it (pg_basebackup
        -R: standby.signal and primary_conninfo written for us)."""
        self._make_dir()
        argv = [PG_BIN + "/pg_basebackup", "-D", self.data, "-R",
                "-X", "stream", "-h", "127.0.0.1", "-p", str(primary.port),
                "-U", "postgres", "--no-sync", "--checkpoint=fast"]
        if slot:
            argv += ["-C", "-S", slot]
        self._as_postgres(argv)

    # --- running ------------------------------------------------------

    def write_settings(self):
        """harness.conf: where to listen, then self.settings."""
        lines = [conf_line("listen_addresses", "127.0.0.1"),
                 conf_line("port", self.port),
                 conf_line("unix_socket_directories", self.dir)]
        lines += [conf_line(k, v) for k, v in sorted(self.settings.items())]
        path = os.path.join(self.data, "harness.conf")
        with open(path, "w") as f:
            f.write("# written by the test harness at every start\n")
            f.writelines(lines)
        processes.give_to(path, "postgres")

    def _ready(self):
        try:
            psycopg2.connect(self.dsn("postgres"), connect_timeout=2).close()
            return True
        except psycopg2.OperationalError:
            return False

    def start(self, timeout=60):
        self.write_settings()
        self.proc = processes.start(
            [PG_BIN + "/postgres", "-D", self.data], self.logfile,
            self._ready, timeout, what="postgres", user="postgres",
            group="postgres", cwd=self.dir)
        return self

    def stop(self, mode="fast"):
        """mode: smart (SIGTERM), fast (SIGINT) or immediate (SIGQUIT, a
        crash as far as recovery is concerned); SIGKILL after 30 s."""
        sig = {"smart": signal.SIGTERM, "fast": signal.SIGINT,
               "immediate": signal.SIGQUIT}[mode]
        processes.stop(self.proc, sig, 30)
        self.proc = None

    def restart(self, mode="fast"):
        self.stop(mode)
        return self.start()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def pids(self):
        """The postmaster and every backend below it, now."""
        if not self.running():
            return []
        return list(processes.tree(self.proc.pid))

    def wait_for_lock_wait(self, timeout=10):
        """Until some backend waits on a lock: a test holding a row locked
        sees the program's statement reach it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.scalar("SELECT count(*) FROM pg_stat_activity"
                           " WHERE wait_event_type = 'Lock'"):
                return
            time.sleep(0.02)
        raise AssertionError("no statement came to wait on the lock")

    def destroy(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, n=40):
        return "".join(processes.tail(self.logfile, 100000)
                       .splitlines(True)[-n:])

    # --- using it -----------------------------------------------------

    def create_database(self):
        with self.connect("postgres") as conn:
            with conn.cursor() as cur:
                cur.execute("CREATE DATABASE %s" % self.dbname)

    def migrate(self, build):
        """Applies sql/*.sql with the project's own tool, as an operator
        would (otas-admin migrate)."""
        admin = os.path.join(build, "otas-admin")
        env = dict(os.environ, OTAS_DATABASE_URL=self.url,
                   OTAS_SQL_DIR=os.path.join(ROOT, "sql"))
        r = subprocess.run([admin, "migrate"], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("otas-admin migrate failed (%d):\n%s%s"
                               % (r.returncode, r.stdout, r.stderr))

    def connect(self, dbname=None, autocommit=True):
        """A new psycopg2 connection; the caller closes it (it is also a
        context manager that closes on exit)."""
        conn = psycopg2.connect(self.dsn(dbname), connect_timeout=5)
        conn.autocommit = autocommit
        return _Closing(conn)

    def query(self, sql, args=(), dbname=None):
        """All rows of one statement, on a fresh autocommit connection
        (to dbname, by default the cluster's own database)."""
        with self.connect(dbname) as conn:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall() if cur.description else []

    def scalar(self, sql, args=(), dbname=None):
        rows = self.query(sql, args, dbname)
        return rows[0][0] if rows else None


class _Closing:
    """psycopg2's own `with conn` commits but does not close; this does."""

    def __init__(self, conn):
        self.conn = conn

    def __getattr__(self, name):
        return getattr(self.conn, name)

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc):
        self.conn.close()
