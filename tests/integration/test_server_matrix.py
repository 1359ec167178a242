"""Deploying it (README, Deploy): what holds for the program under each
server beyond the endpoint contract (which test_session_contract.py already
runs against every server kind): a body over the *server's* limit is
refused, never handed to the program cut short; SIGTERM finishes the request
in hand and exits 0; an agent over its rate limit gets the program's 429
with its Retry-After and RateLimit fields through every server (and
PgBouncer); OTAS_MAX_REQUESTS recycles a process with exit 0; the
binary without a FastCGI socket is a plain CGI program that answers one
request and exits; every FastCGI socket the examples document is a unix path
or 127.0.0.1.

Tests that end or reconfigure the responder start a private instance of a
server kind (stack.fresh) and stop it themselves, so the
shared instances the other tests use are never disturbed.
"""

import concurrent.futures
import json
import os
import re
import signal
import stat
import subprocess
import time

import pytest

from harness import examples
from harness import processes
from harness import stack
from harness.admin_cli import ok
from harness.otas_http import assert_error, create_session

# Server kinds whose responder runs under `spawn-fcgi -n`: the program is
# our child, so its PID and exit status can be observed.
SPAWN_FCGI_KINDS = ["apache-proxy-fcgi", "nginx"]


def session_count(pg):
    return pg.scalar("SELECT count(*) FROM agent_session")


def spawn_kinds():
    return [k for k in SPAWN_FCGI_KINDS
            if k in stack.server_kinds() and stack.SERVERS[k].available()]


@pytest.fixture
def private_server(request, workdir, app):
    """Starts a private instance of a kind (with extra OTAS_* settings)
    and stops it at the end, whatever happened."""
    started = []

    def start(kind, **env):
        base = os.path.join(workdir, "private-%s-%d" % (kind, len(started)))
        a = stack.App(app.build, dict(app.env, **env))
        srv = stack.fresh(stack.SERVERS[kind], base, a)
        started.append(srv)
        return srv.start()

    yield start
    for srv in started:
        srv.stop()


# --- rate limits ----------------------------------------------------------

def test_an_agent_over_its_limit_gets_the_429_and_its_fields(
        server, pg, keys, run):
    """The limit is decided in the database; the server must pass the
    429 and the three header fields through untouched."""
    key = keys.make()
    ok(run("agent", "limit", key.agent_id, "1/h"))
    first = create_session(server, key, '{"meta": {}}')
    assert first.status == 200, first
    assert first.header("RateLimit") == '"sessions";r=0;t=3600'
    refused = create_session(server, key, '{"meta": {}}')
    assert_error(refused, 429, "rate_limited")
    assert refused.header("RateLimit-Policy") == '"sessions";q=1;w=3600'
    assert re.fullmatch(r'"sessions";r=0;t=3[56]\d\d',
                        refused.header("RateLimit") or ""), refused.headers
    t = int(refused.header("RateLimit").rsplit("=", 1)[1])
    assert int(refused.header("Retry-After")) >= t
    assert pg.scalar("SELECT count(*) FROM agent_session WHERE agent_id = %s",
                     (key.agent_id,)) == 1


# --- body limits of the server ------------------------------------------

def test_body_over_the_server_limit_is_413_and_never_stored(server, pg, keys):
    """200 KB is over every example's server limit (128 KiB).  mod_fcgid
    without the example's Content-Length rule hands the program an empty
    body, which would be a 200 with meta {}."""
    key = keys.make()
    body = '{"meta": {"pad": "%s"}}' % ("x" * 200000)
    n = session_count(pg)
    resp = create_session(server, key, body, timeout=20)
    assert resp.status == 413, resp
    assert session_count(pg) == n


def test_body_just_over_the_program_limit_gets_the_programs_json_413(
        server, pg, keys):
    """Between OTAS_MAX_BODY and the server's limit the program answers,
    with its JSON body (the server limit must stay the larger)."""
    key = keys.make()
    body = '{"meta": {"pad": "%s"}}' % ("x" * 100000)
    assert_error(create_session(server, key, body), 413,
                 "payload_too_large")


# --- SIGTERM and recycling (spawn-fcgi -n: the program is our child) ------

@pytest.mark.parametrize("kind", spawn_kinds())
def test_sigterm_finishes_the_request_in_hand_then_exits_0(
        kind, private_server, pg, keys, secret):
    """The key's row is locked FOR UPDATE, so the program's insert (whose
    foreign key needs a share lock on it) waits; SIGTERM arrives while it
    waits; the lock is released well inside the statement timeout; the
    client still gets its 200 and its row, and the process exits 0."""
    srv = private_server(kind)
    responder = srv.responder
    key = keys.make()
    # Warm up: the key is verified and the connection open.
    assert create_session(srv, key, "{}").status == 200
    n = session_count(pg)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        with pg.connect(autocommit=False) as conn:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM agent_key WHERE id = %s"
                            " FOR UPDATE", (key.key_id,))
                fut = pool.submit(create_session, srv, key,
                                  '{"meta": {"slow": true}}', timeout=20)
                pg.wait_for_lock_wait()
                os.kill(responder.pid, signal.SIGTERM)
                time.sleep(0.3)
                assert responder.proc.poll() is None, \
                    "exited with a request in hand"
            conn.rollback()
        resp = fut.result(timeout=20)
    assert resp.status == 200, resp
    assert session_count(pg) == n + 1
    assert responder.proc.wait(timeout=10) == 0


@pytest.mark.parametrize("kind", spawn_kinds())
def test_sigterm_between_requests_exits_0_at_once(kind, private_server):
    srv = private_server(kind)
    responder = srv.responder
    # One request first: the program is then surely in its accept loop
    # (a signal during start-up, before its handler exists, kills it).
    assert create_session(srv, None, "{}").status == 401
    os.kill(responder.pid, signal.SIGTERM)
    assert responder.proc.wait(timeout=5) == 0


@pytest.mark.parametrize("kind", spawn_kinds())
def test_process_exits_0_after_otas_max_requests(kind, private_server,
                                                 keys, secret):
    srv = private_server(kind, OTAS_MAX_REQUESTS="3")
    responder = srv.responder
    key = keys.make()
    for i in range(3):
        assert create_session(srv, key, "{}").status == 200, i
    assert responder.proc.wait(timeout=10) == 0


def test_mod_fcgid_sigterm_to_a_busy_process_still_answers(
        private_server, pg, keys, secret):
    """Under mod_fcgid the program is Apache's grandchild: its exit status
    is not ours to see, but the answer and its exit are."""
    if "apache-fcgid" not in stack.server_kinds():
        pytest.skip("apache-fcgid not selected")
    srv = private_server("apache-fcgid")
    key = keys.make()
    assert create_session(srv, key, "{}").status == 200
    pids = srv.program_pids()
    assert pids, "no otas-session process under Apache"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        with pg.connect(autocommit=False) as conn:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM agent_key WHERE id = %s"
                            " FOR UPDATE", (key.key_id,))
                fut = pool.submit(create_session, srv, key, "{}",
                                  timeout=20)
                pg.wait_for_lock_wait()
                for pid in pids:
                    os.kill(pid, signal.SIGTERM)
                time.sleep(0.3)
            conn.rollback()
        resp = fut.result(timeout=20)
    assert resp.status == 200, resp
    deadline = time.monotonic() + 10
    while any(processes.pid_alive(p) for p in pids):
        assert time.monotonic() < deadline, "process did not exit"
        time.sleep(0.05)


# --- plain CGI ------------------------------------------------------------

def cgi_run(app, env, body=b""):
    base = {"PATH": "/usr/bin:/bin", "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1"}
    base.update(app.env)
    base.update(env)
    return subprocess.run([app.binary("otas-session")], input=body,
                          env=base, capture_output=True, timeout=30)


def test_without_a_fastcgi_socket_it_answers_one_cgi_request_and_exits_0(
        app):
    r = cgi_run(app, {"REQUEST_METHOD": "GET"})
    assert r.returncode == 0, r.stderr
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    assert re.search(rb"(?im)^Status: 405\b", head), r.stdout
    assert re.search(rb"(?im)^Allow: POST\r?$", head), r.stdout
    assert body.strip() == (b'{"status": 0, "status_description": '
                            b'"method_not_allowed"}')


def test_cgi_request_creates_a_session(app, pg, keys):
    key = keys.make()
    body = b'{"meta": {"via": "cgi"}}'
    n = session_count(pg)
    r = cgi_run(app, {"REQUEST_METHOD": "POST",
                      "CONTENT_LENGTH": str(len(body)),
                      "CONTENT_TYPE": "application/json",
                      "HTTP_X_OTAS_AGENT_KEY": key.full}, body)
    assert r.returncode == 0, r.stderr
    assert b"agent_session_created" in r.stdout, r.stdout
    assert session_count(pg) == n + 1


def test_cgi_request_ends_a_session(app, pg, keys):
    key = keys.make()
    r = cgi_run(app, {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "2",
                      "HTTP_X_OTAS_AGENT_KEY": key.full}, b"{}")
    token = json.loads(r.stdout.partition(b"\r\n\r\n")[2])[
        "response"]["jwt_token"]
    sid = pg.scalar("SELECT id FROM agent_session WHERE agent_id = %s",
                    (key.agent_id,))
    r = cgi_run(app, {"REQUEST_METHOD": "POST",
                      "REQUEST_URI": "/api/agent/v1/session/end/",
                      "HTTP_X_OTAS_AGENT_SESSION_TOKEN": token})
    assert r.returncode == 0, r.stderr
    assert r.stdout.partition(b"\r\n\r\n")[2].strip() == (
        b'{"status": 1, "status_description": "agent_session_ended"}')
    assert pg.scalar("SELECT ended_at IS NOT NULL FROM agent_session"
                     " WHERE id = %s", (sid,)) is True


# --- sockets on loopback or unix paths only ---------------------------------

EXAMPLES = ("apache.conf.example", "nginx.conf.example",
            "lighttpd.conf.example")


def example(name):
    with open(os.path.join(stack.ROOT, name)) as f:
        return f.read()


def test_every_documented_spawn_fcgi_listens_on_unix_or_loopback():
    commands = [(name, argv) for name in EXAMPLES
                for argv in examples.spawn_fcgi_commands(
                    os.path.join(stack.ROOT, name))]
    assert len(commands) >= 2
    for name, argv in commands:
        assert "spawn-fcgi" in argv, (name, argv)
        assert "-s" in argv or (
            "-p" in argv and "-a" in argv and
            argv[argv.index("-a") + 1] == "127.0.0.1"), (name, argv)


def config_lines(text):
    """Lines that are not comments."""
    return "\n".join(line for line in text.splitlines()
                     if not line.lstrip().startswith("#"))


def test_examples_pass_fastcgi_only_to_unix_sockets_or_loopback():
    nginx = config_lines(example("nginx.conf.example"))
    apache = config_lines(example("apache.conf.example"))
    targets = re.findall(r"fastcgi_pass\s+(\S+);", nginx)
    targets += re.findall(r"ProxyPass\w*\s+\S+\s+\"([^\"]+)\"", apache)
    targets += re.findall(r"AuthnzFcgiDefineProvider\s+\S+\s+\S+\s+(\S+)",
                          apache)
    assert len(targets) >= 2, targets
    for t in targets:
        assert (t.startswith("unix:") or t.startswith("127.0.0.1:") or
                t.startswith("fcgi://127.0.0.1:")), t


@pytest.mark.parametrize("kind", spawn_kinds())
def test_running_responder_listens_on_a_unix_socket(kind, servers):
    srv = servers.get(kind)
    st = os.stat(srv.responder.socket)
    assert stat.S_ISSOCK(st.st_mode)
    # Only the socket's owner and group (www-data) may connect.
    assert st.st_mode & 0o007 == 0, oct(st.st_mode)
