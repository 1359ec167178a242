"""Integration fixtures, PgBouncer-suite style: one real PostgreSQL and one
real instance of each web server for the whole session, started on free
loopback ports in a private directory and stopped by PID at the end, even
after failures.  The programs under test come from $BUILD (default build/).

Fixtures:
  build_dir  absolute path of $BUILD
  workdir    the session's private directory (removed at the end)
  pg         postgres.Postgres: .url, .connect(), .query(), .stop(), .start()
  secret     the JWT secret: .path (file, 0600) and .value (bytes)
  keys       stack.KeyFactory: .make(...) writes an agent and key in any state
  app        stack.App: binaries + the OTAS_* environment of the program
             (connecting as the runtime role, pg.runtime_url)
  server     each registered web server kind in turn (parametrised);
             .url .host .port .kind .error_log() .log_mark() .log_since()
  lighttpd   the lighttpd instance (for lighttpd-only behaviour)
  admin_bin  $BUILD/otas-admin
  run        run(*args, url=..., env={...}, user=...): otas-admin as a
             process (admin_cli.run_admin), against pg unless url
  fresh_db   admin_cli.FreshDb: an empty database, dropped afterwards
  one_user_db  admin_cli.OneUserDb: an empty database owned by a login role
             of its own (.user, .url), as a shared host gives; dropped
             afterwards with its role
  pair       replication.Pair: a primary and its synchronous standby,
             migrated, one per test module (a module may crash, promote
             or pause them)
  proxy      fault_proxy.FaultProxy in front of pg, one per test module
  healthy    proxy passing everything with no connection left open, at
             the start and at the end of the test
  proxied_app  app with the runtime role's URL through proxy

Tests that hold for every server take `server`; one contract, many servers.
"""

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

import pytest

from harness import admin_cli
from harness import fault_proxy
from harness import postgres
from harness import replication
from harness import stack
from harness import kinds

TOKEN_TTL_DEFAULT = 2592000

kinds.register_all()


@pytest.fixture(scope="session")
def build_dir(workdir):
    return programs_reachable(stack.build_path(), workdir)


def programs_reachable(build, workdir, name="build"):
    """The servers run the programs as www-data.  A checkout under a
    private directory (mktemp -d, /root) is out of its reach: then the
    programs are copied into the session's directory, which is not, as
    NAME."""
    probe = subprocess.run(["runuser", "-u", "www-data", "--", "test", "-x",
                            os.path.join(build, "otas-session")])
    if probe.returncode == 0:
        return build
    copy = os.path.join(workdir, name)
    os.mkdir(copy)
    os.chmod(copy, 0o755)
    for name in os.listdir(build):
        path = os.path.join(build, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            shutil.copy2(path, copy)
    return copy


@pytest.fixture(scope="session")
def workdir():
    d = tempfile.mkdtemp(prefix="otas-it-")
    # The servers drop to www-data and PostgreSQL runs as postgres: both
    # must be able to reach their own subdirectories.
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def pg(workdir, build_dir):
    db = postgres.Postgres(workdir)
    try:
        db.init()
        db.start()
        db.create_database()
        db.migrate(build_dir)
        db.allow_runtime_login()
        yield db
    finally:
        db.destroy()


@dataclass
class Secret:
    path: str
    value: bytes


@pytest.fixture(scope="session")
def secret(workdir):
    d = os.path.join(workdir, "etc")
    os.makedirs(d, mode=0o755)
    value = stack.random_secret(48)
    path = os.path.join(d, "jwt-secret")
    stack.write_secret(path, value)
    return Secret(path, value)


@pytest.fixture(scope="session")
def static_build():
    """$BUILD/static after `make static dist`: the static programs and the
    tarball of $BUILD/dist a shared-hosting user uploads.  Run by the
    tests themselves (the first time on a machine that also builds libpq
    from Debian's source package, about a minute), without sanitizers
    even under `make sanitize`, since they cannot link statically."""
    build = stack.build_path()
    r = subprocess.run(["make", "--no-print-directory", "-C", stack.ROOT,
                        "BUILD=" + build, "static", "dist"],
                       capture_output=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return os.path.join(build, "static")


@pytest.fixture(scope="session")
def static_reachable(static_build, workdir):
    """The static programs where www-data reaches them (`check --as
    www-data` looks for otas.conf beside otas-admin as that user)."""
    return programs_reachable(static_build, workdir, "static")


@pytest.fixture(scope="session")
def keys(pg):
    return stack.KeyFactory(pg)


@pytest.fixture(scope="session")
def app(build_dir, pg, secret):
    return stack.App(build_dir, {
        # As in production: the programs connect as the runtime role.
        "OTAS_DATABASE_URL": pg.runtime_url,
        "OTAS_JWT_SECRET_FILE": secret.path,
    })


class _Servers:
    """Starts each server kind at most once per session; stops them all."""

    def __init__(self, workdir, app):
        self.workdir = workdir
        self.app = app
        self.running = {}

    def get(self, kind):
        if kind not in self.running:
            if kind not in stack.SERVERS:
                raise RuntimeError("unknown server kind %r (known: %s)" % (
                    kind, ", ".join(stack.SERVERS)))
            srv = stack.SERVERS[kind](self.workdir, self.app)
            self.running[kind] = srv
            srv.start()
        return self.running[kind]

    def stop_all(self):
        for srv in self.running.values():
            srv.stop()


@pytest.fixture(scope="session")
def servers(workdir, app):
    s = _Servers(workdir, app)
    yield s
    s.stop_all()


@pytest.fixture(scope="session", params=stack.server_kinds())
def server(request, servers):
    return servers.get(request.param)


@pytest.fixture(scope="session")
def lighttpd(servers):
    return servers.get("lighttpd")


@pytest.fixture(scope="session")
def admin_bin(build_dir):
    path = os.path.join(build_dir, "otas-admin")
    if not os.access(path, os.X_OK):
        pytest.fail("%s is missing: make BUILD=%s %s" % (path, build_dir,
                                                         path))
    return path


@pytest.fixture(scope="session")
def sql_dir(workdir):
    """The migrations where www-data can read them (check --as reads them
    as that user): the checkout's, or a copy when it is out of reach, as
    with the programs."""
    probe = subprocess.run(["runuser", "-u", "www-data", "--", "test", "-r",
                            os.path.join(admin_cli.SQL_DIR, "grants.sql")])
    if probe.returncode == 0:
        return admin_cli.SQL_DIR
    copy = os.path.join(workdir, "sql")
    shutil.copytree(admin_cli.SQL_DIR, copy)
    os.chmod(copy, 0o755)
    for name in os.listdir(copy):
        os.chmod(os.path.join(copy, name), 0o644)
    return copy


@pytest.fixture(scope="session")
def run(admin_bin, pg, sql_dir):
    def _run(*args, **kw):
        kw.setdefault("sql_dir", sql_dir)
        return admin_cli.run_admin(admin_bin, pg.url, *args, **kw)
    return _run


@pytest.fixture
def fresh_db(pg):
    db = admin_cli.FreshDb(pg)
    yield db
    db.drop()


@pytest.fixture
def one_user_db(pg):
    db = admin_cli.OneUserDb(pg)
    yield db
    db.drop()


@pytest.fixture(scope="module")
def pair(request, workdir, build_dir):
    p = replication.Pair(os.path.join(workdir,
                                      "pair-" + request.module.__name__))
    try:
        yield p.start(build_dir)
    finally:
        p.stop()


@pytest.fixture(scope="module")
def proxy(pg):
    with fault_proxy.FaultProxy(pg.port) as p:
        yield p


@pytest.fixture
def healthy(proxy):
    proxy.set_mode("pass")
    proxy.drop_all()
    yield proxy
    proxy.set_mode("pass")
    proxy.drop_all()


@pytest.fixture(scope="module")
def proxied_app(app, proxy):
    return stack.App(app.build, dict(
        app.env, OTAS_DATABASE_URL=proxy.url(user=postgres.RUNTIME_ROLE)))
