"""The package's systemd units, run as systemd would run them (this machine
has no systemd as PID 1): otas-session and otas-authz take the listening
socket their .socket unit describes on fd 0, with the unit's environment
(OTAS_CONFIG naming the settings file), as the unit's user (a stand-in
made the same way, private to the run), behind the
shipped nginx.conf.example and lighttpd.conf.example pointed at the sockets.
A private directory stands for /run/otas-fcgi and another for
/etc/otas-fcgi; the programs are those of $BUILD.  The units are parsed
from debian/systemd/ (systemd_unit.py), so what runs is what ships.
"""

import grp
import json
import os
import pwd
import re
import shutil
import stat
import subprocess

import jwt
import pytest

from harness import examples
from harness import metrics_scrape as ms
from harness import processes
from harness import servers_apache_nginx as san
from harness import stack
from harness import systemd_unit
from harness.otas_http import request

UNIT_DIR = os.path.join(stack.ROOT, "debian", "systemd")
PACKAGED_CONF = os.path.join(stack.ROOT, "debian", "otas.conf")
SERVICES = ("otas-session", "otas-authz")
# otas-echo, the examples' protected program, has units too; it reads no
# settings, so the checks of what the services read leave it out.
EXAMPLE = "otas-echo"
PROTECTED = "/api/some/v1/endpoint/"


def unit_user():
    users = {systemd_unit.Unit(os.path.join(UNIT_DIR, s + ".service")).get(
        "Service", "User") for s in SERVICES}
    assert len(users) == 1, users
    return users.pop()


@pytest.fixture(scope="module")
def service_user():
    """A stand-in for the units' system user, made as the package makes
    its user, private to this run (another run on the machine, or the
    package itself, may have the real one), removed afterwards."""
    name = "%s-t%d" % (unit_user(), os.getpid())
    systemd_unit.make_system_user(name)
    try:
        yield name
    finally:
        systemd_unit.remove_system_user(name)


def settings_file(path, values):
    """The packaged otas.conf with some lines set: each NAME= line (or
    commented #NAME=) of `values` gets the value; none may be missing."""
    with open(PACKAGED_CONF) as f:
        text = f.read()
    for name, value in values.items():
        text, n = re.subn(r"^#?%s=.*$" % re.escape(name),
                          lambda m: "%s=%s" % (name, value), text,
                          flags=re.MULTILINE)
        assert n == 1, "debian/otas.conf: %s found %d times" % (name, n)
    with open(path, "w") as f:
        f.write(text)


# Owner, group and mode of what debian/postinst leaves in /etc/otas-fcgi
# (None: the service user): the services read the settings and the secret
# and may not change them; purge.env, the owner's credentials for the
# purge (run as root), is root's only; anything else an operator adds
# there (pgpass, the runtime role's password) is the service user's 0600,
# as libpq demands of a password file.
PACKAGE_LAYOUT = {"otas.conf": ("root", None, 0o640),
                  "jwt-secret": ("root", None, 0o640),
                  "purge.env": ("root", "root", 0o600)}
OPERATOR_FILE = (None, None, 0o600)


def private_etc(etc, service_user, secret, settings, extra=None):
    """A private /etc/otas-fcgi laid out as the package's postinst leaves
    it (the directory root:otas-fcgi 0750, PACKAGE_LAYOUT), the settings
    file with `settings` set; extra: {name: text} of more files an
    operator adds there."""
    os.makedirs(etc)
    pw = pwd.getpwnam(service_user)
    key = os.path.join(etc, "jwt-secret")
    shutil.copyfile(secret.path, key)
    settings_file(os.path.join(etc, "otas.conf"),
                  dict(settings, OTAS_JWT_SECRET_FILE=key))
    for name, text in (extra or {}).items():
        with open(os.path.join(etc, name), "w") as f:
            f.write(text)
    for name in os.listdir(etc):
        user, group, mode = PACKAGE_LAYOUT.get(name, OPERATOR_FILE)
        os.chown(os.path.join(etc, name),
                 pw.pw_uid if user is None else pwd.getpwnam(user).pw_uid,
                 pw.pw_gid if group is None else grp.getgrnam(group).gr_gid)
        os.chmod(os.path.join(etc, name), mode)
    os.chown(etc, 0, pw.pw_gid)
    os.chmod(etc, 0o750)
    return etc


def metrics_file(run):
    """The packaged OTAS_METRICS_FILE below the stand-in of /run/otas-fcgi
    (the units' RuntimeDirectory=otas-fcgi/metrics)."""
    return os.path.join(run, "metrics", "otas.metrics")


def installed_paths(base, service_user, secret, pg, lib_dir):
    """Private directories under base (made 0755) standing for the
    installed /run/otas-fcgi and /etc/otas-fcgi (its settings naming the
    metrics file in that run directory), and lib_dir for
    /usr/lib/otas-fcgi: the units' path map."""
    os.chmod(base, 0o755)
    run = os.path.join(base, "run")
    etc = private_etc(os.path.join(base, "etc"), service_user, secret,
                      {"OTAS_DATABASE_URL": pg.runtime_url,
                       "OTAS_METRICS_FILE": metrics_file(run)})
    return {"/run/otas-fcgi": run, "/etc/otas-fcgi": etc,
            "/usr/lib/otas-fcgi": lib_dir}


@pytest.fixture(scope="module")
def units(workdir, build_dir, pg, secret, service_user):
    """otas-session, otas-authz and otas-echo started from their units,
    with the settings in a private /etc/otas-fcgi."""
    base = os.path.join(workdir, "units")
    os.makedirs(base)
    path_map = installed_paths(base, service_user, secret, pg, build_dir)
    started = {}
    try:
        for name in SERVICES + (EXAMPLE,):
            svc = systemd_unit.Service(UNIT_DIR, name, path_map,
                                       os.path.join(base, name + ".journal"),
                                       users={unit_user(): service_user})
            started[name] = svc.start()
            svc.wait_log(" start version=")
        yield started
    finally:
        for svc in started.values():
            svc.stop()


@pytest.fixture(scope="module")
def echo(units):
    """otas-echo, the examples' protected program, from its own units at
    the socket the examples name (echo.sock)."""
    return units[EXAMPLE]


@pytest.fixture(scope="module")
def nginx(workdir, units, echo):
    """The shipped nginx.conf.example with only port and paths changed."""
    d = os.path.join(workdir, "units-nginx")
    logs = os.path.join(d, "logs")
    os.makedirs(logs)
    run = os.path.dirname(units["otas-session"].socket_path)
    port = processes.free_port()
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(examples.nginx(port, run, logs))
    with _Running(d, port) as srv:
        srv.spawn([san.NGINX, "-p", d + "/", "-c", conf, "-g",
                   "daemon off;"])
        yield srv


def lighttpd_pointed_at_sockets(text):
    """lighttpd.conf.example as its comment says to use it with the
    package: without the "bin-path" lines, lighttpd starts nothing and
    connects to the sockets systemd holds."""
    out, n = re.subn(r'^\s*"bin-path"\s*=>.*\n', "", text, flags=re.M)
    assert n >= 2, "lighttpd.conf.example: no bin-path lines"
    return out


@pytest.fixture(scope="module")
def lighttpd(workdir, units, echo, pg):
    d = os.path.join(workdir, "units-lighttpd")
    docroot = os.path.join(d, "htdocs")
    os.makedirs(docroot)
    processes.give_to(d, stack.SERVER_USER)
    port = processes.free_port()
    run = os.path.dirname(units["otas-session"].socket_path)
    text = examples.lighttpd({
        "port": port, "libexec": "/nonexistent", "rundir": run,
        "logdir": d, "docroot": docroot, "database_url": pg.url,
        "jwt_secret_file": "/nonexistent"})
    conf = os.path.join(d, "lighttpd.conf")
    with open(conf, "w") as f:
        f.write(lighttpd_pointed_at_sockets(text))
    with _Running(d, port) as srv:
        srv.spawn([stack.LIGHTTPD, "-D", "-f", conf])
        yield srv


class _Running(stack.Server):
    """A web server started by a fixture here (only its port and its
    process matter to the tests)."""

    kind = "units"

    def __init__(self, d, port):
        self.dir, self.port, self.host, self.proc = d, port, "127.0.0.1", None
        self.backends = []

    @property
    def error_log_path(self):
        return os.path.join(self.dir, "server.out")



def create(srv, key):
    return request(srv, headers=[("X-OTAS-AGENT-KEY", key.full),
                                 ("Content-Type", "application/json")],
                   body=b'{"meta": {"task": "summarize", '
                        b'"input_length": 512}}')


def assert_session_with_row(resp, pg, secret, key):
    assert resp.status == 200, resp.body
    body = resp.json()
    assert body["status_description"] == "agent_session_created"
    claims = jwt.decode(body["response"]["jwt_token"], secret.value,
                        algorithms=["HS256"])
    row = pg.query("SELECT agent_id::text, meta::text FROM agent_session "
                   "WHERE id = %s", (claims["agent_session_id"],))
    assert row == [(key.agent_id,
                    '{"task": "summarize", "input_length": 512}')]
    return body["response"]["jwt_token"]


def connect_as(user, path):
    """Whether `user` may connect to the unix socket at path."""
    code = ("import socket,sys; s=socket.socket(socket.AF_UNIX); "
            "s.connect(sys.argv[1])")
    return subprocess.run(["runuser", "-u", user, "--", "/usr/bin/python3",
                           "-c", code, path], capture_output=True,
                          timeout=30).returncode == 0


@pytest.mark.parametrize("name", SERVICES + (EXAMPLE,))
def test_socket_admits_the_web_server_user_and_refuses_others(units, name):
    path = units[name].socket_path
    assert connect_as(stack.SERVER_USER, path)
    assert not connect_as("nobody", path)


@pytest.mark.parametrize("name", SERVICES)
def test_service_runs_as_its_unit_user_and_logs_its_version_first(
        units, service_user, name):
    svc = units[name]
    with open("/proc/%d/status" % svc.proc.pid) as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    uid = pwd.getpwnam(service_user).pw_uid
    assert status["Uid"].split()[:2] == [str(uid), str(uid)]
    with open(os.path.join(stack.ROOT, "VERSION")) as f:
        version = f.read().strip()
    first = svc.log().splitlines()[0]
    assert " %s[" % name in first and " start version=%s " % version in \
        first, first
    # The unit's OTAS_CONFIG, the private stand-in of /etc/otas-fcgi.
    conf = os.path.join(svc.path_map["/etc/otas-fcgi"], "otas.conf")
    assert " settings=%s " % conf in first, first


def test_seed_request_through_nginx_gets_200_and_its_row(nginx, pg, keys,
                                                         secret):
    key = keys.make()
    assert_session_with_row(create(nginx, key), pg, secret, key)


def assert_authz_guards_the_protected_url(srv, pg, keys, secret):
    key = keys.make()
    token = assert_session_with_row(create(srv, key), pg, secret, key)
    resp = request(srv, method="GET", path=PROTECTED,
                   headers=[("X-OTAS-AGENT-SESSION-TOKEN", token)])
    assert resp.status == 200, resp.body
    assert resp.json()["response"]["agent_id"] == key.agent_id
    resp = request(srv, method="GET", path=PROTECTED,
                   headers=[("X-OTAS-AGENT-SESSION-TOKEN", token + "x")])
    assert resp.status == 401
    assert json.loads(resp.body)["status_description"] == \
        "invalid_session_token"


def test_otas_authz_guards_the_protected_url_behind_nginx(nginx, pg, keys,
                                                          secret):
    assert_authz_guards_the_protected_url(nginx, pg, keys, secret)


def test_both_services_count_into_one_file_in_their_runtime_directory(
        nginx, units, pg, keys, secret, service_user):
    """GET /metrics through nginx reports both services, which count into
    the packaged OTAS_METRICS_FILE: the service user's, 0600."""
    before = ms.scrape(nginx)
    assert_authz_guards_the_protected_url(nginx, pg, keys, secret)
    after = ms.scrape(nginx)
    for program in ("otas-session", "otas-authz"):
        assert ms.total(after, "otas_processes", program=program) == 1
        assert ms.total(after, "otas_requests_total", program=program) > \
            ms.total(before, "otas_requests_total", program=program)
    st = os.stat(metrics_file(units["otas-session"].path_map[
        "/run/otas-fcgi"]))
    assert st.st_uid == pwd.getpwnam(service_user).pw_uid
    assert stat.S_IMODE(st.st_mode) == 0o600


def test_seed_request_through_lighttpd_pointed_at_the_sockets_gets_200(
        lighttpd, pg, keys, secret):
    key = keys.make()
    assert_session_with_row(create(lighttpd, key), pg, secret, key)


def test_otas_authz_guards_the_protected_url_behind_lighttpd(
        lighttpd, pg, keys, secret):
    assert_authz_guards_the_protected_url(lighttpd, pg, keys, secret)


# --- the daily purge (otas-fcgi-purge.timer runs this service) -------------

def old_and_new_session(pg, keys, age_days):
    """Two sessions of one agent: one age_days old, one new; their ids."""
    key = keys.make()
    ids = []
    for age in (age_days, 0):
        ids.append(pg.scalar(
            "INSERT INTO agent_session (id, agent_id, agent_key_id,"
            " created_at, meta) VALUES (gen_random_uuid(), %s, %s,"
            " now() - make_interval(days => %s), '{}') RETURNING id::text",
            (key.agent_id, key.key_id, age)))
    return ids


def old_record(pg, session_id, age_days):
    """An Idempotency-Key record of that session made age_days ago."""
    k = "purge-" + session_id
    pg.query("INSERT INTO otas_idempotency (agent_id, idempotency_key,"
             " request_hash, session_id, iat, exp, created_at) SELECT"
             " agent_id, %s, '\\x00', id, 0, 0,"
             " now() - make_interval(days => %s) FROM agent_session"
             " WHERE id = %s", (k, age_days, session_id))
    return k


def records(pg, names):
    return {r[0] for r in pg.query(
        "SELECT idempotency_key FROM otas_idempotency"
        " WHERE idempotency_key = ANY(%s)", (list(names),))}


def present(pg, ids):
    return {r[0] for r in pg.query(
        "SELECT id::text FROM agent_session WHERE id::text = ANY(%s)",
        (list(ids),))}


def run_purge(etc, build_dir, service_user):
    return systemd_unit.run_oneshot(
        os.path.join(UNIT_DIR, "otas-fcgi-purge.service"),
        {"/etc/otas-fcgi": etc, "/usr/bin/otas-admin":
         os.path.join(build_dir, "otas-admin")},
        {unit_user(): service_user})


def test_purge_service_with_the_packaged_settings_deletes_no_session(
        workdir, units, build_dir, pg, keys, secret, service_user):
    # The services' role, as the packaged settings say: no session goes,
    # but Idempotency-Key records past their TTL do.
    etc = private_etc(os.path.join(workdir, "units", "purge-default"),
                      service_user, secret,
                      {"OTAS_DATABASE_URL": pg.runtime_url})
    ids = old_and_new_session(pg, keys, 4000)
    expired = old_record(pg, ids[0], 2)
    r = run_purge(etc, build_dir, service_user)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no session purged; deleted" in r.stdout, r.stdout
    assert present(pg, ids) == set(ids)
    assert not records(pg, [expired])


def test_purge_service_deletes_sessions_past_the_retention_it_is_given(
        workdir, units, build_dir, pg, keys, secret, service_user):
    # The services' role may not delete: purge.env names one that may,
    # in a file the services cannot read.
    etc = private_etc(os.path.join(workdir, "units", "purge-90d"),
                      service_user, secret,
                      {"OTAS_DATABASE_URL": pg.runtime_url,
                       "OTAS_SESSION_RETENTION": "90d"},
                      {"purge.env": "OTAS_DATABASE_URL=%s\n" % pg.url})
    old, new = old_and_new_session(pg, keys, 91)
    r = run_purge(etc, build_dir, service_user)
    assert r.returncode == 0, r.stdout + r.stderr
    assert present(pg, [old, new]) == {new}
    for name in ("purge.env", "otas.conf", "jwt-secret"):
        r = subprocess.run(["runuser", "-u", service_user, "--", "cat",
                            os.path.join(etc, name)], capture_output=True)
        if name == "purge.env":     # the owner's URL: not the services'
            assert r.returncode != 0 and b"Permission denied" in r.stderr
        else:
            assert r.returncode == 0, (name, r.stderr)


def test_purge_service_with_a_retention_but_no_owner_says_what_to_set(
        workdir, units, build_dir, pg, keys, secret, service_user):
    # What the timer did silently before: permission denied, daily.
    etc = private_etc(os.path.join(workdir, "units", "purge-no-owner"),
                      service_user, secret,
                      {"OTAS_DATABASE_URL": pg.runtime_url,
                       "OTAS_SESSION_RETENTION": "90d"})
    old, new = old_and_new_session(pg, keys, 91)
    r = run_purge(etc, build_dir, service_user)
    assert r.returncode == 1
    assert "session purge: role otas_runtime may not delete sessions; " \
        "connect as the tables' owner (OTAS_DATABASE_URL; the Debian " \
        "package: in /etc/otas-fcgi/purge.env)" in r.stderr, r.stderr
    assert present(pg, [old, new]) == {old, new}


# --- the hardening the programs survive -------------------------------------

STRACE = "/usr/bin/strace"
CALL = re.compile(r"^\d+\s+([a-z0-9_]+)\(", re.MULTILINE)
FAMILY = re.compile(r"^\d+\s+socket\((AF_\w+)", re.MULTILINE)


@pytest.fixture(scope="module")
def traced(workdir, units, pg, keys, secret, service_user):
    """Both services again, each under strace, behind another nginx, after
    a session request, a good token and a bad one: {name: (unit, trace,
    the private directories standing for installed paths)}."""
    base = os.path.join(workdir, "units-traced")
    logs = os.path.join(base, "logs")
    os.makedirs(logs)
    # Settings of its own: the metrics file in its own run directory.
    path_map = installed_paths(
        base, service_user, secret, pg,
        units["otas-session"].path_map["/usr/lib/otas-fcgi"])
    run = path_map["/run/otas-fcgi"]
    started, traces = {}, {}
    srv = _Running(base, processes.free_port())
    try:
        for name in SERVICES:
            # strace runs as the unit's user, as the program does.
            traces[name] = os.path.join(base, name + ".strace")
            open(traces[name], "w").close()
            processes.give_to(traces[name], service_user)
            svc = systemd_unit.Service(
                UNIT_DIR, name, path_map, os.path.join(base, name + ".log"),
                wrap=[STRACE, "-f", "-qq", "-o", traces[name]],
                # LeakSanitizer cannot work under ptrace (make sanitize).
                wrap_env={"ASAN_OPTIONS": "detect_leaks=0"},
                users={unit_user(): service_user})
            started[name] = svc.start()
            svc.wait_log(" start version=")
        conf = os.path.join(base, "nginx.conf")
        with open(conf, "w") as f:
            f.write(examples.nginx(srv.port, run, logs))
        srv.spawn([san.NGINX, "-p", base + "/", "-c", conf, "-g",
                   "daemon off;"])
        key = keys.make()
        token = assert_session_with_row(create(srv, key), pg, secret, key)
        for t in (token, token + "x"):
            request(srv, method="GET", path=PROTECTED,
                    headers=[("X-OTAS-AGENT-SESSION-TOKEN", t)])
    finally:
        srv.stop()
        for svc in started.values():
            svc.stop()
    out = {}
    for name in SERVICES:
        with open(traces[name]) as f:
            out[name] = (started[name].unit, f.read(),
                         tuple(path_map.values()))
    return out


@pytest.mark.parametrize("name", SERVICES)
def test_service_makes_only_system_calls_its_unit_allows(traced, name):
    unit, trace, _ = traced[name]
    used = set(CALL.findall(trace))
    assert "accept" in used or "accept4" in used, "served nothing"
    allowed = systemd_unit.allowed_syscalls(unit)
    assert allowed, "%s has no SystemCallFilter" % unit.name
    assert sorted(used - allowed) == []


@pytest.mark.parametrize("name", SERVICES)
def test_service_opens_only_socket_families_its_unit_allows(traced, name):
    unit, trace, _ = traced[name]
    families = set(unit.get("Service", "RestrictAddressFamilies").split())
    assert sorted(set(FAMILY.findall(trace)) - families) == []


OPEN = re.compile(r'^\d+\s+(?:open|openat|creat)\((?:[A-Z_]+|\d+), '
                  r'"([^"]*)", ([A-Z_|]+)', re.MULTILINE)
WX_MAP = re.compile(r"^\d+\s+(?:mmap|mprotect|pkey_mprotect)\([^\n]*"
                    r"PROT_WRITE\|PROT_EXEC", re.MULTILINE)
# What PrivateDevices= leaves in /dev (systemd.exec(5)).
PRIVATE_DEVICES = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random",
                   "/dev/urandom", "/dev/tty"}


@pytest.mark.parametrize("name", SERVICES)
def test_service_needs_nothing_its_unit_takes_away(traced, name):
    """ProtectSystem=strict (no file opened for writing), ProtectHome and
    PrivateTmp (nothing opened there), PrivateDevices (only the devices it
    leaves), MemoryDenyWriteExecute (no writable code mapped)."""
    unit, trace, stand_ins = traced[name]
    # The private stand-ins of /etc/otas-fcgi and the like live in /tmp.
    opened = [(p, flags) for p, flags in OPEN.findall(trace)
              if not p.startswith(stand_ins)]
    assert opened, "no open() traced"
    if unit.get("Service", "ProtectSystem") == "strict":
        assert [p for p, flags in opened
                if re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", flags)] == []
    if unit.flag("Service", "ProtectHome"):
        assert [p for p, _ in opened
                if p.startswith(("/home", "/root", "/run/user"))] == []
    if unit.flag("Service", "PrivateTmp"):
        assert [p for p, _ in opened
                if p.startswith(("/tmp", "/var/tmp"))] == []
    if unit.flag("Service", "PrivateDevices"):
        assert sorted({p for p, _ in opened if p.startswith("/dev/")} -
                      PRIVATE_DEVICES) == []
    if unit.flag("Service", "MemoryDenyWriteExecute"):
        assert WX_MAP.findall(trace) == []
