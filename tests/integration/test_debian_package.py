"""The Debian package on this machine: `make deb`, then the steps of
doc/debian-server.md, "With the package", followed as written (as root) (with the package, the shipped
nginx configuration, a PostgreSQL cluster of the test's own, and the
services started as their installed units would start them: systemd is not
PID 1 here), then an upgrade to a higher version, `dpkg -r` and `dpkg -P`,
after which nothing is left but what Debian policy keeps (the system user,
which the test then removes).  Each package is built once per session.

The test refuses to run where otas-fcgi is installed already: it would
purge the machine's own installation.
"""

import email.utils
import fcntl
import glob
import grp
import json
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import time

import jwt
import pytest

from harness import examples
from harness import guide
from harness import postgres
from harness import processes
from harness import servers_apache_nginx as san
from harness import stack
from harness import systemd_unit

PKG = "otas-fcgi"
UNIT_DIR = "/lib/systemd/system"
ETC = "/etc/otas-fcgi"
USER = "otas-fcgi"
UNITS = ("otas-session.socket", "otas-session.service", "otas-authz.socket",
         "otas-authz.service", "otas-echo.socket", "otas-echo.service",
         "otas-fcgi-purge.service",
         "otas-fcgi-purge.timer")
# Directories the package shares with the rest of the system.
SHARED_DIRS = {"/", "/etc", "/lib", "/lib/systemd", "/lib/systemd/system",
               "/usr", "/usr/bin", "/usr/lib", "/usr/share",
               "/usr/share/doc", "/usr/share/man", "/usr/share/man/man1",
               "/usr/share/man/man5", "/usr/share/man/man8"}


def version():
    with open(os.path.join(stack.ROOT, "VERSION")) as f:
        return f.read().strip()


def bumped(v):
    parts = v.split(".")
    parts[-1] = str(int(parts[-1]) + 1)
    return ".".join(parts)


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600,
                       **kw)
    assert r.returncode == 0, "%s: %s%s" % (argv, r.stdout, r.stderr)
    return r.stdout


def dpkg(*args):
    """dpkg, waiting while another package manager holds its lock."""
    deadline = time.monotonic() + 300
    while True:
        r = subprocess.run(["dpkg"] + list(args), capture_output=True,
                           text=True, timeout=600,
                           env=dict(os.environ,
                                    DEBIAN_FRONTEND="noninteractive"))
        if r.returncode == 0:
            return r.stdout
        if "lock" not in r.stderr or time.monotonic() > deadline:
            raise AssertionError("dpkg %s: %s%s" % (" ".join(args),
                                                    r.stdout, r.stderr))
        time.sleep(2)


def status():
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", PKG],
                       capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else "not-installed"


def user_exists(name=USER):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def make_deb(src, build, *args, env=None):
    run(["make", "--no-print-directory", "BUILD=" + build, "deb"] +
        list(args), cwd=src, env=dict(os.environ, **(env or {})))
    debs = [n for n in os.listdir(os.path.join(build, "deb"))
            if n.endswith(".deb")]
    assert len(debs) == 1, debs
    return os.path.join(build, "deb", debs[0])


@pytest.fixture(scope="module")
def one_at_a_time():
    """Test runs sharing this machine take turns: the package and its user
    are the machine's.  flock(2) on dpkg's database directory leaves no
    file behind, and dpkg itself locks files inside it with fcntl, never
    the directory with flock, so the two never meet."""
    fd = os.open("/var/lib/dpkg", os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@pytest.fixture(scope="module")
def debs(one_at_a_time, tmp_path_factory):
    """This tree's package, and one of a higher version built from a
    private copy with VERSION and debian/changelog bumped."""
    if status().startswith("install ok"):
        pytest.skip("otas-fcgi is installed on this machine already")
    if user_exists():
        pytest.skip("user %s exists already: not ours to remove" % USER)
    first = make_deb(stack.ROOT, stack.build_path())
    copy = str(tmp_path_factory.mktemp("deb-next") / "src")
    shutil.copytree(stack.ROOT, copy, ignore=shutil.ignore_patterns(
        "build", "var", ".git", "__pycache__"))
    new = bumped(version())
    with open(os.path.join(copy, "VERSION"), "w") as f:
        f.write(new + "\n")
    with open(os.path.join(copy, "debian", "changelog")) as f:
        old = f.read()
    stamp = email.utils.formatdate()
    with open(os.path.join(copy, "debian", "changelog"), "w") as f:
        f.write("%s (%s) bookworm; urgency=medium\n\n  * Test upgrade.\n\n"
                " -- Test <test@example.org>  %s\n\n%s" % (PKG, new, stamp,
                                                           old))
    # lintian judged the first; the second differs in its version only,
    # and is built the way a nocheck build is asked for.
    second = make_deb(copy, os.path.join(copy, "build"), "LINTIAN=true",
                      env={"DEB_BUILD_OPTIONS": "nocheck"})
    return first, second, new


def build_log(deb):
    """What dpkg-buildpackage printed while `make deb` built deb."""
    with open(os.path.join(os.path.dirname(deb), "src", "build.log")) as f:
        return f.read()


def test_package_build_runs_every_unit_test_and_all_pass(debs):
    log = build_log(debs[0])
    units = glob.glob(os.path.join(stack.ROOT, "tests", "unit", "test_*.c"))
    assert units
    assert log.count("[  PASSED  ]") == len(units), log[-3000:]
    assert "[  FAILED  ]" not in log


def test_nocheck_package_build_runs_no_test_and_links_no_test_library(
        debs):
    """With nocheck no unit test is built or run, so nothing links cmocka
    or jansson: the build dependencies debian/control marks <!nocheck>."""
    log = build_log(debs[1])
    assert "dh_builddeb" in log, log[-3000:]
    assert "[  PASSED  ]" not in log
    assert "-lcmocka" not in log and "-ljansson" not in log


def test_package_depends_on_debian_libjwt(debs):
    """The programs sign and verify with Debian's libjwt: shlibs says so."""
    depends = run(["dpkg-deb", "-f", debs[0], "Depends"])
    assert re.search(r"(^|, )libjwt0( \(|,|$)", depends), depends


@pytest.fixture(scope="module")
def machine(debs):
    """Undoes whatever the package tests leave: the package purged, the
    user it made removed, the files the README steps added deleted."""
    added = []
    try:
        yield added
    finally:
        for path in added:
            if os.path.lexists(path):
                os.unlink(path)
        if status() != "not-installed":
            dpkg("--purge", PKG)
        if user_exists():
            systemd_unit.remove_system_user(USER)


# --- the guide's steps -----------------------------------------------------

def readme_steps():
    """The shell block of doc/debian-server.md "## With the package", one
    command a line (a trailing `# comment` kept apart)."""
    block = guide.blocks(guide.path("debian-server.md"),
                         "## With the package")[0]
    steps = []
    for line in block.splitlines():
        cmd, _, comment = line.partition("  # ")
        if cmd.strip():
            steps.append((cmd.strip(), comment.strip()))
    return steps


class Deploy:
    """Runs README steps on this machine.  What differs from a real host:
    the database is a private cluster (its port), nginx listens on a free
    port with its run and log directories private, and `systemctl enable
    --now X.socket` starts X as the installed unit would."""

    def __init__(self, base, deb, added):
        self.base = base
        self.deb = deb
        self.added = added
        self.pg = postgres.Postgres(base, dbname="postgres")
        self.run = os.path.join(base, "run")   # stands for /run/otas-fcgi
        self.nginx_dir = os.path.join(base, "nginx")
        self.nginx_port = processes.free_port()
        self.nginx = None
        self.services = []
        self.vars = {}
        self.outputs = []

    def local(self, cmd):
        """Site values of a real host made those of this test."""
        cmd = cmd.replace("127.0.0.1/otas", "127.0.0.1:%d/otas" %
                          self.pg.port)
        cmd = cmd.replace("127.0.0.1:5432:", "127.0.0.1:%d:" % self.pg.port)
        cmd = cmd.replace("localhost:8000", "localhost:%d" % self.nginx_port)
        return cmd

    def shell(self, cmd):
        env = dict(os.environ, **self.vars)
        env.pop("OTAS_SQL_DIR", None)
        r = subprocess.run(["/bin/bash", "-c", "set -e -o pipefail; " + cmd],
                           capture_output=True, text=True, timeout=600,
                           cwd=stack.ROOT, env=env)
        assert r.returncode == 0, "%s:\n%s%s" % (cmd, r.stdout, r.stderr)
        return r.stdout

    def step(self, cmd, comment):
        """One line of the guide, as root: no sudo anywhere (a minimal
        Debian has none)."""
        words = shlex.split(cmd)
        assert "sudo" not in words and words[0] != "sudoedit", cmd
        if words[:4] == ["runuser", "-u", "postgres", "--"]:
            # The private cluster trusts local connections as postgres.
            words = [w for w in words[4:] if w != "--pwprompt"]
            return self.shell(" ".join(shlex.quote(w) for w in words[:1] + [
                "-h", "127.0.0.1", "-p", str(self.pg.port), "-U",
                "postgres"] + words[1:]))
        if words[:2] == ["apt", "install"]:
            # The one make deb wrote (under $BUILD, which may differ).
            assert os.path.basename(words[2]) == os.path.basename(self.deb)
            return self.shell("apt-get install -y -q "
                              "-o DPkg::Lock::Timeout=300 %s" %
                              shlex.quote(self.deb))
        if words[0] == "editor":
            return self.edit(words[1], comment)
        if words[0] == "systemctl":
            return self.enable(words[1:])
        if words[0] == "nginx":
            return self.start_nginx(words[1:])
        m = re.match(r"^(\w+)=\$\((.*)\)$", cmd)
        if m:
            self.vars[m.group(1)] = self.shell(self.local(m.group(2))).strip()
            return ""
        for path in (words[-1] if words[0] == "cp" else None,
                     ETC + "/pgpass" if ETC + "/pgpass" in cmd else None):
            if path is not None and path not in self.added:
                self.added.append(path)
        out = self.shell(self.local(cmd))
        self.outputs.append(out)
        return out

    def edit(self, path, comment):
        """`editor FILE  # NAME=value`: the operator sets that line."""
        name, _, value = self.local(comment).partition("=")
        with open(path) as f:
            text = f.read()
        text, n = re.subn(r"^#?%s=.*$" % re.escape(name),
                          lambda m: "%s=%s" % (name, value), text,
                          flags=re.MULTILINE)
        assert n == 1, "%s: %s found %d times" % (path, name, n)
        with open(path, "w") as f:     # in place: owner and mode stay
            f.write(text)
        return ""

    def enable(self, args):
        assert args[:2] == ["enable", "--now"], args
        for unit in args[2:]:
            assert unit.endswith(".socket"), unit
            svc = systemd_unit.Service(
                UNIT_DIR, unit[:-len(".socket")],
                {"/run/otas-fcgi": self.run},
                os.path.join(self.base, unit + ".journal"))
            self.services.append(svc.start())
            svc.wait_log(" start version=")
        return ""

    def start_nginx(self, args):
        test = args[0] == "-t"
        conf_path = args[args.index("-c") + 1]
        logs = os.path.join(self.nginx_dir, "logs")
        os.makedirs(logs, exist_ok=True)
        conf = os.path.join(self.nginx_dir, "nginx.conf")
        with open(conf_path) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(examples.nginx(self.nginx_port, self.run, logs, text))
        argv = [san.NGINX, "-p", self.nginx_dir + "/", "-c", conf]
        if test:
            return run(argv + ["-t"])
        self.nginx = processes.start(
            argv + ["-g", "daemon off;"],
            os.path.join(self.nginx_dir, "server.out"),
            lambda: processes.http_answers(self.nginx_port))
        return ""

    def stop(self):
        processes.stop(self.nginx)
        for svc in self.services:
            svc.stop()
        self.pg.destroy()


@pytest.fixture(scope="module")
def deployed(debs, machine, workdir):
    # Under the session's directory: postgres, www-data and the service
    # user must reach their parts of it.
    base = os.path.join(workdir, "deploy")
    os.makedirs(base)
    d = Deploy(base, debs[0], machine)
    d.pg.init()
    d.pg.start()
    try:
        for cmd, comment in readme_steps():
            if cmd == "make deb":
                continue        # the debs fixture did, once
            d.step(cmd, comment)
        yield d
    finally:
        d.stop()


def test_readme_readiness_curl_says_ready(deployed):
    ready = [json.loads(out) for out in deployed.outputs
             if '"ready"' in out]
    assert ready == [{"status": 1, "status_description": "ready"}]


def test_readme_steps_give_200_for_the_seed_curl_with_its_row(deployed):
    created = [out for out in deployed.outputs
               if "agent_session_created" in out]
    assert len(created) == 1, deployed.outputs
    body = json.loads(created[0])
    assert body["status"] == 1
    assert body["status_description"] == "agent_session_created"
    with open(os.path.join(ETC, "jwt-secret"), "rb") as f:
        secret = f.read().strip()
    claims = jwt.decode(body["response"]["jwt_token"], secret,
                        algorithms=["HS256"])
    with deployed.pg.connect("otas") as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT meta::text FROM agent_session WHERE id = %s",
                        (claims["agent_session_id"],))
            assert cur.fetchall() == [
                ('{"task": "summarize", "input_length": 512}',)]


def test_guide_protected_url_answers_200_with_the_token(deployed):
    """The package's otas-echo units serve the examples' echo.sock: the
    guide's last curl, with the token of a session it created, gets
    otas-echo's 200 through otas-authz (502/503 when nothing served it)."""
    body = json.loads(deployed.outputs[-1])
    assert body["status"] == 1 and body["status_description"] == "ok", body
    with open(os.path.join(ETC, "jwt-secret"), "rb") as f:
        secret = f.read().strip()
    assert deployed.vars["TOKEN"], deployed.vars
    claims = jwt.decode(deployed.vars["TOKEN"], secret, algorithms=["HS256"])
    assert body["response"]["agent_session_id"] == claims["agent_session_id"]
    assert body["response"]["agent_id"] == claims["agent_id"]


def test_protected_url_answers_200_behind_lighttpd_too(deployed, workdir):
    """The installed lighttpd example without its bin-path lines (as the
    guide says) reaches the package's sockets, otas-echo's included: the
    guide's token gets the protected URL's 200, a wrong one 401."""
    installed = "/usr/share/doc/otas-fcgi/examples/lighttpd.conf.example"
    with open(installed) as a, open(examples.LIGHTTPD) as b:
        assert a.read() == b.read()
    d = os.path.join(workdir, "deploy-lighttpd")
    docroot = os.path.join(d, "htdocs")
    os.makedirs(docroot)
    processes.give_to(d, stack.SERVER_USER)
    port = processes.free_port()
    text = examples.lighttpd({
        "port": port, "libexec": "/nonexistent", "rundir": deployed.run,
        "logdir": d, "docroot": docroot, "database_url": "unused",
        "jwt_secret_file": "/nonexistent"})
    text, n = re.subn(r'^\s*"bin-path"\s*=>.*\n', "", text, flags=re.M)
    assert n >= 3, n
    conf = os.path.join(d, "lighttpd.conf")
    with open(conf, "w") as f:
        f.write(text)
    proc = processes.start([stack.LIGHTTPD, "-D", "-f", conf],
                           os.path.join(d, "server.out"),
                           lambda: processes.http_answers(port))
    try:
        url = "http://127.0.0.1:%d/api/some/v1/endpoint/" % port
        for token, want in ((deployed.vars["TOKEN"], 200),
                            (deployed.vars["TOKEN"] + "x", 401)):
            r = subprocess.run(
                ["curl", "-s", "-o", "/dev/stdout", "-w", "\n%{http_code}",
                 "--request", "POST", "--url", url, "--header",
                 "X-OTAS-AGENT-SESSION-TOKEN: " + token, "--data", "{}"],
                capture_output=True, text=True, timeout=60)
            body, _, code = r.stdout.rpartition("\n")
            assert int(code) == want, (code, body)
            if want == 200:
                assert json.loads(body)["status_description"] == "ok", body
        assert json.loads(body)["status_description"] == \
            "invalid_session_token"
    finally:
        processes.stop(proc)


def test_package_files_are_where_the_readme_says(deployed):
    files = set(dpkg("-L", PKG).split())
    for path in ("/usr/bin/otas-admin", "/usr/lib/otas-fcgi/otas-session",
                 "/usr/lib/otas-fcgi/otas-authz",
                 "/usr/share/man/man1/otas-admin.1.gz",
                 "/usr/share/man/man5/otas.conf.5.gz",
                 "/usr/share/man/man8/otas-session.8.gz",
                 "/usr/share/man/man8/otas-authz.8.gz",
                 "/usr/share/man/man8/otas-echo.8.gz",
                 "/usr/share/doc/otas-fcgi/examples/nginx.conf.example",
                 "/etc/otas-fcgi/otas.conf"):
        assert path in files, path
    assert {"/usr/share/otas-fcgi/sql/" + n for n in os.listdir(
        os.path.join(stack.ROOT, "sql"))} <= files
    assert {UNIT_DIR + "/" + u for u in UNITS} <= files
    # The guides and monitoring/, uncompressed: the man pages name
    # /usr/share/doc/otas-fcgi/api.md.
    for d in ("doc", "monitoring"):
        under = "" if d == "doc" else d + "/"
        assert {"/usr/share/doc/otas-fcgi/" + under + n for n in os.listdir(
            os.path.join(stack.ROOT, d))} <= files, d
    conffiles = run(["dpkg-query", "-W", "-f", "${Conffiles}", PKG])
    assert [line.split()[0] for line in conffiles.strip().splitlines()] == \
        [ETC + "/otas.conf"]


def owner_mode(path):
    st = os.stat(path)
    return (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name,
            stat.S_IMODE(st.st_mode))


def test_settings_and_secret_are_for_the_service_user_and_root_only(
        deployed):
    assert owner_mode(ETC) == ("root", USER, 0o750)
    # The services read these and cannot change them.
    assert owner_mode(ETC + "/otas.conf") == ("root", USER, 0o640)
    assert owner_mode(ETC + "/jwt-secret") == ("root", USER, 0o640)
    assert os.path.getsize(ETC + "/jwt-secret") >= 32
    # The runtime role's password, made by the README's steps.
    assert owner_mode(ETC + "/pgpass") == (USER, USER, 0o600)
    # The purge's owner credentials: root's only.
    assert owner_mode(ETC + "/purge.env") == ("root", "root", 0o600)
    # www-data, the web server, reads none of them.
    for name in ("otas.conf", "jwt-secret", "pgpass", "purge.env"):
        r = subprocess.run(["runuser", "-u", stack.SERVER_USER, "--", "cat",
                            ETC + "/" + name], capture_output=True)
        assert r.returncode != 0, name


def test_shipped_settings_connect_as_the_runtime_role():
    """The conffile as shipped (before the README's edit): the runtime
    role, never the owner."""
    with open(os.path.join(stack.ROOT, "debian", "otas.conf")) as f:
        urls = re.findall(r"^OTAS_DATABASE_URL=(.*)$", f.read(), re.MULTILINE)
    assert urls == ["postgresql://otas_runtime@localhost/otas"]


def test_the_services_cannot_read_the_owners_credentials(deployed):
    """A compromised responder holds only what the runtime role may do:
    its user reads the runtime role's password and not purge.env."""
    with open(ETC + "/pgpass") as f:
        assert ":otas_runtime:" in f.read()
    for name, readable in (("otas.conf", True), ("jwt-secret", True),
                           ("pgpass", True), ("purge.env", False)):
        r = subprocess.run(["runuser", "-u", USER, "--", "cat",
                            ETC + "/" + name], capture_output=True)
        assert (r.returncode == 0) == readable, (name, r.stderr)
    # ...and the running services connect as the runtime role.
    with deployed.pg.connect("otas") as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT DISTINCT usename FROM pg_stat_activity"
                        " WHERE application_name IN ('otas-session',"
                        " 'otas-authz')")
            assert cur.fetchall() in ([("otas_runtime",)], [])


@pytest.fixture
def retention_set(deployed):
    """OTAS_SESSION_RETENTION=90d in the installed settings file and the
    owner in purge.env, as the operator would; both put back."""
    files = {}
    for name in ("otas.conf", "purge.env"):
        with open(ETC + "/" + name) as f:
            files[name] = f.read()
    deployed.edit(ETC + "/otas.conf", "OTAS_SESSION_RETENTION=90d")
    yield deployed
    for name, text in files.items():
        with open(ETC + "/" + name, "w") as f:     # owner and mode stay
            f.write(text)


def test_installed_purge_with_a_retention_fails_loudly_then_works_as_owner(
        retention_set):
    d = retention_set
    with d.pg.connect("otas") as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT id, agent_id FROM agent_key LIMIT 1")
            key_id, agent_id = cur.fetchone()
            cur.execute("INSERT INTO agent_session (id, agent_id,"
                        " agent_key_id, created_at, meta) VALUES"
                        " (gen_random_uuid(), %s, %s, now() - interval"
                        " '100 days', '{}') RETURNING id::text",
                        (agent_id, key_id))
            old = cur.fetchone()[0]

    def purge():
        return systemd_unit.run_oneshot(
            UNIT_DIR + "/otas-fcgi-purge.service", {})

    # purge.env as the package made it: the runtime role, told what to do.
    r = purge()
    assert r.returncode == 1
    assert "may not delete sessions; connect as the tables' owner" in \
        r.stderr and "/etc/otas-fcgi/purge.env" in r.stderr, r.stderr
    with open(ETC + "/purge.env", "a") as f:
        f.write(d.local("OTAS_DATABASE_URL=postgresql://otas@127.0.0.1/otas")
                + "\n")
    r = purge()
    assert r.returncode == 0, r.stdout + r.stderr
    with d.pg.connect("otas") as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM agent_session WHERE id = %s",
                        (old,))
            assert cur.fetchone()[0] == 0


def test_installed_units_pass_systemd_analyze_verify(deployed):
    r = subprocess.run(["systemd-analyze", "verify", "--man=no"] +
                       [UNIT_DIR + "/" + u for u in UNITS],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout + r.stderr == "", \
        r.stdout + r.stderr


def package_paths(deb):
    """Every path the .deb holds, without the directories it shares."""
    out = set()
    for line in run(["dpkg-deb", "-c", deb]).splitlines():
        path = line.split()[5].lstrip(".").rstrip("/") or "/"
        if path not in SHARED_DIRS:
            out.add(path)
    return out


def systemd_state():
    """What deb-systemd-helper keeps about our units."""
    found = []
    for root in ("/etc/systemd/system", "/var/lib/systemd"):
        for d, dirs, names in os.walk(root):
            found += [os.path.join(d, n) for n in names + dirs
                      if n.startswith(("otas-", "otas_"))]
    return found


def test_upgrade_remove_purge_leave_only_what_policy_keeps(deployed, debs):
    first, second, new = debs
    with open(ETC + "/otas.conf") as f:
        edited = f.read()
    with open(ETC + "/jwt-secret", "rb") as f:
        secret = f.read()
    uid = pwd.getpwnam(USER).pw_uid
    for svc in deployed.services:       # as the upgrade's restart would
        svc.stop()

    dpkg("-i", second)
    assert status() == "install ok installed"
    assert run(["/usr/lib/otas-fcgi/otas-session", "--version"]) == \
        "otas-session %s\n" % new
    with open(ETC + "/otas.conf") as f:
        assert f.read() == edited
    with open(ETC + "/jwt-secret", "rb") as f:
        assert f.read() == secret
    assert pwd.getpwnam(USER).pw_uid == uid

    # The operator's own files, but the credentials the README had them
    # put in /etc/otas-fcgi: apt purge must take those away.
    credentials = [p for p in deployed.added if p == ETC + "/pgpass"]
    assert credentials, deployed.added
    for path in deployed.added:
        if path not in credentials:
            os.unlink(path)
    deployed.added[:] = credentials
    dpkg("-r", PKG)
    assert status() == "deinstall ok config-files"
    assert not os.path.exists("/usr/lib/otas-fcgi")
    assert not os.path.exists("/usr/bin/otas-admin")
    assert os.path.exists(ETC + "/otas.conf")     # conffiles stay

    dpkg("-P", PKG)
    assert status() == "not-installed"
    assert [p for p in credentials if os.path.lexists(p)] == []
    deployed.added.clear()
    left = [p for p in package_paths(second) if os.path.lexists(p)]
    assert left == []
    assert not os.path.exists(ETC)
    assert systemd_state() == []
    assert user_exists()        # Debian keeps system users; machine() goes
