"""autofailover — a pg_auto_failover formation on loopback, made by the
shell blocks of doc/failover-pg-auto-failover.md as they are written.

The guide's machines (monitor, node1, node2, web) become one private
directory each under the test's own, every PostgreSQL on 127.0.0.1 and a
free port of its own.  Each block is run by `sh -e` as the guide says
(as postgres for the database machines), with only the site's values
replaced: addresses, ports, the data directory and the passwords (fill()).
What the guide leaves to systemd, `pg_autoctl run --pgdata ...` (the
unit's ExecStart), is a processes.Process here, our child in its own
process group: stopping it is SIGTERM to pg_autoctl, which stops its
PostgreSQL; losing the machine is SIGKILL to the whole group (pg_autoctl,
its services, the postmaster and every backend at once).

Nothing lands in a shared place: each machine's HOME, XDG_CONFIG_HOME,
XDG_DATA_HOME and XDG_RUNTIME_DIR (pg_autoctl's configuration, state and
pid files) are its private directory, and PG_REGRESS_SOCK_DIR (pg_autoctl's
own switch for the socket directory, which it otherwise leaves at
/var/run/postgresql) and PGHOST are one private socket directory.
"""

import json
import os
import secrets
import shutil
import signal
import string
import subprocess
import time

import psycopg2

from harness import guide
from harness import processes
from harness import stack

PG_AUTOCTL = "/usr/bin/pg_autoctl"
RUNUSER = "/usr/sbin/runuser"
PG_BIN = "/usr/lib/postgresql/15/bin"
GUIDE = os.path.join(stack.ROOT, "doc", "failover-pg-auto-failover.md")
# The guide's machines: (name, address in the guide).
MACHINES = (("monitor", "10.0.0.10"), ("node1", "10.0.0.11"),
            ("node2", "10.0.0.12"), ("web", "10.0.0.20"))
GUIDE_PORT = "5432"
GUIDE_PGDATA = "/var/lib/postgresql/15/ha"
PASSWORDS = ("MONITOR-PASSWORD", "REPLICATION-PASSWORD", "OWNER-PASSWORD",
             "RUNTIME-PASSWORD")


def available():
    return os.access(PG_AUTOCTL, os.X_OK) and os.path.exists(
        "/usr/lib/postgresql/15/lib/pgautofailover.so")


def guide_blocks(kind="sh"):
    """The guide's ```kind blocks, in order."""
    return guide.blocks(GUIDE, kind=kind)


def machine_of(block):
    """The machine a block runs on: its first line, `# NAME (address)`."""
    first = block.split("\n", 1)[0]
    for name, addr in MACHINES:
        if first.startswith("# %s (%s)" % (name, addr)):
            return name
    raise ValueError("guide block names no machine: %r" % first)


class Node:
    """One database machine: its directory, port and pg_autoctl service."""

    def __init__(self, basedir, name):
        self.name = name
        self.dir = os.path.join(basedir, name)
        self.home = os.path.join(self.dir, "home")
        self.pgdata = os.path.join(self.dir, "pgdata")
        self.port = processes.free_port()
        self.proc = None
        self.log = os.path.join(self.dir, "pg_autoctl.log")

    def env(self, sockdir):
        """The environment every command of this machine runs with."""
        return {
            "PATH": PG_BIN + ":/usr/bin:/bin",
            "HOME": self.home,
            "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
            "XDG_DATA_HOME": os.path.join(self.home, ".local", "share"),
            "XDG_RUNTIME_DIR": os.path.join(self.home, "run"),
            "PG_REGRESS_SOCK_DIR": sockdir,
            "PGHOST": sockdir,
            "LANG": "C.UTF-8",
        }

    def make_dirs(self):
        for d in (self.dir, self.home, os.path.join(self.home, "run")):
            os.makedirs(d, mode=0o700, exist_ok=True)
            processes.give_to(d, "postgres")

    def dsn(self, dbname="otas", user="postgres"):
        return "host=127.0.0.1 port=%d user=%s dbname=%s" % (
            self.port, user, dbname)

    def query(self, sql, args=(), dbname="otas"):
        conn = psycopg2.connect(self.dsn(dbname), connect_timeout=5)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def scalar(self, sql, args=(), dbname="otas"):
        rows = self.query(sql, args, dbname)
        return rows[0][0] if rows else None

    def answers(self):
        """Whether its PostgreSQL takes connections (the port alone is
        open from "the database system is starting up" on)."""
        try:
            psycopg2.connect(self.dsn("postgres"), connect_timeout=2).close()
            return True
        except psycopg2.OperationalError:
            return False

    def running(self):
        return self.proc is not None and self.proc.poll() is None


class Formation:
    """The guide's monitor, node1 and node2 in basedir."""

    def __init__(self, basedir):
        self.dir = basedir
        self.sockdir = os.path.join(basedir, "sock")
        self.nodes = {name: Node(basedir, name)
                      for name, _ in MACHINES if name != "web"}
        # Letters only: no digit run of a password can pass for a port.
        self.passwords = {p: "".join(secrets.choice(string.ascii_letters)
                                     for _ in range(20))
                          for p in PASSWORDS}

    def __getitem__(self, name):
        return self.nodes[name]

    # --- the guide's blocks ---------------------------------------------

    def fill(self, block, machine):
        """block with the guide's site values replaced by this formation's;
        a value the guide names that is left over is an error."""
        own = self.nodes.get(machine)
        n1, n2, mon = self["node1"], self["node2"], self["monitor"]
        pairs = [("10.0.0.11:5432,10.0.0.12:5432",
                  "127.0.0.1:%d,127.0.0.1:%d" % (n1.port, n2.port)),
                 ("10.0.0.10:5432", "127.0.0.1:%d" % mon.port),
                 ("*:5432:", "*:*:")]
        if own is not None:
            pairs += [(GUIDE_PGDATA, own.pgdata),
                      ("--pgport 5432", "--pgport %d" % own.port),
                      ("-p 5432", "-p %d" % own.port)]
        pairs += [(addr, "127.0.0.1") for _, addr in MACHINES]
        pairs += sorted(self.passwords.items())
        return guide.fill_site(block, pairs,
                               ("10.0.0.", GUIDE_PGDATA) + PASSWORDS,
                               GUIDE_PORT)

    def blocks(self, machine):
        return [b for b in guide_blocks() if machine_of(b) == machine]

    def run_block(self, block, machine, timeout=180, env=None, user=None):
        """One guide block, filled in, by `sh -e` as the guide says (as
        postgres on the database machines); its output on failure."""
        script = self.fill(block, machine)
        node = self.nodes.get(machine)
        if node is not None:
            run_env = node.env(self.sockdir)
            user = user or "postgres"
            cwd = node.home
        else:
            run_env, cwd = dict(os.environ), self.dir
        run_env.update(env or {})
        argv = ["sh", "-e", "-c", script]
        if user:
            argv = [RUNUSER, "-u", user, "--"] + argv
        r = subprocess.run(argv, env=run_env, cwd=cwd, capture_output=True,
                           text=True, timeout=timeout)
        assert r.returncode == 0, "guide block on %s failed (%d):\n%s\n%s%s" \
            % (machine, r.returncode, script, r.stdout[-3000:],
               r.stderr[-3000:])
        return r.stdout

    # --- the services -----------------------------------------------------

    def start_service(self, name, timeout=90):
        """`pg_autoctl run --pgdata ...` for the machine, as postgres, until
        its PostgreSQL answers."""
        node = self[name]
        node.proc = processes.start(
            [PG_AUTOCTL, "run", "--pgdata", node.pgdata], node.log,
            node.answers, timeout, what="pg_autoctl run (%s)" % name,
            user="postgres", group="postgres", cwd=node.home,
            env=node.env(self.sockdir))
        return node

    def lose(self, name):
        """The machine is lost: SIGKILL to pg_autoctl's process group, which
        holds its services, the postmaster and every backend.  Returns
        time.monotonic() right after."""
        node = self[name]
        os.killpg(node.proc.pid, signal.SIGKILL)
        at = time.monotonic()
        node.proc.wait(timeout=10)
        left = self.strays(node.dir)
        assert not left, "still running after the loss of %s: %r" % (
            name, [(pid, processes.tree(pid).get(pid)) for pid in left])
        return at

    def stop(self):
        """Every service, by PID: pg_autoctl stops its PostgreSQL; a
        service that does not is SIGKILLed with its process group."""
        for name in ("node2", "node1", "monitor"):
            node = self.nodes[name]
            try:
                processes.stop(node.proc, signal.SIGTERM, 30)
            finally:
                if node.proc is not None:
                    try:
                        os.killpg(node.proc.pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass

    def strays(self, where=None):
        """PIDs of processes still running with where (our directory) in
        their command line (a `pg_autoctl create` that failed half-way
        leaves its PostgreSQL running outside any service)."""
        where = (where or self.dir) + "/"
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(
                        "utf-8", "replace")
            except OSError:
                continue
            if where in cmd and processes.pid_alive(int(entry)):
                found.append(int(entry))
        return found

    def destroy(self):
        try:
            self.stop()
        finally:
            for pid in self.strays():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- what the monitor says --------------------------------------------

    def states(self):
        """{node name: (reported, assigned)} from `pg_autoctl show state
        --json` on the monitor."""
        mon = self["monitor"]
        r = subprocess.run(
            [RUNUSER, "-u", "postgres", "--", PG_AUTOCTL, "show", "state",
             "--json", "--pgdata", mon.pgdata], env=mon.env(self.sockdir),
            cwd=mon.home, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            return {}
        try:
            nodes = json.loads(r.stdout)
        except ValueError:
            return {}
        return {n["nodename"]: (n["current_group_state"],
                                n["assigned_group_state"]) for n in nodes}

    def wait_states(self, want, timeout=120):
        """Until the monitor reports want ({name: state}, reported and
        assigned alike)."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.states()
            if all(got.get(n) == (s, s) for n, s in want.items()):
                return got
            if time.monotonic() > deadline:
                raise AssertionError("monitor: want %r, have %r after %d s"
                                     "\n%s" % (want, got, timeout,
                                               self.log_tails()))
            time.sleep(0.5)

    def log_tails(self):
        return "\n".join("--- %s\n%s" % (n.name, processes.tail(n.log, 2000))
                         for n in self.nodes.values())
