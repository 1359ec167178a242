"""Database faults under load (README, The endpoint: what a 503 means):
PostgreSQL stopped while requests are flowing, and a lock held past
statement_timeout.  Each test runs its own lighttpd (the example, with short
timeouts) and a few threads of back-to-back requests, and checks what a
client and an operator would see:

  - while the database cannot answer, every request is 503
    service_unavailable with Retry-After, each within the bound that
    OTAS_STATEMENT_TIMEOUT_MS and OTAS_CONNECT_TIMEOUT set;
  - no request hangs or is dropped, no otas-session process dies or is
    restarted (the same PIDs before and after);
  - when the database is back, requests succeed again within 2 s, with
    nothing restarted by hand;
  - the rows stored match the 200s answered: none acknowledged and lost,
    none stored unacknowledged beyond the requests in flight at a fault;
  - a database that refuses connections is named in the log in libpq's
    own words, quotes and all.
"""

import os
import time

import pytest

from harness import processes
from harness.otas_http import assert_error, create_session
from harness.private_server import Load, start_private
from harness.stack import sessions_of

STATEMENT_TIMEOUT_MS = 500
CONNECT_TIMEOUT = 1
# One statement (the key is cached): the server's statement_timeout, the
# program's own deadline a second past it, and a reconnection; plus a
# second for a loaded two-core machine.
BOUND = 2 * CONNECT_TIMEOUT + STATEMENT_TIMEOUT_MS / 1000 + 1 + 1
RECOVERY = 2.0
THREADS = 4


@pytest.fixture(scope="module")
def faulty(workdir, app):
    with start_private(os.path.join(workdir, "faults"), app, {
        "OTAS_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS),
        "OTAS_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
    }) as srv:
        yield srv


def warm(server, key):
    """Every process has answered (and cached the key) before the fault."""
    for _ in range(3 * THREADS):
        resp = create_session(server, key, "{}", timeout=30)
        assert resp.status == 200, resp


def assert_only_200_or_503(load):
    assert not load.errors, "requests failed at the socket: %r" % \
        load.errors[:5]
    other = [a for a in load.answers if a.status not in (200, 503)]
    assert not other, "answers other than 200/503: %r" % other[:5]
    for a in load.answers:
        if a.status == 503:
            assert a.code == "service_unavailable", a
            assert a.retry_after.isdigit(), a


def assert_503_between(load, start, end, what):
    """Only 200 or 503 at all, and some requests made wholly between start
    and end, each a 503: those requests."""
    assert_only_200_or_503(load)
    during = [a for a in load.answers if a.start >= start and a.end <= end]
    assert during, "no request was made " + what
    assert all(a.status == 503 for a in during), during[:5]
    return during


def assert_within_bound(load):
    slow = [a for a in load.answers if a.seconds > BOUND]
    assert not slow, "answers past %.1f s: %r" % (BOUND, slow[:5])


def assert_rows_match(pg, key, before, load):
    """Nothing acknowledged lost; nothing stored unacknowledged beyond one
    request in flight per client thread at the fault."""
    stored = sessions_of(pg, key.agent_id) - before
    acknowledged = load.count(200)
    assert stored >= acknowledged, (stored, acknowledged)
    assert stored - acknowledged <= THREADS, (stored, acknowledged)


def assert_recovered(load, back):
    """Requests sent RECOVERY seconds after the database came back all
    succeeded, and the first success came within RECOVERY."""
    late = [a for a in load.answers if a.start >= back + RECOVERY]
    assert late, "no request after recovery"
    assert all(a.status == 200 for a in late), \
        [a for a in late if a.status != 200][:5]
    first = min((a.end for a in load.answers
                 if a.start >= back and a.status == 200), default=None)
    assert first is not None and first - back <= RECOVERY, first


def test_database_stopped_under_load_is_503_then_200_without_restart(
        faulty, pg, keys):
    key = keys.make()
    warm(faulty, key)
    pids = set(faulty.program_pids())
    assert pids
    before = sessions_of(pg, key.agent_id)
    with Load(faulty, key, THREADS) as load:
        time.sleep(1)
        pg.stop()
        try:
            down = time.monotonic()
            time.sleep(3)
        finally:
            restarting = time.monotonic()
            pg.start()
        back = time.monotonic()
        time.sleep(RECOVERY + 2)
    assert_503_between(load, down + 0.2, restarting,
                       "while the database was down")
    assert_within_bound(load)
    assert_recovered(load, back)
    assert_rows_match(pg, key, before, load)
    assert set(faulty.program_pids()) == pids, "a worker died or was restarted"


def test_lock_past_statement_timeout_is_503_within_the_bound(faulty, pg,
                                                             keys):
    key = keys.make()
    warm(faulty, key)
    pids = set(faulty.program_pids())
    before = sessions_of(pg, key.agent_id)
    with pg.connect(autocommit=False) as conn:
        with Load(faulty, key, THREADS) as load:
            time.sleep(0.5)
            with conn.cursor() as cur:
                cur.execute("SET lock_timeout = '10s'")
                cur.execute("LOCK TABLE agent_session IN ACCESS EXCLUSIVE"
                            " MODE")
            locked = time.monotonic()
            time.sleep(3)
            unlocking = time.monotonic()
            conn.rollback()
            back = time.monotonic()
            time.sleep(RECOVERY + 1)
    during = assert_503_between(load, locked, unlocking,
                                "while the table was locked")
    # The insert waited for the lock until statement_timeout, not longer.
    assert all(a.seconds >= STATEMENT_TIMEOUT_MS / 1000 * 0.9
               for a in during), during[:5]
    assert_within_bound(load)
    assert_recovered(load, back)
    assert_rows_match(pg, key, before, load)
    assert set(faulty.program_pids()) == pids, "a worker died or was restarted"


def test_requests_before_the_database_still_answer_while_it_is_down(
        faulty, pg, keys):
    """Method, key syntax and JSON are judged without the database."""
    pg.stop()
    try:
        assert_error(create_session(faulty, "agent_x", "{}"), 401,
                     "invalid_agent_key")
        assert_error(create_session(faulty, "agent_ab_cd", "[1]"), 400,
                     "invalid_json")
        t0 = time.monotonic()
        resp = create_session(faulty, "agent_nosuchprefix_secret", "{}")
        assert_error(resp, 503, "service_unavailable")
        assert time.monotonic() - t0 <= BOUND
    finally:
        pg.start()


def test_log_names_a_refusing_database_as_libpq_does(workdir, app, keys):
    port = processes.free_port()
    url = "postgresql://otas_runtime@127.0.0.1:%d/otas" % port
    with start_private(os.path.join(workdir, "faults-refused"), app, {
            "OTAS_DATABASE_URL": url,
            "OTAS_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT)}) as srv:
        mark = srv.log_mark()
        assert_error(create_session(srv, keys.make(), "{}"), 503,
                     "service_unavailable")
        log = srv.log_since(mark)
    assert ('database: connect: connection to server at "127.0.0.1", '
            'port %d failed: Connection refused' % port) in log, log
