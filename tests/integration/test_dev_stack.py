"""`make run` (scripts/dev-stack) the way a developer meets it: in a copy
of the checkout, below a private directory (mode 0700, as root's home is)
and below a public one, with PORT set to a free port, started as a
terminal starts it (its own process group) and stopped with Ctrl-C
(SIGINT to that group) or, at the end, by PID.

Each copy gets the tree's sources and the build's outputs with their
times kept, so `make run` builds nothing.  Every process the stack starts
lives in its own mount namespace (the script makes one), so "nothing is
left" is checked exactly: no process of that namespace survives a stop.
"""

import collections
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from harness import guide
from harness import otas_http
from harness import postgres
from harness import processes
from harness import stack

README = os.path.join(stack.ROOT, "README.md")
AGENTS_GUIDE = os.path.join(stack.ROOT, "doc", "agents-and-keys.md")
UP = "dev stack is up on "


def copy_checkout(dest):
    """The tree's files (tracked and new, not ignored) and the build's
    outputs into dest, mtimes kept."""
    names = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others",
         "--exclude-standard"], cwd=stack.ROOT, capture_output=True,
        check=True).stdout.decode().split("\0")
    for name in filter(None, names):
        src = os.path.join(stack.ROOT, name)
        if not os.path.isfile(src):
            continue
        os.makedirs(os.path.dirname(os.path.join(dest, name)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, name))
    build = stack.build_path()
    shutil.copytree(os.path.join(build, "lib"), os.path.join(dest, "build",
                                                             "lib"))
    for name in os.listdir(build):
        path = os.path.join(build, name)
        if os.path.isfile(path):
            shutil.copy2(path, os.path.join(dest, "build", name))
    return dest


def mount_ns(pid):
    try:
        return os.readlink("/proc/%d/ns/mnt" % pid)
    except OSError:
        return None


def comm(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


def parent(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def pids_in_ns(ns):
    """Live processes of the mount namespace ns."""
    return sorted(int(p) for p in os.listdir("/proc")
                  if p.isdigit() and mount_ns(int(p)) == ns
                  and processes.pid_alive(int(p)))


def dev_env(checkout):
    """var/dev.env as {name: value}, read by a shell that sourced it and
    runs env: only exported names come through."""
    out = bash(checkout, ". var/dev.env && env -0").stdout
    return dict(kv.split("=", 1) for kv in out.split("\0")
                if kv.startswith(("OTAS_", "PG")))


def bash(checkout, script, user=None, check=True):
    argv = ["bash", "-c", script]
    if user:
        argv = ["runuser", "-u", user, "--"] + argv
    env = {"PATH": os.environ["PATH"], "HOME": "/root", "LANG": "C.UTF-8"}
    r = subprocess.run(argv, cwd=checkout, env=env, capture_output=True,
                       text=True, timeout=60)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


class DevStack:
    """`make run` in checkout, as a terminal runs it."""

    def __init__(self, checkout, port, **env):
        self.checkout = checkout
        self.port = port
        self.env = dict(os.environ, PORT=str(port), **env)
        self.env.pop("BUILD", None)     # the copy's own build/
        self.log = os.path.join(checkout, "make-run.log")
        self.proc = None
        self.ns = None
        self.ns_fd = None

    def output(self):
        return processes.tail(self.log, 100000)

    def report(self):
        """For a failure: what make run said, and PostgreSQL's log."""
        return "%s\n--- var/pg/postgres.log:\n%s" % (
            self.output()[-3000:], processes.tail(os.path.join(
                self.checkout, "var", "pg", "postgres.log"), 2000))

    def start(self, timeout=120):
        open(self.log, "w").close()
        # A terminal's Ctrl-C reaches a shell's job with SIGINT at its
        # default, whatever this process does with it.
        self.proc = processes.Process(
            ["make", "--no-print-directory", "run"], self.log,
            what="make run", cwd=self.checkout, env=self.env,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.proc.wait_ready(lambda: self.up() or self.exited(),
                             timeout)
        return self

    def up(self):
        if UP not in self.output():
            return False
        if self.ns is None:
            self.ns = self.own_namespace()
        return True

    def own_namespace(self):
        """The mount namespace the script made for itself: that of the
        dev-stack process below make whose parent lives in another one.
        Never init's or ours (anything is killed by it at the end)."""
        shared = {mount_ns(1), mount_ns(os.getpid()), None}
        for pid in processes.tree(self.proc.pid):
            ns = mount_ns(pid)
            up = mount_ns(parent(pid))
            if "scripts/dev-stack" in comm(pid) and ns not in shared and \
                    up is not None and up != ns:
                # Held open until stop(): a namespace's number is reused
                # once it is gone, and another stack's must never look
                # like this one's.
                self.ns_fd = os.open("/proc/%d/ns/mnt" % pid, os.O_RDONLY)
                if mount_ns(pid) == ns:
                    return ns
                os.close(self.ns_fd)
                self.ns_fd = None
        return None

    def exited(self):
        return self.proc.poll() is not None

    def ctrl_c(self, timeout=120):
        """SIGINT to the process group, as the terminal sends it; the
        exit status of make.  The bound is generous: a stop waits for
        PostgreSQL's fast shutdown (up to 30 s under load, then SIGKILL)
        after lighttpd's; past it, what still runs is named."""
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("make run still running %d s after Ctrl-C; "
                                 "left: %s\n%s" % (timeout, {
                                     pid: comm(pid)
                                     for pid in self.left_behind()},
                                     self.output()[-2000:]))

    def left_behind(self):
        return pids_in_ns(self.ns) if self.ns else []

    def stop(self):
        """By PID, whatever state it is in; then anything left of its
        namespace."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.ctrl_c(timeout=30)
            except AssertionError:
                processes.stop(self.proc, signal.SIGKILL)
        for pid in self.left_behind():
            os.kill(pid, signal.SIGKILL)
        if self.ns_fd is not None:
            os.close(self.ns_fd)
        self.ns = self.ns_fd = None


@pytest.fixture(scope="module")
def private_checkout():
    top = tempfile.mkdtemp(prefix="otas-dev-private-")
    os.chmod(top, 0o700)
    try:
        yield copy_checkout(os.path.join(top, "otas-fcgi"))
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module")
def running(private_checkout):
    """The stack of the private checkout, up for the module's tests."""
    dev = DevStack(private_checkout, processes.free_port())
    try:
        dev.start()
        assert dev.up(), dev.report()
        yield dev
    finally:
        dev.stop()


def readme_block(heading, marker, path=README):
    """The ```sh block of section heading of the README (or of the guide
    at path) that contains marker."""
    return guide.block(path, heading, marker)


# --- serving ---------------------------------------------------------------

def test_make_run_in_a_private_checkout_serves_the_readme_first_request(
        running):
    block = readme_block("## The two commands", ". var/dev.env")
    r = bash(running.checkout, block)
    assert '"status_description": "agent_session_created"' in r.stdout


def test_readme_authz_chain_runs_as_written_against_make_run(running):
    block = readme_block("## Protecting later calls: `otas-authz`",
                         "TOKEN=$(")
    r = bash(running.checkout, block)
    assert '"status_description": "ok"' in r.stdout, r.stdout + r.stderr


def test_readme_end_request_refuses_the_token_on_the_next_call(running):
    """The README's authorizer chain, then its end request as written:
    make run's otas-authz is in database mode, so the very next call with
    the token is refused."""
    heading = "## Protecting later calls: `otas-authz`"
    chain = readme_block(heading, "TOKEN=$(")
    end = readme_block(heading, "session/end/")
    r = bash(running.checkout, chain + end)
    answers, text, at = [], r.stdout, 0
    while text.find("{", at) != -1:
        doc, at = json.JSONDecoder().raw_decode(text, text.find("{", at))
        answers.append(doc)
    assert [d["status_description"] for d in answers] == [
        "ok", "agent_session_ended", "invalid_session_token"], \
        r.stdout + r.stderr


def test_readme_walkthrough_curl_gets_our_json_answer(running):
    line = [ln for ln in readme_block("## Managing agents and keys",
                                      "otas-admin migrate",
                                      AGENTS_GUIDE).splitlines()
            if ln.startswith("curl ")]
    assert len(line) == 1, line
    env = dev_env(running.checkout)
    cmd = line[0].replace("agent_...", env["OTAS_DEMO_KEY"]).replace(
        "http://localhost:8000", env["OTAS_URL"])
    r = bash(running.checkout, cmd)
    assert '"status_description": "agent_session_created"' in r.stdout, \
        r.stdout + r.stderr


def test_dev_env_exports_what_otas_admin_and_psql_need(running):
    env = dev_env(running.checkout)
    assert env["OTAS_URL"] == "http://localhost:%d" % running.port
    assert env["OTAS_SQL_DIR"] == os.path.join(running.checkout, "sql")
    # otas-admin, by its bare name as the guides write it, is the tree's,
    # in a shell that sourced dev.env: the schema step finds this
    # checkout's migrations.
    r = bash(running.checkout, ". var/dev.env && command -v otas-admin")
    assert r.stdout.strip() == os.path.join(running.checkout, "build",
                                            "otas-admin"), r.stdout
    r = bash(running.checkout, ". var/dev.env && otas-admin check")
    assert re.search(r"^schema\s+ok", r.stdout, re.MULTILINE), r.stdout
    r = bash(running.checkout, '. var/dev.env && psql -X -A -t '
             '"$OTAS_DATABASE_URL" -c "SELECT count(*) FROM agent"')
    assert int(r.stdout) >= 1


def test_make_run_prints_and_exports_the_metrics_url_which_counts(running):
    env = dev_env(running.checkout)
    url = "http://localhost:%d/metrics" % running.port
    assert env["OTAS_METRICS_URL"] == url
    assert "curl %s" % url in running.output()
    r = bash(running.checkout, '. var/dev.env && curl -s -o /dev/null '
             '-w "%{http_code}" -X POST -H "X-OTAS-AGENT-KEY: $OTAS_DEMO_KEY" '
             '-H "Content-Type: application/json" --data "{}" '
             '"$OTAS_URL/api/agent/v1/session/create/" && echo && '
             'curl -s "$OTAS_METRICS_URL"')
    status, _, text = r.stdout.partition("\n")
    assert status == "200", r.stdout + r.stderr
    m = re.search(r'^otas_requests_total\{program="otas-session",'
                  r'code="200"\} (\d+)$', text, re.MULTILINE)
    assert m and int(m.group(1)) >= 1, text[:2000]
    assert env["OTAS_DEMO_KEY"] not in text


def test_make_run_programs_connect_as_the_runtime_role(running):
    bash(running.checkout, readme_block("## The two commands",
                                        ". var/dev.env"))
    # The owner's URL in dev.env sees every connection; otas-session
    # keeps the one it created the session on.
    r = bash(running.checkout, '. var/dev.env && psql -X -A -t '
             '"$OTAS_DATABASE_URL" -c "SELECT DISTINCT usename FROM '
             "pg_stat_activity WHERE application_name = 'otas-session'\"")
    assert r.stdout.split() == [postgres.RUNTIME_ROLE], r.stdout


# --- what other local users cannot do ----------------------------------------

@pytest.mark.parametrize("role", ["postgres", postgres.RUNTIME_ROLE])
def test_another_local_user_cannot_log_in_to_the_dev_database(running,
                                                              role):
    url = dev_env(running.checkout)["OTAS_DATABASE_URL"]
    port = re.search(r"@127\.0\.0\.1:(\d+)/", url).group(1)
    r = bash("/", "psql -X -w -h 127.0.0.1 -p %s -U %s -d otas "
             "-c 'SELECT 1'" % (port, role), user="nobody", check=False)
    assert r.returncode != 0
    assert "password" in r.stderr, r.stderr


def test_another_local_user_reads_no_secret_and_no_request_log(running):
    var = os.path.join(running.checkout, "var")
    # As if the checkout were public: the files' own modes decide.
    for name in ("dev.env", "pg-password", "pg-runtime-password",
                 "jwt-secret",
                 "lighttpd/lighttpd.conf", "lighttpd/log/otas-fcgi.log"):
        path = os.path.join(var, name)
        assert os.path.exists(path), path
        st = os.stat(path)
        parent = os.stat(os.path.dirname(path))
        others_read = st.st_mode & 0o004 and parent.st_mode & 0o001
        assert not others_read, "%s readable by every user" % name


# --- starting and stopping -------------------------------------------------

def test_ctrl_c_stops_everything_it_started_every_time(private_checkout,
                                                       running):
    # The module's stack is stopped first, so the port stays this test's.
    running.stop()
    url = None
    for attempt in range(5):
        dev = DevStack(private_checkout, processes.free_port())
        try:
            dev.start()
            assert dev.up(), dev.report()
            assert dev.ns and dev.left_behind(), "no namespace found"
            dev.ctrl_c()
            # A clean stop is no failure: make names no error.
            assert "Error" not in dev.output(), dev.output()[-2000:]
            left = {pid: comm(pid) for pid in dev.left_behind()}
            assert left == {}, "attempt %d: %s" % (attempt, dev.report())
            this = dev_env(private_checkout)["OTAS_DATABASE_URL"]
            # The database's URL, port included, is the checkout's own.
            assert url in (None, this)
            url = this
        finally:
            dev.stop()


def test_a_taken_port_is_refused_with_one_line_before_anything_starts(
        private_checkout, running):
    running.stop()
    env_file = os.path.join(private_checkout, "var", "dev.env")
    with open(env_file) as f:
        before = f.read()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        dev = DevStack(private_checkout, port)
        try:
            dev.start()
            assert dev.proc.wait(timeout=60) != 0
        finally:
            dev.stop()
    out = dev.output()
    assert UP not in out
    said = [ln for ln in out.splitlines() if ln.startswith("dev-stack:")]
    assert len(said) == 1 and str(port) in said[0], out
    with open(env_file) as f:
        assert f.read() == before


def test_postgresql_never_starts_in_a_directory_it_cannot_enter(
        private_checkout, running):
    """The checkout sits below a 0700 directory: initdb and the postmaster
    run from /, so neither complains that it cannot change back there."""
    log = os.path.join(private_checkout, "var", "pg", "postgres.log")
    with open(log) as f:
        text = f.read()
    assert "could not change directory" not in text, text[-2000:]
    # initdb's own complaint went to make run's output, the first time.
    assert "could not change directory" not in running.output()


def test_pg_port_sets_the_dev_database_port_and_is_kept(private_checkout,
                                                        running):
    running.stop()
    pg_port = processes.free_port()
    for env in ({"PG_PORT": str(pg_port)}, {}):
        dev = DevStack(private_checkout, processes.free_port(), **env)
        try:
            dev.start()
            assert dev.up(), dev.report()
            url = dev_env(private_checkout)["OTAS_DATABASE_URL"]
            assert "@127.0.0.1:%d/" % pg_port in url
        finally:
            dev.stop()


def test_make_run_serves_from_a_public_checkout_too():
    top = tempfile.mkdtemp(prefix="otas-dev-public-")
    os.chmod(top, 0o755)
    dev = None
    try:
        checkout = copy_checkout(os.path.join(top, "otas-fcgi"))
        dev = DevStack(checkout, processes.free_port())
        dev.start()
        assert dev.up(), dev.report()
        r = bash(checkout, readme_block("## The two commands",
                                        ". var/dev.env"))
        assert '"status_description": "agent_session_created"' in r.stdout
    finally:
        if dev:
            dev.stop()
        shutil.rmtree(top, ignore_errors=True)


# --- when its PostgreSQL stops -----------------------------------------------

def create_status(dev):
    """(HTTP status, status_description) of one session request with the
    demo key, on a new connection."""
    key = dev_env(dev.checkout)["OTAS_DEMO_KEY"]
    server = collections.namedtuple("Server", "host port")("127.0.0.1",
                                                           dev.port)
    resp = otas_http.create_session(server, key, "{}", timeout=30)
    return resp.status, resp.json().get("status_description")


def answers_200(dev):
    """Whether a session request gets 200 now; a connection the program
    closes while it reconnects counts as not yet."""
    try:
        return create_status(dev)[0] == 200
    except OSError:
        return False


def script_pid(dev):
    """scripts/dev-stack's own PID (make's child; unshare ran in place)."""
    for pid in processes.tree(dev.proc.pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"scripts/dev-stack") for a in argv[:2]):
            return pid
    raise AssertionError("no dev-stack process under make")


def wait_for(dev, what, check, timeout=60):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "still not %s:\n%s" % (
            what, dev.output()[-3000:])
        time.sleep(0.2)


def test_make_run_answers_503_while_its_postgresql_is_down_then_recovers(
        private_checkout, running):
    running.stop()
    dev = DevStack(private_checkout, processes.free_port())
    var = os.path.join(private_checkout, "var")
    try:
        dev.start()
        assert dev.up(), dev.output() + processes.tail(
            os.path.join(var, "pg", "postgres.log"))
        assert create_status(dev) == (200, "agent_session_created")
        with open(os.path.join(var, "pg", "data", "postmaster.pid")) as f:
            postmaster = int(f.readline())
        with open(os.path.join(var, "pg-port")) as f:
            pg_port = int(f.read())
        # A crash (immediate shutdown); then the port is held, so nobody
        # can bring PostgreSQL back until the test lets go of it.
        os.kill(postmaster, signal.SIGQUIT)
        wait_for(dev, "gone", lambda: not processes.pid_alive(postmaster))
        with socket.socket() as hold:
            hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            hold.bind(("127.0.0.1", pg_port))
            hold.listen()
            wait_for(dev, "said", lambda: "PostgreSQL stopped" in dev.output())
            assert create_status(dev) == (503, "service_unavailable")
            assert dev.proc.poll() is None, dev.output()[-2000:]
        wait_for(dev, "back", lambda: answers_200(dev))
        assert dev.left_behind(), "stack gone"
        os.kill(script_pid(dev), signal.SIGTERM)
        assert dev.proc.wait(timeout=60) == 0, dev.output()[-2000:]
        assert "Error" not in dev.output()
        assert dev.left_behind() == [], dev.output()[-2000:]
    finally:
        dev.stop()


def test_make_run_ends_when_lighttpd_exits(private_checkout, running):
    running.stop()
    dev = DevStack(private_checkout, processes.free_port())
    try:
        dev.start()
        assert dev.up(), dev.output()
        web = [pid for pid, comm in processes.tree(dev.proc.pid).items()
               if comm == "lighttpd"]
        assert len(web) == 1, web
        os.kill(web[0], signal.SIGTERM)
        assert dev.proc.wait(timeout=60) != 0
        assert "lighttpd exited" in dev.output()
        assert dev.left_behind() == [], dev.output()[-2000:]
    finally:
        dev.stop()


def test_a_second_sigterm_while_stopping_still_stops_postgresql(
        private_checkout, running):
    running.stop()
    dev = DevStack(private_checkout, processes.free_port())
    try:
        dev.start()
        assert dev.up(), dev.report()
        pid = script_pid(dev)
        os.kill(pid, signal.SIGTERM)
        wait_for(dev, "stopping", lambda: "dev-stack: stopping" in
                 dev.output())
        os.kill(pid, signal.SIGTERM)
        assert dev.proc.wait(timeout=60) == 0, dev.output()[-2000:]
        assert dev.left_behind() == [], dev.output()[-2000:]
    finally:
        dev.stop()


def test_a_stack_killed_hard_leaves_no_server_and_the_next_start_works(
        private_checkout, running):
    """SIGKILL gives the script no chance to stop anything: the servers,
    in sessions of their own, must go with it all the same (the guard's
    parent-death signal), so the ports are free for the next make run."""
    running.stop()
    port = processes.free_port()
    dev = DevStack(private_checkout, port)
    try:
        dev.start()
        assert dev.up(), dev.report()
        servers = [p for p, c in processes.tree(dev.proc.pid).items()
                   if c in ("lighttpd", "postgres")]
        assert servers, processes.tree(dev.proc.pid)
        os.kill(script_pid(dev), signal.SIGKILL)
        wait_for(dev, "gone", lambda: not any(
            processes.pid_alive(p) for p in servers))
        dev.proc.wait(timeout=60)
        wait_for(dev, "empty", lambda: dev.left_behind() == [])
    finally:
        dev.stop()
    again = DevStack(private_checkout, port)
    try:
        again.start()
        assert again.up(), again.report()
        assert create_status(again) == (200, "agent_session_created")
    finally:
        again.stop()
