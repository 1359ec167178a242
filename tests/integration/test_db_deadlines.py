"""Every wait on the database ends by the deadline (OTAS_DB_DEADLINE_MS):
a PostgreSQL that goes silent right after a reconnect, or stops answering
altogether (a freeze), costs a request one bounded wait and a 503, never a
hang; SIGTERM still ends the process; no row is written for a request that
was answered 503 by the deadline; and the program recovers by itself once
the database answers again.

The database is reached through fault_proxy, and lighttpd runs a single
otas-session process (and a single otas-authz), so the request that meets
the fault and the one queued behind it meet the same process.  Waits in
these tests are bounded by the client's timeout; the times measured are
printed for the README, never compared with a threshold.
"""

import os
import re
import threading
import time

import pytest

from harness import processes
from harness.otas_http import assert_error, create_session, request
from harness.private_server import start_private
from harness.stack import sessions_of

DEADLINE_MS = 1500
STATEMENT_TIMEOUT_MS = 1000
# Long enough that a bounded wait always ends inside it, short enough that
# an unbounded one fails the test instead of hanging the suite.
CLIENT_TIMEOUT = 20
PROTECTED = "/api/some/v1/endpoint/"


@pytest.fixture(scope="module")
def single(workdir, proxied_app):
    with start_private(os.path.join(workdir, "deadlines"), proxied_app, {
        "OTAS_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS),
        "OTAS_DB_DEADLINE_MS": str(DEADLINE_MS),
        "OTAS_CONNECT_TIMEOUT": "1",
        "OTAS_AUTHZ_CHECK_DB": "1",
        "OTAS_AUTHZ_CACHE_SECONDS": "0",
    }, max_procs=1) as srv:
        yield srv


def timed(fn, *args, **kw):
    t0 = time.monotonic()
    resp = fn(*args, **kw)
    return resp, time.monotonic() - t0


def warm(server, key):
    resp = create_session(server, key, "{}", timeout=CLIENT_TIMEOUT)
    assert resp.status == 200, resp
    return resp.json()["response"]["jwt_token"]


def in_thread(fn, *args, **kw):
    """Runs fn in a thread; returns (thread, box) with box["resp"] or
    box["error"] once joined."""
    box = {}

    def run():
        try:
            box["resp"] = fn(*args, **kw)
        except OSError as e:
            box["error"] = repr(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def joined(t, box):
    t.join(CLIENT_TIMEOUT + 5)
    assert not t.is_alive(), "the request never ended"
    assert "error" not in box, "no answer: %s" % box.get("error")
    return box["resp"]


def go_silent(proxy):
    """The database stops answering, also on the connections open now."""
    proxy.set_mode("silent")
    proxy.drop_all()


def pending_create(server, key):
    """A session request under way in a thread."""
    return in_thread(create_session, server, key, "{}",
                     timeout=CLIENT_TIMEOUT)


def test_silent_database_after_reconnect_is_503_and_the_queued_request_too(
        single, healthy, pg, keys):
    key = keys.make()
    warm(single, key)
    before = sessions_of(pg, key.agent_id)
    mark = single.log_mark()
    go_silent(healthy)
    first = pending_create(single, key)
    time.sleep(0.2)
    second = pending_create(single, key)
    t0 = time.monotonic()
    assert_error(joined(*first), 503, "service_unavailable")
    assert_error(joined(*second), 503, "service_unavailable")
    print("silent after reconnect: two queued 503s in %.2f s"
          % (time.monotonic() - t0))
    # The prepare on the new connection was cut by the deadline: its log
    # line says so (libpq itself has nothing to say then).
    log = single.log_since(mark)
    assert "database: prepare: database answer past the deadline" in log, log
    # Once, as the prepare's: not again under the statement's name.
    assert not re.search(r"database: (?!prepare:)\S+: database answer past "
                         r"the deadline", log), log
    assert not re.search(r"database: [^:\n]+: *$", log, re.MULTILINE), log
    healthy.set_mode("pass")
    resp = create_session(single, key, "{}", timeout=CLIENT_TIMEOUT)
    assert resp.status == 200, resp
    # The two 503s left no row behind, the 200 exactly one.
    assert sessions_of(pg, key.agent_id) == before + 1


def test_frozen_database_is_503_after_one_wait_without_a_reconnect(
        single, healthy, pg, keys):
    key = keys.make()
    warm(single, key)
    before = sessions_of(pg, key.agent_id)
    healthy.set_mode("freeze")
    accepted = healthy.accepted
    resp, seconds = timed(create_session, single, key, "{}",
                          timeout=CLIENT_TIMEOUT)
    assert_error(resp, 503, "service_unavailable")
    assert resp.header("Retry-After") == "1"
    print("freeze: 503 after %.2f s (OTAS_DB_DEADLINE_MS=%d)"
          % (seconds, DEADLINE_MS))
    # The deadline covers the whole request: no second attempt was started
    # after the first wait used it up.
    assert healthy.accepted == accepted
    healthy.set_mode("pass")
    healthy.drop_all()
    resp = create_session(single, key, "{}", timeout=CLIENT_TIMEOUT)
    assert resp.status == 200, resp
    assert sessions_of(pg, key.agent_id) == before + 1


def test_sigterm_ends_a_process_waiting_on_a_silent_database(
        single, healthy, keys):
    key = keys.make()
    warm(single, key)
    pids = set(single.program_pids())
    assert len(pids) == 1, pids
    pid = pids.pop()
    go_silent(healthy)
    pending = pending_create(single, key)
    time.sleep(0.3)
    os.kill(pid, 15)
    deadline = time.monotonic() + CLIENT_TIMEOUT
    while processes.pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not processes.pid_alive(pid), "otas-session ignored SIGTERM"
    # The request in hand was answered before the process went.
    assert_error(joined(*pending), 503, "service_unavailable")


def test_authz_database_mode_is_503_when_the_database_goes_silent(
        single, healthy, pg, keys):
    key = keys.make()
    token = warm(single, key)
    ok = request(single, path=PROTECTED, body="{}", timeout=CLIENT_TIMEOUT,
                 headers=[("X-OTAS-AGENT-SESSION-TOKEN", token)])
    assert ok.status == 200, ok
    go_silent(healthy)
    resp, seconds = timed(request, single, path=PROTECTED, body="{}",
                          timeout=CLIENT_TIMEOUT,
                          headers=[("X-OTAS-AGENT-SESSION-TOKEN", token)])
    assert_error(resp, 503, "service_unavailable")
    print("authz, silent database: 503 after %.2f s" % seconds)
    healthy.set_mode("pass")
    again = request(single, path=PROTECTED, body="{}", timeout=CLIENT_TIMEOUT,
                    headers=[("X-OTAS-AGENT-SESSION-TOKEN", token)])
    assert again.status == 200, again
