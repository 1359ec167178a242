"""stack — the real programs the integration tests talk to.

A private PostgreSQL cluster, the key factory that writes agents and keys
straight into it (as the original Django backend would have), and the web
servers that run otas-session.  Fixtures in conftest.py only wire these
together; everything that starts a process and stops it again lives here,
so the same code serves the test suite and a one-off Python prompt.

Rules every class keeps: loopback addresses and unix sockets only; ports
picked by binding port 0 on 127.0.0.1; every process started is stopped by
its PID (or, as a last resort, its own process group) even when a test
failed; every file lives in a private temporary directory.

Web servers are a registry: a Server subclass with a `kind` name, `start`,
`stop`, `url` and `error_log`, registered with @register.  Contract tests
take the `server` fixture, which is parametrised over every registered
kind, so adding Apache or nginx is one class here and no test changes.
"""

import base64
import datetime
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import string
import subprocess
import time
import uuid
from dataclasses import dataclass

import psycopg2
import psycopg2.extensions

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PG_BIN = "/usr/lib/postgresql/15/bin"
SESSION_PATH = "/api/agent/v1/session/create/"
# The user the example configurations run the programs as.
SERVER_USER = "www-data"
# The PostgreSQL role the programs connect as: `otas-admin migrate` makes
# it (NOLOGIN) with sql/grants.sql's rights; the pg fixture lets it log in.
RUNTIME_ROLE = "otas_runtime"


# --- processes and ports ------------------------------------------------

def build_path():
    """$BUILD (default build/) as an absolute path: where make put the
    programs."""
    build = os.environ.get("BUILD", "build")
    return build if os.path.isabs(build) else os.path.join(ROOT, build)


def free_port():
    """A TCP port free on 127.0.0.1 right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_answers(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); /proc says whether it is one.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(proc, timeout):
    """Waits for a child (Popen) to exit; True when it did."""
    try:
        proc.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        return False


def stop_process(proc, sig=signal.SIGTERM, timeout=15):
    """Stops a Popen child by PID; its process group is killed if it
    ignores sig, so children it spawned do not outlive the test run."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        pass
    if wait_gone(proc, timeout):
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def give_to(path, user):
    pw = pwd.getpwnam(user)
    os.chown(path, pw.pw_uid, pw.pw_gid)


# --- PostgreSQL ---------------------------------------------------------

class Postgres:
    """A private PostgreSQL 15 cluster on a free loopback port.

    Durability is switched off (fsync, synchronous_commit) for speed; the
    benchmark, not the test suite, measures real commits.  stop() and
    start() keep the port, so url stays valid across a restart (fault
    tests stop the database under load)."""

    def __init__(self, basedir, dbname="otas"):
        self.dir = os.path.join(basedir, "pg")
        self.data = os.path.join(self.dir, "data")
        self.logfile = os.path.join(self.dir, "postgres.log")
        self.dbname = dbname
        self.port = free_port()
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

    def init(self):
        os.makedirs(self.dir)
        give_to(self.dir, "postgres")
        subprocess.run(
            ["runuser", "-u", "postgres", "--", PG_BIN + "/initdb",
             "-D", self.data, "-A", "trust", "-U", "postgres",
             "--locale=C", "-E", "UTF8", "--no-sync"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self, timeout=30):
        log = open(self.logfile, "ab")
        try:
            self.proc = subprocess.Popen(
                [PG_BIN + "/postgres", "-D", self.data,
                 "-c", "listen_addresses=127.0.0.1",
                 "-c", "port=%d" % self.port,
                 "-c", "unix_socket_directories=" + self.dir,
                 "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off"],
                user="postgres", group="postgres", cwd=self.dir,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                process_group=0)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg2.connect(self.dsn("postgres"),
                                 connect_timeout=2).close()
                return
            except psycopg2.OperationalError:
                if self.proc.poll() is not None:
                    raise RuntimeError("postgres exited at start:\n" +
                                       self.log_tail())
                if time.monotonic() > deadline:
                    raise RuntimeError("postgres not ready after %ds:\n%s"
                                       % (timeout, self.log_tail()))
                time.sleep(0.1)

    def stop(self, mode="fast"):
        """mode: smart (SIGTERM), fast (SIGINT) or immediate (SIGQUIT).
        Falls back to pg_ctl stop -m immediate, then SIGKILL."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        sig = {"smart": signal.SIGTERM, "fast": signal.SIGINT,
               "immediate": signal.SIGQUIT}[mode]
        os.kill(self.proc.pid, sig)
        if not wait_gone(self.proc, 30):
            subprocess.run(["runuser", "-u", "postgres", "--",
                            PG_BIN + "/pg_ctl", "stop", "-D", self.data,
                            "-m", "immediate"],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)
            stop_process(self.proc, signal.SIGKILL, 10)
        self.proc = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def destroy(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, n=40):
        try:
            with open(self.logfile, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def create_database(self):
        conn = psycopg2.connect(self.dsn("postgres"))
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("CREATE DATABASE %s" % self.dbname)
        finally:
            conn.close()

    def migrate(self, build):
        """Applies sql/*.sql with the project's own tool, as an operator
        would.  Without otas-admin (not built yet) the files are applied
        directly, so the endpoint can still be tested; a warning says so."""
        admin = os.path.join(build, "otas-admin")
        env = dict(os.environ, OTAS_DATABASE_URL=self.url,
                   OTAS_SQL_DIR=os.path.join(ROOT, "sql"))
        if os.access(admin, os.X_OK):
            r = subprocess.run([admin, "migrate"], env=env, cwd=ROOT,
                               capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                raise RuntimeError("otas-admin migrate failed (%d):\n%s%s"
                                   % (r.returncode, r.stdout, r.stderr))
            return "otas-admin"
        files = sorted((f for f in os.listdir(os.path.join(ROOT, "sql"))
                        if re.match(r"^\d+_.*\.sql$", f)),
                       key=lambda f: int(f.split("_")[0]))
        with self.connect() as conn:
            cur = conn.cursor()
            for name in files + ["grants.sql"]:
                with open(os.path.join(ROOT, "sql", name)) as f:
                    text = f.read()
                if name == "grants.sql":
                    cur.execute("SELECT set_config('otas.runtime_role', %s,"
                                " false), set_config('otas.runtime_login',"
                                " 'off', false)", (RUNTIME_ROLE,))
                cur.execute(text)
        return "sql files (no %s)" % admin

    def connect(self, dbname=None, autocommit=True):
        """A new psycopg2 connection; the caller closes it (it is also a
        context manager that closes on exit)."""
        conn = psycopg2.connect(self.dsn(dbname), connect_timeout=5)
        conn.autocommit = autocommit
        return _Closing(conn)

    def query(self, sql, args=()):
        """All rows of one statement, on a fresh autocommit connection."""
        with self.connect() as conn:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall() if cur.description else []

    def scalar(self, sql, args=()):
        rows = self.query(sql, args)
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


# --- agents and keys ----------------------------------------------------

ALNUM = string.ascii_letters + string.digits


def django_pbkdf2(password, salt, iterations):
    """Django's PBKDF2PasswordHasher encoding, byte for byte:
    pbkdf2_sha256$<iterations>$<salt>$<standard base64 with padding>."""
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(),
                             iterations)
    return "pbkdf2_sha256$%d$%s$%s" % (iterations, salt,
                                       base64.b64encode(dk).decode("ascii"))


def django_check(password, encoded):
    """Django's own verdict (Debian's python3-django) on an encoding."""
    from django.conf import settings
    if not settings.configured:
        settings.configure()
    from django.contrib.auth.hashers import check_password
    return check_password(password, encoded)


def new_prefix():
    """A prefix as keys issued by otas-admin have: 12 of [A-Za-z0-9]."""
    return "".join(secrets.choice(ALNUM) for _ in range(12))


def original_prefix(must_contain="_"):
    """A prefix as the original backend made them, token_urlsafe(8),
    drawn until it contains must_contain (so the split is ambiguous)."""
    while True:
        p = secrets.token_urlsafe(8)
        if must_contain in p:
            return p


def new_secret():
    """32 random bytes, unpadded base64url, as SPEC §3 issues them."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(
        "ascii").rstrip("=")


@dataclass
class Key:
    full: str           # agent_<prefix>_<secret>, what a client sends
    prefix: str
    secret: str
    key_id: str
    agent_id: str


class KeyFactory:
    """Writes agents and keys with psycopg2, every column supplied, in any
    state, so the program meets rows shaped exactly like the original
    backend's (it has no column defaults)."""

    def __init__(self, pg):
        self.pg = pg
        self.made = []      # every Key, for "never logged" checks

    def agent(self, active=True, name=None):
        aid = str(uuid.uuid4())
        now = datetime.datetime.now(datetime.timezone.utc)
        self.pg.query(
            "INSERT INTO agent (id, name, description, provider, project_id,"
            " created_at, updated_at, created_by_id, is_active)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (aid, name or "test-agent-" + aid[:8], "", "test", None, now,
             now, None, active))
        return aid

    def make(self, prefix=None, secret=None, active=True, revoked=False,
             expires_in=None, agent_active=True, agent_id=None,
             iterations=1000, salt=None, hashed_key=None, name="test"):
        """A key row; returns a Key.  expires_in: seconds from now
        (negative: already expired; None: never).  hashed_key overrides
        the computed hash (e.g. one made by Django itself)."""
        prefix = new_prefix() if prefix is None else prefix
        secret = new_secret() if secret is None else secret
        full = "agent_%s_%s" % (prefix, secret)
        if agent_id is None:
            agent_id = self.agent(active=agent_active)
        if hashed_key is None:
            salt = salt or "".join(secrets.choice(ALNUM) for _ in range(22))
            hashed_key = django_pbkdf2(full, salt, iterations)
        now = datetime.datetime.now(datetime.timezone.utc)
        expires_at = None
        if expires_in is not None:
            expires_at = now + datetime.timedelta(seconds=expires_in)
        kid = str(uuid.uuid4())
        self.pg.query(
            "INSERT INTO agent_key (id, prefix, hashed_key, agent_id, name,"
            " created_at, last_used_at, revoked_at, expires_at, active)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (kid, prefix, hashed_key, agent_id, name, now, None,
             now if revoked else None, expires_at, active))
        key = Key(full, prefix, secret, kid, agent_id)
        self.made.append(key)
        return key

    def set(self, key, **columns):
        """Changes agent_key columns of an existing key (e.g. revoke it)."""
        names = sorted(columns)
        sql = "UPDATE agent_key SET %s WHERE id = %%s" % ", ".join(
            "%s = %%s" % n for n in names)
        self.pg.query(sql, tuple(columns[n] for n in names) + (key.key_id,))

    def set_agent_active(self, agent_id, active):
        self.pg.query("UPDATE agent SET is_active = %s WHERE id = %s",
                      (active, agent_id))


# --- the program's settings ---------------------------------------------

@dataclass
class App:
    """What every server kind needs to run otas-session: where the
    binaries are and the OTAS_* environment the program reads."""
    build: str
    env: dict

    def binary(self, name):
        path = os.path.join(self.build, name)
        if not os.access(path, os.X_OK):
            raise RuntimeError("%s is missing: build it first "
                               "(make BUILD=%s)" % (path, self.build))
        return path


# --- web servers --------------------------------------------------------

SERVERS = {}


def register(cls):
    SERVERS[cls.kind] = cls
    return cls


class Server:
    """One web server instance serving the endpoint on 127.0.0.1.

    Subclasses set `kind` and implement start() (leaving the process in
    self.proc) and error_log_path; `maps_underscore_headers` says whether
    the server passes X_OTAS_AGENT_KEY as the same variable as
    X-OTAS-AGENT-KEY (lighttpd does; Apache and nginx drop it)."""

    kind = None
    maps_underscore_headers = False

    def __init__(self, basedir, app):
        self.dir = os.path.join(basedir, self.kind)
        self.app = app
        self.host = "127.0.0.1"
        self.port = free_port()
        self.proc = None

    @classmethod
    def available(cls):
        """Whether this machine can run the server at all."""
        return True

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    @property
    def error_log_path(self):
        raise NotImplementedError

    def error_log(self):
        """The whole error log, where the program's stderr lands."""
        try:
            with open(self.error_log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_mark(self):
        """A position in the error log, for log_since()."""
        try:
            return os.path.getsize(self.error_log_path)
        except FileNotFoundError:
            return 0

    def log_since(self, mark, settle=0.3):
        """What the log gained since mark.  The program writes its line
        after answering, so give it a moment to land."""
        time.sleep(settle)
        with open(self.error_log_path, "rb") as f:
            f.seek(mark)
            return f.read().decode("utf-8", "replace")

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        while not port_answers(self.port, self.host):
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited at start (%s):\n%s" % (
                    self.kind, self.proc.returncode, self.startup_output()))
            if time.monotonic() > deadline:
                raise RuntimeError("%s not answering on %d after %ds:\n%s"
                                   % (self.kind, self.port, timeout,
                                      self.startup_output()))
            time.sleep(0.05)

    def startup_output(self):
        out = ""
        for path in (os.path.join(self.dir, "server.out"),
                     self.error_log_path):
            try:
                with open(path, errors="replace") as f:
                    out += f.read()[-4000:]
            except OSError:
                pass
        return out

    # Variables a server kind may put in the web server's own environment
    # to prove its example configuration does not pass them on to the
    # program (see test_session_lighttpd.py).
    CANARY_ENV = {"OTAS_CANARY_FROM_SERVER_ENV": "leaked",
                  "PGAPPNAME": "canary-leaked"}

    def spawn(self, argv, env=None):
        """Starts the server in the foreground as our child, in its own
        process group (so stop() can reach what it spawned)."""
        out = open(os.path.join(self.dir, "server.out"), "ab")
        try:
            self.proc = subprocess.Popen(argv, cwd=self.dir, env=env,
                                         stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=out,
                                         process_group=0)
        finally:
            out.close()

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    def program_pids(self, name="otas-session"):
        """PIDs of the running copies of a program under this server
        (descendants of its process, found through /proc)."""
        children = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    stat = f.read()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            children.setdefault(ppid, []).append((int(entry), comm))
        found, todo = [], [self.proc.pid]
        while todo:
            for pid, comm in children.get(todo.pop(), []):
                todo.append(pid)
                if comm == name[:15]:
                    found.append(pid)
        return found


def render_lighttpd_conf(text, settings, extra_env=None):
    """lighttpd.conf.example with its site settings replaced: each
    `var.otas_NAME = ...` line gets settings[NAME].  A setting the example
    no longer has is an error, so the example and the tests cannot drift
    apart silently.  extra_env adds OTAS_* lines to bin-environment."""
    for name, value in settings.items():
        if isinstance(value, int):
            lit = str(value)
        else:
            lit = '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')
        pattern = re.compile(r"^var\.otas_%s\s*=.*$" % re.escape(name),
                             re.MULTILINE)
        text, n = pattern.subn(lambda m: "var.otas_%s = %s" % (name, lit),
                               text)
        if n != 1:
            raise ValueError("lighttpd.conf.example: var.otas_%s found %d "
                             "times" % (name, n))
    if extra_env:
        anchor = '"OTAS_JWT_SECRET_FILE" => var.otas_jwt_secret_file,'
        if text.count(anchor) < 1:
            raise ValueError("lighttpd.conf.example: no %s" % anchor)
        lines = "".join('\n\t\t\t"%s" => "%s",' % kv
                        for kv in sorted(extra_env.items()))
        text = text.replace(anchor, anchor + lines)
    return text


@register
class Lighttpd(Server):
    """lighttpd 1.4 from lighttpd.conf.example: mod_fastcgi spawns
    otas-session (as www-data) on a unix socket in our directory."""

    kind = "lighttpd"
    maps_underscore_headers = True
    example = os.path.join(ROOT, "lighttpd.conf.example")

    @classmethod
    def available(cls):
        return shutil.which("lighttpd") is not None

    @property
    def error_log_path(self):
        # server.breakagelog: the spawned programs' stderr.
        return os.path.join(self.dir, "otas-fcgi.log")

    def startup_output(self):
        out = super().startup_output()
        try:
            with open(os.path.join(self.dir, "error.log"),
                      errors="replace") as f:
                out += f.read()[-4000:]
        except OSError:
            pass
        return out

    def config_text(self):
        with open(self.example) as f:
            text = f.read()
        settings = {
            "port": self.port,
            "libexec": self.app.build,
            "rundir": os.path.join(self.dir, "run"),
            "logdir": self.dir,
            "docroot": os.path.join(self.dir, "htdocs"),
            "database_url": self.app.env["OTAS_DATABASE_URL"],
            "jwt_secret_file": self.app.env["OTAS_JWT_SECRET_FILE"],
        }
        extra = {k: v for k, v in self.app.env.items()
                 if k not in ("OTAS_DATABASE_URL", "OTAS_JWT_SECRET_FILE")}
        return render_lighttpd_conf(text, settings, extra)

    def start(self):
        self.app.binary("otas-session")
        for d in (self.dir, os.path.join(self.dir, "run"),
                  os.path.join(self.dir, "htdocs")):
            os.makedirs(d, exist_ok=True)
            give_to(d, SERVER_USER)
        conf = os.path.join(self.dir, "lighttpd.conf")
        with open(conf, "w") as f:
            f.write(self.config_text())
        check = subprocess.run(["lighttpd", "-tt", "-f", conf],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError("lighttpd -tt refused the config:\n" +
                               check.stdout + check.stderr)
        self.spawn(["lighttpd", "-D", "-f", conf],
                   env=dict(os.environ, **self.CANARY_ENV))
        self.wait_ready()
        return self


def server_kinds():
    """Kinds to test: OTAS_TEST_SERVERS=lighttpd,... or all available."""
    wanted = os.environ.get("OTAS_TEST_SERVERS")
    if wanted:
        return [k.strip() for k in wanted.split(",") if k.strip()]
    return [k for k, cls in SERVERS.items() if cls.available()]


def write_secret(path, value, owner=SERVER_USER):
    """The JWT secret file: mode 0600, owned by the user the program runs
    as (the examples' server.username / FcgidInitialEnv user)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(value)
    give_to(path, owner)


def random_secret(n=48):
    """n random bytes; never ending in CR or LF, which the program strips
    from a secret file (a file edited by hand ends with a newline)."""
    while True:
        value = secrets.token_bytes(n)
        if value[-1:] not in (b"\n", b"\r"):
            return value


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
