"""pgbouncer_server — PgBouncer 1.18 (Debian 12's /usr/sbin/pgbouncer) in
transaction pooling mode between otas-session and the test PostgreSQL,
and the server kind `lighttpd-pgbouncer` that puts it under every
contract test: lighttpd from lighttpd.conf.example, the program pointed at
PgBouncer with OTAS_DB_UNNAMED_STATEMENTS=1 (README, PgBouncer).

PgBouncer refuses to run as root, so it runs as postgres in a directory
owned by postgres, on a free 127.0.0.1 port with no unix socket, in the
foreground as our child, and is stopped by PID.  Clients log in with
auth_type trust against an auth_file naming the one user.

The program sends no startup options through PgBouncer (1.18 refuses
unknown ones), so its statement_timeout cannot travel that way; the
[databases] entry sets it on every server connection with connect_query,
as the README tells operators to do (or ALTER ROLE ... SET).
"""

import os
import urllib.parse

import psycopg2

from harness import processes
from harness import stack

PGBOUNCER = "/usr/sbin/pgbouncer"
STATEMENT_TIMEOUT_MS = 2000     # the program's default


class PgBouncer:
    """One pgbouncer in front of the database at target_url."""

    def __init__(self, basedir, target_url, pool_mode="transaction",
                 statement_timeout_ms=STATEMENT_TIMEOUT_MS):
        u = urllib.parse.urlsplit(target_url)
        self.target = (u.hostname or "127.0.0.1", u.port or 5432,
                       u.path.lstrip("/") or "postgres",
                       u.username or "postgres")
        self.dir = os.path.join(basedir, "pgbouncer")
        self.port = processes.free_port()
        self.pool_mode = pool_mode
        self.statement_timeout_ms = statement_timeout_ms
        self.proc = None

    @property
    def dbname(self):
        return self.target[2]

    @property
    def url(self):
        return "postgresql://%s@127.0.0.1:%d/%s" % (self.target[3],
                                                    self.port, self.dbname)

    @property
    def logfile(self):
        return os.path.join(self.dir, "pgbouncer.log")

    def ini_text(self):
        host, port, dbname, user = self.target
        return "\n".join([
            "; written by tests/harness/pgbouncer_server.py",
            "[databases]",
            "%s = host=%s port=%d dbname=%s user=%s "
            "connect_query='SET statement_timeout = %d'" % (
                dbname, host, port, dbname, user,
                self.statement_timeout_ms),
            "",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            "listen_port = %d" % self.port,
            "unix_socket_dir =",
            "auth_type = trust",
            "auth_file = %s" % os.path.join(self.dir, "userlist.txt"),
            "pool_mode = %s" % self.pool_mode,
            "max_client_conn = 200",
            "default_pool_size = 10",
            # After a failed login (database down) pgbouncer fails
            # clients at once for server_login_retry (15 s by default):
            # retry at once, so a restarted database is used at once.
            "server_login_retry = 0",
            "server_connect_timeout = 2",
            "query_wait_timeout = 10",
            "logfile = %s" % self.logfile,
            "pidfile = %s" % os.path.join(self.dir, "pgbouncer.pid"),
            "",
        ])

    def start(self, timeout=20):
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "userlist.txt"), "w") as f:
            f.write('"%s" ""\n' % self.target[3])
        ini = os.path.join(self.dir, "pgbouncer.ini")
        with open(ini, "w") as f:
            f.write(self.ini_text())
        for name in os.listdir(self.dir):
            processes.give_to(os.path.join(self.dir, name), "postgres")
        processes.give_to(self.dir, "postgres")
        self.proc = processes.start(
            [PGBOUNCER, ini], os.path.join(self.dir, "pgbouncer.out"),
            self._ready, timeout, what="pgbouncer",
            describe=lambda: processes.tail(self.logfile),
            user="postgres", group="postgres", cwd=self.dir)
        return self

    def _ready(self):
        # A query, not a login alone: PgBouncer logs a client in from
        # what it keeps of the server's welcome, without any server.
        try:
            conn = psycopg2.connect(host="127.0.0.1", port=self.port,
                                    user=self.target[3], dbname=self.dbname,
                                    connect_timeout=2)
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT 1")
            finally:
                conn.close()
            return True
        except psycopg2.OperationalError:
            return False

    def wait_serving(self, timeout=20):
        """Until a query through PgBouncer is answered again.  After its
        logins to PostgreSQL failed, PgBouncer 1.18 turns every client
        away at once ("server login has been failing") until one of them
        succeeds, however low server_login_retry is."""
        self.proc.wait_ready(self._ready, timeout,
                             describe=lambda: processes.tail(self.logfile))

    def stop(self):
        # SIGTERM: immediate shutdown (SIGINT would wait for clients).
        processes.stop(self.proc)
        self.proc = None


class LighttpdPgBouncer(stack.Lighttpd):
    """The lighttpd kind with PgBouncer (transaction pooling) between
    otas-session and PostgreSQL."""

    kind = "lighttpd-pgbouncer"

    def __init__(self, basedir, app):
        self.bouncer = PgBouncer(os.path.join(basedir, self.kind),
                                 app.env["OTAS_DATABASE_URL"])
        env = dict(app.env)
        env["OTAS_DATABASE_URL"] = self.bouncer.url
        env["OTAS_DB_UNNAMED_STATEMENTS"] = "1"
        super().__init__(basedir, stack.App(app.build, env))

    @classmethod
    def available(cls):
        return stack.Lighttpd.available() and \
            os.access(PGBOUNCER, os.X_OK)

    def start(self):
        self.backends.append(self.bouncer.start())
        return super().start()

    def database_back(self):
        self.bouncer.wait_serving()
