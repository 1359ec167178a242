"""stack — what the integration tests run and the rows they run against.

The key factory that writes agents and keys straight into the database
(as the original Django backend would have), the settings of the program
under test (App), and the registry of web servers that run otas-session,
with lighttpd, the reference server, defined here; and the CGI
environment of a session request (session_cgi_env), for tests that run
a program as plain CGI.  Other kinds are defined in
servers_apache_nginx.py and pgbouncer_server.py, and kinds.py lists them
all.  Processes are
started and stopped by processes.py, PostgreSQL is postgres.py, and every
configuration is a shipped example rendered by examples.py; fixtures in
conftest.py only wire these together, so the benchmark and a one-off
Python prompt can use the same classes.

Rules every class keeps: loopback addresses and unix sockets only; ports
picked by binding port 0 on 127.0.0.1; every process started is stopped by
its PID (or, as a last resort, its own process group) even when a test
failed; every file lives in a private temporary directory.

Web servers are a registry: a Server subclass with a `kind` name, `start`,
`stop`, `url` and `error_log`, listed in kinds.py, whose register_all()
(called by conftest.py and the bench) fills SERVERS.  Contract tests
take the `server` fixture, which is parametrised over every registered
kind, so adding a server is one class and no test changes.
"""

import base64
import datetime
import hashlib
import json
import os
import secrets
import string
import subprocess
import time
import uuid
from dataclasses import dataclass

from harness import examples
from harness import processes
from harness.examples import ROOT, SESSION_PATH

# The user the example configurations run the programs as.
SERVER_USER = "www-data"
# By absolute path, as Apache and nginx are: a developer's PATH often
# lacks /usr/sbin, and the servers must not then silently drop out.
LIGHTTPD = "/usr/sbin/lighttpd"


def build_path():
    """$BUILD (default build/) as an absolute path: where make put the
    programs."""
    build = os.environ.get("BUILD", "build")
    return build if os.path.isabs(build) else os.path.join(ROOT, build)


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
    """32 random bytes, unpadded base64url, as the README's Keys section
    says keys are issued."""
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

def overridden(base, over):
    """base (changed in place and returned) with each member of over
    set, or removed where its value is None."""
    for name, value in over.items():
        if value is None:
            base.pop(name, None)
        else:
            base[name] = value
    return base


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
    """Adds a kind to SERVERS; kinds.register_all() calls it."""
    SERVERS[cls.kind] = cls
    return cls


class Server:
    """One web server instance serving the endpoint on 127.0.0.1.

    Subclasses set `kind` and implement start() (leaving the process in
    self.proc, a processes.Process, and what it stands in front of, e.g.
    spawn-fcgi'd programs, in self.backends) and error_log_path;
    `maps_underscore_headers` says whether the server passes
    X_OTAS_AGENT_KEY as the same variable as X-OTAS-AGENT-KEY (lighttpd
    does; Apache and nginx drop it)."""

    kind = None
    maps_underscore_headers = False

    def __init__(self, basedir, app):
        self.dir = os.path.join(basedir, self.kind)
        self.app = app
        self.host = "127.0.0.1"
        self.port = processes.free_port()
        self.proc = None
        self.backends = []      # each with stop(); stopped after proc

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

    def startup_output(self):
        """The server's error log, for a report of a failed start."""
        return "\n" + processes.tail(self.error_log_path)

    def database_back(self):
        """Returns once the program's way to the database serves again
        after PostgreSQL was restarted.  Here that way is PostgreSQL
        itself, which serves once Postgres.start() has returned; a kind
        with a pooler between them waits for the pooler."""

    # Variables a server kind may put in the web server's own environment
    # to prove its example configuration does not pass them on to the
    # program (see test_session_lighttpd.py).
    CANARY_ENV = {"OTAS_CANARY_FROM_SERVER_ENV": "leaked",
                  "PGAPPNAME": "canary-leaked"}

    def spawn(self, argv, env=None, timeout=20):
        """Starts the server in the foreground as our child and waits,
        bounded, until it answers HTTP."""
        self.proc = processes.start(
            argv, os.path.join(self.dir, "server.out"),
            lambda: processes.http_answers(self.port, self.host), timeout,
            what=self.kind, describe=self.startup_output, cwd=self.dir,
            env=env)

    def stop(self):
        try:
            processes.stop(self.proc)
            self.proc = None
        finally:
            while self.backends:
                self.backends.pop().stop()

    # `with start_private(...) as srv:` stops it however the block ends.
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def program_pids(self, name="otas-session"):
        """PIDs of the running copies of a program under this server: its
        process, its backends and everything below them, by name."""
        roots = [self.proc] + [getattr(b, "proc", None)
                               for b in self.backends]
        found = {}
        for proc in roots:
            if proc is not None:
                found.update(processes.tree(proc.pid))
        return [pid for pid, comm in found.items() if comm == name[:15]]


def check_config(argv, what):
    """Runs a server's own configuration check (lighttpd -tt, apache2 -t,
    nginx -t); a refusal is an error with the server's words."""
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("%s refused the config:\n%s%s" % (
            what, r.stdout, r.stderr))


class Lighttpd(Server):
    """lighttpd 1.4 from lighttpd.conf.example: mod_fastcgi spawns
    otas-session (as www-data) on a unix socket in our directory.
    max_procs: the session endpoint's process count (None: the
    example's)."""

    kind = "lighttpd"
    maps_underscore_headers = True

    def __init__(self, basedir, app, max_procs=None):
        super().__init__(basedir, app)
        self.max_procs = max_procs

    @classmethod
    def available(cls):
        return os.access(LIGHTTPD, os.X_OK)

    @property
    def error_log_path(self):
        # server.breakagelog: the spawned programs' stderr.
        return os.path.join(self.dir, "otas-fcgi.log")

    def startup_output(self):
        return super().startup_output() + "\n" + processes.tail(
            os.path.join(self.dir, "error.log"))

    def config_text(self):
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
        return examples.lighttpd(settings, extra, self.max_procs)

    def start(self):
        self.app.binary("otas-session")
        for d in (self.dir, os.path.join(self.dir, "run"),
                  os.path.join(self.dir, "htdocs")):
            os.makedirs(d, exist_ok=True)
            processes.give_to(d, SERVER_USER)
        conf = os.path.join(self.dir, "lighttpd.conf")
        with open(conf, "w") as f:
            f.write(self.config_text())
        check_config([LIGHTTPD, "-tt", "-f", conf], "lighttpd -tt")
        self.spawn([LIGHTTPD, "-D", "-f", conf],
                   env=dict(os.environ, **self.CANARY_ENV))
        return self


def fresh(cls, basedir, app, **kw):
    """A new, private instance of a server class in basedir (for tests
    that change its settings or end its processes); not started."""
    os.makedirs(basedir, exist_ok=True)
    os.chmod(basedir, 0o755)
    return cls(basedir, app, **kw)


def start_private(cls, basedir, app, **kw):
    """fresh(), started; stopped again if it fails to start.  The caller
    stops it."""
    srv = fresh(cls, basedir, app, **kw)
    try:
        return srv.start()
    except BaseException:
        srv.stop()
        raise


def server_kinds():
    """Kinds to test: OTAS_TEST_SERVERS=lighttpd,... or all available."""
    wanted = os.environ.get("OTAS_TEST_SERVERS")
    if wanted:
        return [k.strip() for k in wanted.split(",") if k.strip()]
    return [k for k, cls in SERVERS.items() if cls.available()]


def sessions_of(pg, agent_id):
    """How many sessions the agent has in pg's database."""
    return pg.scalar("SELECT count(*) FROM agent_session WHERE agent_id = %s",
                     (agent_id,))


def stored_hash(pg, key):
    """The hash the key's row holds now."""
    return pg.scalar("SELECT hashed_key FROM agent_key WHERE id = %s",
                     (key.key_id,))


def session_cgi_env(key):
    """A web server's CGI environment for a POST of the two bytes {} to
    the session endpoint with key in X-OTAS-AGENT-KEY; no OTAS_* setting
    (the caller adds what the test is about)."""
    return {
        "PATH": "/usr/bin:/bin",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": SESSION_PATH,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": "2",
        "HTTP_X_OTAS_AGENT_KEY": key,
    }


def write_secret(path, value, owner=SERVER_USER):
    """The JWT secret file: mode 0600, owned by the user the program runs
    as (the examples' server.username / FcgidInitialEnv user)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(value)
    processes.give_to(path, owner)


def random_secret(n=48):
    """n random bytes; never ending in CR or LF, which the program strips
    from a secret file (a file edited by hand ends with a newline)."""
    while True:
        value = secrets.token_bytes(n)
        if value[-1:] not in (b"\n", b"\r"):
            return value


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
