"""Ending a session (otas-session.8, otas-authz.8, otas-admin.1): POST
/api/agent/v1/session/end/ with the session token, through every server
kind; and otas-authz's database mode refusing an ended session, or one of a
disabled agent, on the very next request after the end returned, in every
authorizer process, whatever its cache held.

The refusal tests run one private lighttpd from lighttpd.conf.example with
its two otas-authz processes in database mode and a cache time far longer
than the test, so only the notification (LISTEN/NOTIFY, sql/005) can make
a process forget.  Before each end, bursts of concurrent requests (lighttpd
gives sequential ones all to its first process) go out until the log shows
that every otas-authz process answered the token from its cache
("ok (cached)", with the process id in the log line); then the end (the
endpoint, otas-admin session end, key revoke --end-sessions, agent
disable), then one request, which must be 401, and bursts until every
process has refused it, all 401: 0 of TRIES may pass.
"""

import concurrent.futures
import os
import re
import time
import uuid

import jwt
import psycopg2
import pytest

from harness import authz_servers
from harness import fault_proxy
from harness import postgres
from harness import stack
from harness.admin_cli import ok, ok_json
from harness.otas_http import assert_common_headers, assert_error, \
    assert_unrouted, create_session, request

END_PATH = "/api/agent/v1/session/end/"
PROTECTED = "/api/some/v1/endpoint/"
TOKEN_HEADER = "X-OTAS-AGENT-SESSION-TOKEN"
ENDED = {"status": 1, "status_description": "agent_session_ended"}
TRIES = 200
# Requests to pass one token through every process before giving up.
WARM_LIMIT = 400


def new_session(server, keys, key=None):
    """(token, claims, key) of a session made by the real endpoint."""
    key = key or keys.make()
    resp = create_session(server, key)
    assert resp.status == 200, resp
    token = resp.json()["response"]["jwt_token"]
    return token, jwt.decode(token, options={"verify_signature": False}), key


def end(server, token=None, method="POST", headers=()):
    hdrs = [] if token is None else [(TOKEN_HEADER, token)]
    return request(server, method=method, path=END_PATH,
                   headers=hdrs + list(headers))


def call(server, token):
    return request(server, method="GET", path=PROTECTED,
                   headers=[(TOKEN_HEADER, token)])


def ended_at(pg, session_id):
    return pg.scalar("SELECT ended_at FROM agent_session WHERE id = %s",
                     (session_id,))


# --- the endpoint, through every server kind --------------------------------

def test_end_answers_200_and_records_when(server, pg, keys):
    token, c, _ = new_session(server, keys)
    assert ended_at(pg, c["agent_session_id"]) is None
    resp = end(server, token)
    assert resp.status == 200, resp
    assert_common_headers(resp)
    assert resp.json() == ENDED
    assert ended_at(pg, c["agent_session_id"]) is not None


def test_ending_again_is_the_same_200_and_keeps_the_first_time(
        server, pg, keys):
    token, c, _ = new_session(server, keys)
    assert end(server, token).json() == ENDED
    first = ended_at(pg, c["agent_session_id"])
    resp = end(server, token)
    assert resp.status == 200, resp
    assert resp.json() == ENDED
    assert ended_at(pg, c["agent_session_id"]) == first


def test_end_without_a_token_is_401(server):
    assert_error(end(server), 401, "invalid_session_token")


def test_end_with_a_bad_token_is_401(server, keys, secret):
    token, c, _ = new_session(server, keys)
    forged = jwt.encode(c, stack.random_secret(48), algorithm="HS256")
    assert_error(end(server, forged), 401, "invalid_session_token")
    assert_error(end(server, token + "x"), 401, "invalid_session_token")


def test_end_of_a_session_that_is_not_there_is_401(server, pg, secret):
    now = int(time.time())
    c = {"agent_session_id": str(uuid.uuid4()), "agent_id": str(uuid.uuid4()),
         "iat": now, "exp": now + 600}
    token = jwt.encode(c, secret.value, algorithm="HS256")
    assert_error(end(server, token), 401, "invalid_session_token")


def test_end_with_the_token_twice_is_401(server, pg, keys):
    token, c, _ = new_session(server, keys)
    resp = end(server, token, headers=[(TOKEN_HEADER, token)])
    assert_error(resp, 401, "invalid_session_token")
    assert ended_at(pg, c["agent_session_id"]) is None


def test_end_by_get_is_405_like_create(server, pg, keys):
    token, c, _ = new_session(server, keys)
    resp = end(server, token, method="GET")
    assert_error(resp, 405, "method_not_allowed")
    assert resp.header("Allow") == "POST"
    assert ended_at(pg, c["agent_session_id"]) is None


@pytest.mark.parametrize("path", ["/api/agent/v1/session/end/x",
                                  "/api/agent/v1/session/end"])
def test_only_the_exact_end_path_is_routed(server, keys, path):
    token, c, _ = new_session(server, keys)
    resp = request(server, path=path, headers=[(TOKEN_HEADER, token)])
    assert_unrouted(server, resp)


def test_end_never_makes_a_session(server, pg, keys):
    key = keys.make()
    resp = request(server, path=END_PATH,
                   headers=[("X-OTAS-AGENT-KEY", key.full)])
    assert_error(resp, 401, "invalid_session_token")
    assert stack.sessions_of(pg, key.agent_id) == 0


# --- database mode: refused at once in every process ------------------------

class Log:
    """The otas-authz lines of a server's program log, read as they come."""

    LINE = re.compile(r"otas-authz\[(\d+)\] id=\S+ status=(\d+) code=\S+ "
                      r"agent=(\S+) .*why=\"([^\"]*)\"")

    def __init__(self, server):
        self.server = server
        self.pos = server.log_mark()
        self.all = []       # every line read, for a failure's report

    def lines(self):
        with open(self.server.error_log_path, "rb") as f:
            f.seek(self.pos)
            data = f.read()
        cut = data.rfind(b"\n") + 1
        self.pos += cut
        for line in data[:cut].decode("utf-8", "replace").splitlines():
            m = self.LINE.search(line)
            if m:
                line = (int(m.group(1)), int(m.group(2)), m.group(3),
                        m.group(4))
                self.all.append(line)
                yield line


# lighttpd hands a request to the first of its processes that is idle, so
# requests one after the other all reach the first: bursts of concurrent
# ones reach the others.
BURST = 4
POOL = concurrent.futures.ThreadPoolExecutor(BURST)


def burst(server, token):
    """BURST calls of the protected URL at once; their statuses."""
    return list(POOL.map(lambda _: call(server, token).status, range(BURST)))


def until_every_process(server, log, pids, token, c, status, why=None):
    """Bursts of calls until every authorizer process logged an answer
    status (and why, when given) for the token; returns every status the
    calls got."""
    seen, got = set(), []
    for _ in range(WARM_LIMIT):
        got += burst(server, token)
        for pid, st, agent, w in log.lines():
            if agent == c["agent_id"] and st == status and \
                    (why is None or w == why):
                seen.add(pid)
        if seen >= pids:
            return got
    pytest.fail("not every otas-authz process answered %d (%s): %s of %s"
                % (status, why, sorted(seen), sorted(pids)))


def pass_through_every_cache(server, log, pids, token, c):
    """Until every authorizer process has let the token through from its
    cache: each holds it."""
    got = until_every_process(server, log, pids, token, c, 200,
                              "ok (cached)")
    assert set(got) == {200}, got


class _OneConnection:
    """pg.query on one connection kept open: KeyFactory makes a key per
    try, and a new connection per row would cost more than the try."""

    def __init__(self, pg):
        self.conn = psycopg2.connect(pg.dsn(None), connect_timeout=5)
        self.conn.autocommit = True

    def query(self, sql, args=()):
        with self.conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else []


@pytest.fixture(scope="module")
def fast_keys(pg):
    one = _OneConnection(pg)
    try:
        yield stack.KeyFactory(one)
    finally:
        one.conn.close()


@pytest.fixture(scope="module")
def dbmode(workdir, app):
    """lighttpd from its example, its otas-authz processes in database
    mode with an hour of cache."""
    srv = authz_servers.start_private(
        "lighttpd", os.path.join(workdir, "session-end-dbmode"),
        stack.App(app.build, dict(app.env, OTAS_AUTHZ_CHECK_DB="1",
                                  OTAS_AUTHZ_CACHE_SECONDS="3600")))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def authz_pids(dbmode):
    pids = set(dbmode.program_pids("otas-authz"))
    assert len(pids) >= 2, pids
    return pids


def refuse_each_time(server, pids, keys, end_it, tries=TRIES):
    """tries times: a new session, through every cache, ended by
    end_it(token, claims, key); then the next request must be 401, and
    so must every one after it until each process has refused it."""
    log = Log(server)
    passed = []
    for i in range(tries):
        token, c, key = new_session(server, keys)
        pass_through_every_cache(server, log, pids, token, c)
        end_it(token, c, key)
        first = call(server, token).status
        rest = until_every_process(server, log, pids, token, c, 401)
        if first != 401 or set(rest) != {401}:
            passed.append((i, first, rest, [
                line for line in log.all if line[2] == c["agent_id"]]))
    assert passed == [], "%d of %d passed after the end: %s" % (
        len(passed), tries, passed[:5])


def test_ended_by_the_endpoint_is_refused_at_once(dbmode, authz_pids,
                                                  fast_keys):
    def end_it(token, c, key):
        assert end(dbmode, token).json() == ENDED
    refuse_each_time(dbmode, authz_pids, fast_keys, end_it)


def test_ended_by_otas_admin_is_refused_at_once(dbmode, authz_pids,
                                                fast_keys, run):
    def end_it(token, c, key):
        out = ok_json(run("--json", "session", "end", c["agent_session_id"]))
        assert out["changed"] is True
    refuse_each_time(dbmode, authz_pids, fast_keys, end_it)


def test_key_revoke_end_sessions_refuses_its_sessions_at_once(
        dbmode, authz_pids, fast_keys, run):
    def end_it(token, c, key):
        out = ok_json(run("--json", "key", "revoke", key.prefix,
                          "--end-sessions"))
        assert out["sessions_ended"] == 1
    refuse_each_time(dbmode, authz_pids, fast_keys, end_it)


def test_agent_disable_refuses_its_sessions_at_once(dbmode, authz_pids,
                                                    fast_keys, run):
    def end_it(token, c, key):
        ok(run("agent", "disable", c["agent_id"]))
    refuse_each_time(dbmode, authz_pids, fast_keys, end_it)


def test_key_revoke_end_sessions_ends_every_open_session_of_the_key_only(
        dbmode, keys, run, pg):
    key = keys.make()
    other = keys.make(agent_id=key.agent_id)
    mine = [new_session(dbmode, keys, key)[1] for _ in range(3)]
    theirs = new_session(dbmode, keys, other)
    out = ok_json(run("--json", "key", "revoke", key.key_id,
                      "--end-sessions"))
    assert out["changed"] is True and out["sessions_ended"] == 3
    for c in mine:
        assert ended_at(pg, c["agent_session_id"]) is not None
    assert ended_at(pg, theirs[1]["agent_session_id"]) is None
    assert call(dbmode, theirs[0]).status == 200
    # Again (the key already revoked): nothing left to end.
    out = ok_json(run("--json", "key", "revoke", key.key_id,
                      "--end-sessions"))
    assert out["changed"] is False and out["sessions_ended"] == 0


def test_a_plain_key_revoke_leaves_running_sessions_alone(
        dbmode, authz_pids, keys, run):
    log = Log(dbmode)
    token, c, key = new_session(dbmode, keys)
    pass_through_every_cache(dbmode, log, authz_pids, token, c)
    out = ok_json(run("--json", "key", "revoke", key.prefix))
    assert out["changed"] is True and "sessions_ended" not in out
    assert_error(create_session(dbmode, key), 401, "invalid_agent_key")
    got = until_every_process(dbmode, log, authz_pids, token, c, 200,
                              "ok (cached)")
    assert set(got) == {200}, got


def test_key_rotate_leaves_running_sessions_alone(dbmode, authz_pids, keys,
                                                  run):
    log = Log(dbmode)
    token, c, key = new_session(dbmode, keys)
    pass_through_every_cache(dbmode, log, authz_pids, token, c)
    out = ok_json(run("--json", "key", "rotate", c["agent_id"]))
    assert out["revoked"] == 1
    assert_error(create_session(dbmode, key), 401, "invalid_agent_key")
    got = until_every_process(dbmode, log, authz_pids, token, c, 200,
                              "ok (cached)")
    assert set(got) == {200}, got


def test_session_end_by_otas_admin_twice_and_unknown(run, dbmode, keys, pg):
    token, c, _ = new_session(dbmode, keys)
    sid = c["agent_session_id"]
    first = ok_json(run("--json", "session", "end", sid))
    assert first["changed"] is True and first["session_id"] == sid
    again = ok_json(run("--json", "session", "end", sid))
    assert again["changed"] is False
    assert again["ended_at"] == first["ended_at"]
    r = run("session", "end", str(uuid.uuid4()))
    assert r.returncode == 1 and "no session" in r.stderr, r
    r = run("session", "end", "not-a-uuid")
    assert r.returncode == 2, r


def test_agent_enable_lets_its_sessions_pass_again(dbmode, keys, run):
    token, c, _ = new_session(dbmode, keys)
    assert call(dbmode, token).status == 200
    ok(run("agent", "disable", c["agent_id"]))
    assert call(dbmode, token).status == 401
    ok(run("agent", "enable", c["agent_id"]))
    assert call(dbmode, token).status == 200


# --- behind every server kind's authorizer hook ----------------------------

KIND_TRIES = 10


@pytest.mark.parametrize("kind", authz_servers.kinds())
def test_database_mode_refuses_an_ended_session_behind_every_server(
        kind, workdir, app, fast_keys):
    env = dict(app.env, OTAS_AUTHZ_CHECK_DB="1",
               OTAS_AUTHZ_CACHE_SECONDS="3600")
    with authz_servers.start_private(
            kind, os.path.join(workdir, "session-end-" + kind),
            stack.App(app.build, env)) as srv:
        passed = []
        for i in range(KIND_TRIES):
            token, c, _ = new_session(srv, fast_keys)
            got = burst(srv, token) + burst(srv, token)
            assert set(got) == {200}, got
            assert end(srv, token).json() == ENDED
            first = call(srv, token).status
            got = burst(srv, token)
            if first != 401 or set(got) != {401}:
                passed.append((i, first, got))
        assert passed == [], passed


# --- the listening connection cut -----------------------------------------

@pytest.fixture(scope="module")
def cut_proxy(pg):
    with fault_proxy.FaultProxy(pg.port) as p:
        yield p


@pytest.fixture(scope="module")
def proxied_dbmode(workdir, app, cut_proxy):
    """As dbmode, with every database connection through the proxy."""
    env = dict(app.env, OTAS_AUTHZ_CHECK_DB="1",
               OTAS_AUTHZ_CACHE_SECONDS="3600",
               OTAS_DATABASE_URL=cut_proxy.url(user=postgres.RUNTIME_ROLE))
    srv = authz_servers.start_private(
        "lighttpd", os.path.join(workdir, "session-end-cut"),
        stack.App(app.build, env))
    try:
        yield srv
    finally:
        srv.stop()


def cut_every_connection(proxy):
    """Closes every connection through the proxy and waits until each is
    closed (new ones pass)."""
    before = [t for t in proxy.threads if t.is_alive()]
    proxy.drop_all()
    for t in before:
        t.join(timeout=10)
        assert not t.is_alive(), "a proxied connection stayed open"


def test_listening_connection_cut_still_refuses_an_ended_session(
        proxied_dbmode, cut_proxy, fast_keys, run):
    srv = proxied_dbmode
    pids = set(srv.program_pids("otas-authz"))
    assert len(pids) >= 2, pids
    log = Log(srv)
    for _ in range(20):
        token, c, _ = new_session(srv, fast_keys)
        pass_through_every_cache(srv, log, pids, token, c)
        cut_every_connection(cut_proxy)
        # Straight to PostgreSQL: the notification goes to no listener.
        ok(run("session", "end", c["agent_session_id"]))
        assert call(srv, token).status == 401
        got = until_every_process(srv, log, pids, token, c, 401)
        assert set(got) == {401}, got
