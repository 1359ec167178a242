"""What an attacker's requests cost (SPEC §3): a wrong secret for the known
prefix of a key hashed with Django's 260 000 PBKDF2 iterations buys at most
OTAS_SLOW_HASH_FAILURES slow hashes per prefix and process a minute, and a
key already verified keeps answering 200 quickly while the attack goes on.

Timings are compared with each other in the same run, never with an
absolute number: the first wrong secret's answer (one slow hash) is the
yardstick, and "fast" means well under a third of it.  The server has one
FastCGI process, so the per-process budget is the whole budget.
"""

import os
import threading
import time

import pytest

from otas_http import assert_error, create_session
from private_server import start_private

DJANGO_ITERATIONS = 260000
BUDGET = 3


@pytest.fixture(scope="module")
def one_proc(workdir, app):
    srv = start_private(os.path.join(workdir, "attack"), app,
                        {"OTAS_SLOW_HASH_FAILURES": str(BUDGET)},
                        max_procs=1)
    try:
        yield srv
    finally:
        srv.stop()


def timed(server, key, body="{}"):
    t0 = time.monotonic()
    resp = create_session(server, key, body, timeout=60)
    return resp, time.monotonic() - t0


def wrong_secret(key, i):
    return "agent_%s_wrong%04dsecretXXXXXXXXXXXXXXXXXXXXXXXXXXXX" % (
        key.prefix, i)


def fast_baseline(server):
    """A refusal that costs no hash at all: an unknown prefix."""
    times = []
    for i in range(5):
        resp, t = timed(server, "agent_nosuchprefix%d_secret" % i)
        assert_error(resp, 401, "invalid_agent_key")
        times.append(t)
    return sorted(times)[2]


def test_wrong_secrets_stop_costing_a_slow_hash_after_the_budget(
        one_proc, keys):
    key = keys.make(iterations=DJANGO_ITERATIONS)
    base = fast_baseline(one_proc)
    times = []
    for i in range(BUDGET + 6):
        resp, t = timed(one_proc, wrong_secret(key, i))
        assert_error(resp, 401, "invalid_agent_key")
        times.append(t)
    first = times[0]
    # The yardstick is real: the first wrong secret cost a slow hash.
    assert first > 5 * base, (first, base)
    # Within the budget each wrong secret costs about one slow hash...
    assert all(t > first / 3 for t in times[:BUDGET]), times
    # ...after it, none does.
    assert all(t < first / 3 for t in times[BUDGET:]), times
    print("unknown prefix %.4fs, slow hash %.4fs, after budget %r" % (
        base, first, ["%.4f" % t for t in times[BUDGET:]]))


def test_a_verified_key_is_never_delayed_by_an_attack_on_its_prefix(
        one_proc, keys):
    key = keys.make(iterations=DJANGO_ITERATIONS)
    resp, first = timed(one_proc, key)        # verified: one slow hash
    assert resp.status == 200, resp
    # Interleaved: while the attacker's first wrong secrets still get
    # their slow hash, and after the budget is spent.
    for i in range(BUDGET + 4):
        resp, _ = timed(one_proc, wrong_secret(key, i))
        assert_error(resp, 401, "invalid_agent_key")
        resp, t = timed(one_proc, key)
        assert resp.status == 200, resp
        assert t < first / 3, (i, t, first)

    # Concurrently: an attacker thread hammers the prefix while the owner
    # keeps creating sessions.
    stop = threading.Event()
    attack = []

    def attacker():
        i = 100
        while not stop.is_set():
            r, _ = timed(one_proc, wrong_secret(key, i))
            attack.append(r.status)
            i += 1

    th = threading.Thread(target=attacker, daemon=True)
    th.start()
    try:
        owner = [timed(one_proc, key) for _ in range(20)]
    finally:
        stop.set()
        th.join(timeout=60)
    assert attack and set(attack) == {401}, set(attack)
    assert all(r.status == 200 for r, _ in owner), owner
    assert all(t < first / 3 for _, t in owner), [t for _, t in owner]
