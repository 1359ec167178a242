"""A multi-host OTAS_DATABASE_URL with a frozen host in it: the host
accepts the connection and never answers (a partitioned old primary, the
classic failover case).  otas-session gives each host of the list its share
of what is left of OTAS_DB_DEADLINE_MS, so a frozen first host costs a
request part of the deadline and the next host answers it; with every host
frozen the request is 503 once the deadline is used up.  A reconnect starts
at the host that answered last, so the frozen host is not waited on again.

Both hosts are fault_proxy instances in front of the one PostgreSQL, so a
test can freeze either and count the connections each accepted.
OTAS_CONNECT_TIMEOUT is longer than the deadline: a host's time must come
from the deadline, not from it.  lighttpd runs one otas-session process,
so every request meets the same connection.
"""

import os
import time

import pytest

from harness import fault_proxy
from harness import postgres
from harness.admin_cli import failed, ok_json
from harness.otas_http import assert_error, create_session
from harness.private_server import start_private
from harness.stack import sessions_of

DEADLINE_MS = 2000
# A bound that only a request waiting past the deadline (each host its own
# OTAS_CONNECT_TIMEOUT, say) can exceed; the client's own timeout is longer.
LATE = DEADLINE_MS / 1000 + 5
CLIENT_TIMEOUT = 30


@pytest.fixture(scope="module")
def second(pg):
    with fault_proxy.FaultProxy(pg.port) as p:
        yield p


@pytest.fixture
def hosts(healthy, second):
    """The two hosts of the URL, first and second, passing everything with
    no connection open at the start and at the end of the test."""
    second.set_mode("pass")
    second.drop_all()
    yield healthy, second
    second.set_mode("pass")
    second.drop_all()


@pytest.fixture(scope="module")
def served(workdir, app, pg, proxy, second):
    url = ("postgresql://%s@%s,%s/%s?target_session_attrs=read-write"
           "&sslmode=disable&gssencmode=disable" % (
               postgres.RUNTIME_ROLE, proxy.hostport, second.hostport,
               pg.dbname))
    with start_private(os.path.join(workdir, "frozen-host"), app, {
        "OTAS_DATABASE_URL": url,
        "OTAS_STATEMENT_TIMEOUT_MS": "1000",
        "OTAS_DB_DEADLINE_MS": str(DEADLINE_MS),
        "OTAS_CONNECT_TIMEOUT": "10",
    }, max_procs=1) as srv:
        yield srv


def timed_create(server, key):
    t0 = time.monotonic()
    resp = create_session(server, key, "{}", timeout=CLIENT_TIMEOUT)
    return resp, time.monotonic() - t0


def test_frozen_first_host_is_passed_over_and_the_second_makes_the_session(
        served, hosts, pg, keys):
    first, second = hosts
    key = keys.make()
    first.set_mode("freeze")
    mark = served.log_mark()
    resp, seconds = timed_create(served, key)
    assert resp.status == 200, resp
    assert sessions_of(pg, key.agent_id) == 1
    assert first.accepted > 0 and second.accepted > 0
    # The log says which host did not answer.
    log = served.log_since(mark)
    assert ("database: connect to %s (host 1 of 2): no answer within its"
            " share of the deadline" % first.hostport) in log, log
    print("frozen first host: 200 after %.2f s (OTAS_DB_DEADLINE_MS=%d)"
          % (seconds, DEADLINE_MS))


def created_past_frozen_first(served, hosts, keys):
    """A key whose first session the second host made, the first frozen."""
    key = keys.make()
    hosts[0].set_mode("freeze")
    assert timed_create(served, key)[0].status == 200
    return key


def second_session(served, pg, key):
    """key's second session is a 200 and a row; how long it took."""
    resp, seconds = timed_create(served, key)
    assert resp.status == 200, resp
    assert sessions_of(pg, key.agent_id) == 2
    return seconds


def test_reconnect_starts_at_the_host_that_answered_last(
        served, hosts, pg, keys):
    first, second = hosts
    key = created_past_frozen_first(served, hosts, keys)
    tried_first = first.accepted
    second.drop_all()
    seconds = second_session(served, pg, key)
    assert first.accepted == tried_first, "waited on the frozen host again"
    print("reconnect past a frozen host: 200 after %.2f s" % seconds)


def test_first_host_is_tried_again_when_the_one_that_answered_freezes(
        served, hosts, pg, keys):
    first, second = hosts
    key = created_past_frozen_first(served, hosts, keys)
    first.set_mode("pass")
    second.set_mode("freeze")
    second.drop_all()
    seconds = second_session(served, pg, key)
    print("back to the first host: 200 after %.2f s" % seconds)


def test_every_host_frozen_is_503_by_the_deadline_after_trying_each(
        served, hosts, pg, keys):
    first, second = hosts
    key = keys.make()
    assert timed_create(served, key)[0].status == 200
    first.set_mode("freeze")
    second.set_mode("freeze")
    first.drop_all()
    second.drop_all()
    tried = (first.accepted, second.accepted)
    resp, seconds = timed_create(served, key)
    assert_error(resp, 503, "service_unavailable")
    assert first.accepted > tried[0] and second.accepted > tried[1], \
        "a host was never tried"
    assert seconds < LATE, "503 only after %.2f s" % seconds
    assert sessions_of(pg, key.agent_id) == 1
    print("every host frozen: 503 after %.2f s (OTAS_DB_DEADLINE_MS=%d)"
          % (seconds, DEADLINE_MS))


# otas-admin connects with libpq's own connect_timeout per host, a share of
# OTAS_DB_DEADLINE_MS; OTAS_CONNECT_TIMEOUT far longer than the deadline
# shows the wait comes from the deadline.
ADMIN_ENV = {"OTAS_DB_DEADLINE_MS": str(DEADLINE_MS),
             "OTAS_CONNECT_TIMEOUT": "60"}


def timed_admin(run, url, *args):
    t0 = time.monotonic()
    r = run(*args, url=url, env=ADMIN_ENV)
    return r, time.monotonic() - t0


def test_admin_fails_on_a_frozen_host_within_the_deadline(run, hosts, pg):
    first, _ = hosts
    first.set_mode("freeze")
    r, seconds = timed_admin(run, first.url(pg.dbname), "agent", "list")
    failed(r, 1, ("cannot connect to the database",))
    # Loose: the noisy machine may stretch it, not to OTAS_CONNECT_TIMEOUT.
    assert seconds < 3 * DEADLINE_MS / 1000, seconds


def test_admin_passes_over_a_frozen_first_host_to_the_second(run, hosts,
                                                              pg):
    first, second = hosts
    first.set_mode("freeze")
    url = ("postgresql://postgres@%s,%s/%s?sslmode=disable"
           "&gssencmode=disable" % (first.hostport, second.hostport,
                                    pg.dbname))
    env = dict(ADMIN_ENV, OTAS_DB_DEADLINE_MS="6000")
    t0 = time.monotonic()
    r = run("agent", "list", "--json", url=url, env=env)
    seconds = time.monotonic() - t0
    assert "agents" in ok_json(r)
    assert second.accepted >= 1
    assert seconds < 3 * 6, seconds
