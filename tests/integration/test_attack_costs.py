"""What an attacker who knows a key's prefix can and cannot do with wrong
secrets for a key hashed with Django's 260 000 PBKDF2 iterations: he may
make the key's first verification in a process wait its turn in the
host's slow-hash budget, but never lock its owner out, and a key
already verified keeps answering while the attack goes on.  A hash whose
turn is too far away is answered 503 to retry, never 401.  The bound on
the CPU those hashes take is tests/unit/test_hashbudget.c's subject.

The server has one FastCGI process and two threads in it, so the owner is never queued behind a
guess in the web server.
"""

import os
import threading
import time

import pytest

from harness.otas_http import assert_error, create_session
from harness.private_server import start_private

LEGACY = 260000
GUESSES = 8


@pytest.fixture(scope="module")
def one_proc(workdir, app):
    with start_private(os.path.join(workdir, "attack"), app,
                       {"OTAS_THREADS": "2"}, max_procs=1) as srv:
        yield srv


def wrong_secret(key, i):
    return "agent_%s_wrong%04dsecretXXXXXXXXXXXXXXXXXXXXXXXXXXXX" % (
        key.prefix, i)


def test_wrong_guesses_never_lock_out_the_owner(one_proc, keys):
    key = keys.make(iterations=LEGACY, secret="legacy-password")
    for i in range(GUESSES):
        assert_error(create_session(one_proc, wrong_secret(key, i), "{}",
                                    timeout=60), 401, "invalid_agent_key")
    # A short secret keeps its slow hash, so every later guess costs one
    # too, and still the owner gets in.
    assert create_session(one_proc, key, "{}", timeout=60).status == 200
    for i in range(GUESSES, 2 * GUESSES):
        assert_error(create_session(one_proc, wrong_secret(key, i), "{}",
                                    timeout=60), 401, "invalid_agent_key")
    assert create_session(one_proc, key, "{}", timeout=60).status == 200


def test_guesses_in_parallel_never_lock_out_the_owner(one_proc, keys):
    key = keys.make(iterations=LEGACY, secret="another-legacy-password")
    answers = []

    def guess(i):
        answers.append(create_session(one_proc, wrong_secret(key, i), "{}",
                                      timeout=60).status)

    threads = [threading.Thread(target=guess, args=(i,))
               for i in range(GUESSES)]
    for th in threads:
        th.start()
    owner = create_session(one_proc, key, "{}", timeout=60)
    for th in threads:
        th.join(timeout=60)
    assert owner.status == 200, owner
    assert sorted(set(answers)) == [401], answers


def test_a_verified_key_keeps_answering_while_its_prefix_is_attacked(
        one_proc, keys):
    key = keys.make(iterations=LEGACY, secret="third-legacy-password")
    assert create_session(one_proc, key, "{}").status == 200
    stop = threading.Event()
    attack = []

    def attacker():
        i = 100
        while not stop.is_set():
            r = create_session(one_proc, wrong_secret(key, i), "{}",
                               timeout=60)
            attack.append(r.status)
            i += 1

    th = threading.Thread(target=attacker, daemon=True)
    th.start()
    try:
        owner = [create_session(one_proc, key, "{}", timeout=60)
                 for _ in range(20)]
    finally:
        stop.set()
        th.join(timeout=60)
    assert attack and set(attack) == {401}, set(attack)
    assert all(r.status == 200 for r in owner), owner


@pytest.fixture(scope="module")
def tiny_budget(workdir, app):
    """A budget of 1000 iterations a second, and hashes over 100 slow: a
    key of 3000 iterations costs three seconds of it."""
    with start_private(os.path.join(workdir, "tiny-budget"), app,
                       {"OTAS_THREADS": "4", "OTAS_SLOW_HASH_RATE": "1000",
                        "OTAS_SLOW_HASH_ITERATIONS": "100"},
                       max_procs=1) as srv:
        yield srv


def test_a_budget_too_far_behind_answers_503_to_retry_never_401(
        tiny_budget, keys):
    key = keys.make(iterations=3000, secret="short-password")
    answers = []

    def guess(i):
        answers.append(create_session(tiny_budget, wrong_secret(key, i),
                                      "{}", timeout=60))

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    statuses = sorted(r.status for r in answers)
    # One hashes at once; the rest, from the same address and two seconds
    # or more behind it, are told to retry (past HASHBUDGET_SHARED_WAIT the
    # queue is kept for addresses with nothing queued: hashbudget.h).
    assert statuses.count(401) >= 1 and 503 in statuses, statuses
    assert set(statuses) <= {401, 503}, statuses
    for r in answers:
        if r.status == 503:
            assert_error(r, 503, "service_unavailable")
            assert r.header("Retry-After") is not None
    # The owner, retrying as told, gets in.
    for _ in range(20):
        owner = create_session(tiny_budget, key, "{}", timeout=60)
        if owner.status != 503:
            break
        time.sleep(1)
    assert owner.status == 200, owner
