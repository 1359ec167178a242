"""Failover to a synchronous standby under load.  otas-session is given a
libpq multi-host URL naming the primary and the standby with
target_session_attrs=read-write; the primary is stopped with -m immediate
(a crash, as far as recovery is concerned) while requests flow, and the
standby is promoted.  Every session acknowledged with a 200 is on the new
primary, every answer is 200 or 503, and requests succeed again once the
standby has taken over, with nothing restarted by hand.
"""

import os
import time

import jwt
import pytest

from harness import stack
from harness.otas_http import create_session
from harness.private_server import Load, start_private

THREADS = 4
CLIENT_TIMEOUT = 20


@pytest.fixture(scope="module")
def served(workdir, app, pair):
    with start_private(os.path.join(workdir, "failover-web"), app, {
        "OTAS_DATABASE_URL": pair.url(attrs="read-write"),
        "OTAS_STATEMENT_TIMEOUT_MS": "1000",
        "OTAS_CONNECT_TIMEOUT": "1",
    }) as srv:
        yield srv


def session_id(token):
    return jwt.decode(token, options={"verify_signature": False})[
        "agent_session_id"]


def until_200(server, key, seconds=CLIENT_TIMEOUT):
    """Sends requests until one is a 200, at most for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if create_session(server, key, "{}", timeout=CLIENT_TIMEOUT) \
                .status == 200:
            return True
        time.sleep(0.1)
    return False


def test_primary_crash_and_promotion_lose_no_acknowledged_session(
        pair, served):
    key = stack.KeyFactory(pair.primary).make()
    pair.wait_synchronous()
    assert until_200(served, key)
    with Load(served, key, THREADS, timeout=CLIENT_TIMEOUT) as load:
        time.sleep(1)
        pair.primary.stop("immediate")
        crashed = time.monotonic()
        time.sleep(0.5)
        pair.promote()
        promoted = time.monotonic()
        assert until_200(served, key), "no 200 after the promotion"
        back = time.monotonic()
        time.sleep(1)
    assert not load.errors, load.errors[:5]
    assert {a.status for a in load.answers} <= {200, 503}, \
        [a for a in load.answers if a.status not in (200, 503)][:5]
    assert any(a.start < crashed and a.status == 200 for a in load.answers)
    # Requests sent once a 200 was seen again: all 200.
    late = [a for a in load.answers if a.start >= back]
    assert late and all(a.status == 200 for a in late), late[:5]
    stored = {r[0] for r in pair.standby.query(
        "SELECT id::text FROM agent_session WHERE agent_id = %s",
        (key.agent_id,))}
    # Each acknowledged session, with when it was asked for and answered
    # relative to the crash, should one be missing.
    lost = [(a.start - crashed, a.end - crashed, session_id(a.token))
            for a in load.answers if a.status == 200 and
            session_id(a.token) not in stored]
    assert not lost, ("acknowledged, then lost", lost, promoted - crashed)
    print("failover: %d answers, %d 503, 200 again %.2f s after promotion"
          % (len(load.answers), load.count(503), back - promoted))
