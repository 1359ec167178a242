"""The readiness check, GET /api/agent/v1/health/, routed to otas-session by
every example configuration: 200 {"status": 1, "status_description":
"ready"} while the database answers and holds the newest migration this
build knows; 503 service_unavailable with the database stopped, 503
schema_not_current with the schema behind; never a session; and each
process asks the database at most once a second, counted in PostgreSQL's
own statement log.
"""

import math
import os
import re
import time

import pytest

from harness import postgres
from harness import stack
from harness.otas_http import (assert_common_headers, assert_error,
                               assert_unrouted, request)

HEALTH_PATH = "/api/agent/v1/health/"
READY = {"status": 1, "status_description": "ready"}


def health(server, method="GET", **kw):
    return request(server, method=method, path=HEALTH_PATH, **kw)


def until_status(server, status, timeout=20):
    """Polls until an answer has this status (a process remembers its last
    verdict for a second, and a server may run several processes)."""
    deadline = time.monotonic() + timeout
    while True:
        resp = health(server)
        if resp.status == status or time.monotonic() > deadline:
            return resp
        time.sleep(0.2)


def session_count(pg):
    return pg.scalar("SELECT count(*) FROM agent_session")


def test_health_is_200_ready_while_the_database_answers(server):
    resp = until_status(server, 200)
    assert resp.status == 200, resp
    assert_common_headers(resp)
    assert resp.json() == READY


def test_health_answers_with_a_query_string_as_load_balancers_send(server):
    resp = request(server, method="GET", path=HEALTH_PATH + "?from=lb")
    assert resp.status == 200, resp
    assert resp.json() == READY


def test_health_never_creates_a_session_whatever_is_sent(server, pg, keys):
    key = keys.make()
    n = session_count(pg)
    for method in ("GET", "POST", "PUT"):
        body = None if method == "GET" else b'{"meta": {"via": "health"}}'
        resp = health(server, method=method,
                      headers=[("X-OTAS-AGENT-KEY", key.full),
                               ("Content-Type", "application/json")],
                      body=body)
        assert resp.status == 200, resp
        assert resp.json() == READY
    assert session_count(pg) == n


@pytest.mark.parametrize("path", [HEALTH_PATH + "x", HEALTH_PATH.rstrip("/")],
                         ids=["below", "no_trailing_slash"])
def test_paths_near_health_are_not_found_and_make_no_session(
        server, pg, keys, path):
    """Every example routes the check's one path exactly: a path below it
    or without its slash gets the server's not-found, even with a key."""
    key = keys.make()
    resp = request(server, path=path,
                   headers=[("X-OTAS-AGENT-KEY", key.full)], body=b"{}")
    assert_unrouted(server, resp)
    assert pg.scalar("SELECT count(*) FROM agent_session WHERE"
                     " agent_key_id = %s", (key.key_id,)) == 0


def test_dot_segments_are_answered_as_the_server_routed_them(
        server, pg, keys):
    """The server removes dot segments before routing; REQUEST_URI keeps
    them.  What the server routed to the session endpoint makes a session
    (it once answered the readiness check), and the other way round."""
    key = keys.make()
    resp = request(server, path=HEALTH_PATH + "../session/create/",
                   headers=[("X-OTAS-AGENT-KEY", key.full),
                            ("Content-Type", "application/json")],
                   body=b'{"meta": {"via": "dots"}}')
    assert resp.status == 200, resp
    assert resp.json()["status_description"] == "agent_session_created"
    assert pg.scalar("SELECT count(*) FROM agent_session WHERE"
                     " agent_key_id = %s", (key.key_id,)) == 1
    resp = request(server, method="GET",
                   path=stack.SESSION_PATH + "../../health/")
    assert resp.status == 200 and resp.json() == READY, resp


def test_the_session_endpoint_still_refuses_get_with_405(server):
    assert_error(request(server, method="GET"), 405, "method_not_allowed")


def test_health_is_503_schema_not_current_with_the_schema_behind(server, pg):
    top = pg.query("SELECT version, name, applied_at FROM"
                   " otas_schema_migrations ORDER BY version DESC LIMIT 1")
    assert top, "no migration recorded"
    pg.query("DELETE FROM otas_schema_migrations WHERE version = %s",
             (top[0][0],))
    try:
        assert_error(until_status(server, 503), 503, "schema_not_current")
    finally:
        pg.query("INSERT INTO otas_schema_migrations (version, name,"
                 " applied_at) VALUES (%s, %s, %s)", top[0])
    assert until_status(server, 200).status == 200


def test_health_is_503_service_unavailable_with_the_database_stopped(
        server, pg):
    assert until_status(server, 200).status == 200
    pg.stop()
    try:
        resp = until_status(server, 503)
        assert_error(resp, 503, "service_unavailable")
        assert resp.header("Retry-After") == "1"
    finally:
        pg.start()
    assert until_status(server, 200).status == 200


# --- at most one question per second per process --------------------------

# Every kind but plain CGI, where each request is a process of its own.
PERSISTENT_KINDS = [k for k in stack.server_kinds() if k != "apache-cgi"]

SCHEMA_QUERY = re.compile(r"\[(\d+)\] LOG:  execute [^:]*: SELECT .*"
                          r"FROM otas_schema_migrations")


@pytest.fixture
def logged_runtime_role(pg):
    """PostgreSQL logs every statement of the runtime role's new
    connections (so only of the private server started afterwards)."""
    pg.query("ALTER ROLE %s SET log_statement = 'all'" % postgres.RUNTIME_ROLE)
    yield
    pg.query("ALTER ROLE %s RESET log_statement" % postgres.RUNTIME_ROLE)


def log_size(pg):
    return os.path.getsize(pg.logfile)


def schema_questions_by_backend(pg, mark):
    """Backend PID -> how many readiness questions it ran since mark.
    Each program process holds one connection, so one backend each."""
    with open(pg.logfile, errors="replace") as f:
        f.seek(mark)
        text = f.read()
    counts = {}
    for m in SCHEMA_QUERY.finditer(text):
        counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts


@pytest.mark.parametrize("kind", PERSISTENT_KINDS)
def test_health_asks_the_database_at_most_once_a_second_per_process(
        kind, workdir, app, pg, logged_runtime_role):
    with stack.start_private(stack.SERVERS[kind],
                             os.path.join(workdir, "health-" + kind),
                             app) as srv:
        mark = log_size(pg)
        polls = 0
        t0 = time.monotonic()
        # Long enough for several remembered answers to go stale.
        while time.monotonic() - t0 < 2.5:
            assert health(srv).status == 200
            polls += 1
        elapsed = time.monotonic() - t0
        time.sleep(0.3)     # the last statement's log line
        counts = schema_questions_by_backend(pg, mark)
    assert counts, "no readiness question reached the database"
    # A process asks when its remembered answer is a second old: over
    # `elapsed` seconds that is at most ceil(elapsed) + 1 times.
    bound = math.ceil(elapsed) + 1
    assert max(counts.values()) <= bound, (counts, elapsed)
    assert sum(counts.values()) < polls, counts
