"""The one retry after a lost answer is exact.  The program chooses the
session id before it inserts, so when the connection dies after PostgreSQL
committed the insert but before its confirmation arrived, the retry on a
fresh connection finds that row: the request gets its 200 and a token
naming that very row — never a 500, never a second row.  The same when
group commit (OTAS_THREADS > 1) put several requests in the statement that
lost its answer.

fault_proxy cuts the connection right after the server's CommandComplete
and ReadyForQuery of an insert (so the transaction has committed), before
the program reads them.
"""

import os
import threading

import jwt
import pytest

from harness.otas_http import create_session
from harness.private_server import start_private
from harness.stack import stored_hash

CLIENT_TIMEOUT = 20


def start(workdir, proxied_app, name, threads):
    return start_private(os.path.join(workdir, name), proxied_app,
                         {"OTAS_THREADS": str(threads)}, max_procs=1)


@pytest.fixture(scope="module")
def one_thread(workdir, proxied_app):
    with start(workdir, proxied_app, "retry-1", 1) as srv:
        yield srv


@pytest.fixture(scope="module")
def group_commit(workdir, proxied_app):
    with start(workdir, proxied_app, "retry-8", 8) as srv:
        yield srv


def session_ids(pg, key):
    return sorted(r[0] for r in pg.query(
        "SELECT id::text FROM agent_session WHERE agent_id = %s",
        (key.agent_id,)))


def token_session(resp, secret):
    assert resp.status == 200, resp
    token = resp.json()["response"]["jwt_token"]
    return jwt.decode(token, secret.value,
                      algorithms=["HS256"])["agent_session_id"]


def lose_first_answer(srv, proxy, key, body="{}", headers=()):
    """One request whose insert commits and whose answer the proxy cuts."""
    cuts = proxy.cuts_done
    proxy.set_mode("cut_insert")
    resp = create_session(srv, key, body, headers=headers,
                          timeout=CLIENT_TIMEOUT)
    assert proxy.cuts_done == cuts + 1, "the proxy never cut"
    return resp


def test_insert_committed_but_answer_lost_is_200_with_that_one_row(
        one_thread, healthy, pg, keys, secret):
    key = keys.make()
    assert create_session(one_thread, key, "{}").status == 200
    before = session_ids(pg, key)
    resp = lose_first_answer(one_thread, healthy, key, '{"meta": {"n": 1}}')
    sid = token_session(resp, secret)
    after = session_ids(pg, key)
    assert len(after) == len(before) + 1
    assert sid in after and sid not in before
    assert pg.scalar("SELECT meta::text FROM agent_session WHERE id = %s",
                     (sid,)) == '{"n": 1}'


def test_answer_lost_with_an_idempotency_key_is_200_once_and_replays(
        one_thread, healthy, pg, keys, secret):
    key = keys.make()
    assert create_session(one_thread, key, "{}").status == 200
    before = session_ids(pg, key)
    header = [("Idempotency-Key", '"lost-answer-1"')]
    sid = token_session(lose_first_answer(one_thread, healthy, key,
                                          headers=header), secret)
    assert session_ids(pg, key) == sorted(before + [sid])
    # The key's record names that session: a repeat answers it again.
    again = create_session(one_thread, key, "{}", headers=header,
                           timeout=CLIENT_TIMEOUT)
    assert token_session(again, secret) == sid
    assert session_ids(pg, key) == sorted(before + [sid])


def test_group_commit_with_its_answer_lost_is_200_for_each_row_once(
        group_commit, healthy, pg, keys, secret):
    key = keys.make()
    assert create_session(group_commit, key, "{}").status == 200
    before = session_ids(pg, key)
    cuts = healthy.cuts_done
    healthy.set_mode("cut_insert")
    answers = []
    lock = threading.Lock()

    def one():
        r = create_session(group_commit, key, "{}", timeout=CLIENT_TIMEOUT)
        with lock:
            answers.append(r)

    threads = [threading.Thread(target=one, daemon=True) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(CLIENT_TIMEOUT + 5)
    assert not any(t.is_alive() for t in threads), "a request never ended"
    assert healthy.cuts_done == cuts + 1, "the proxy never cut"
    assert sorted(r.status for r in answers) == [200] * 8, answers
    sids = sorted(token_session(r, secret) for r in answers)
    assert len(set(sids)) == 8
    assert session_ids(pg, key) == sorted(before + sids)


# A legacy key's first use also replaces its slow hash in the statement
# whose answer is lost: the retry finds the key under the new hash.

LEGACY = 260000     # the original backend's PBKDF2 iterations


def test_answer_lost_as_a_legacy_key_is_rehashed_is_200_with_one_row(
        one_thread, healthy, pg, keys, secret):
    key = keys.make(iterations=LEGACY)
    old = stored_hash(pg, key)
    sid = token_session(lose_first_answer(one_thread, healthy, key), secret)
    assert session_ids(pg, key) == [sid]
    assert stored_hash(pg, key) != old


def test_answer_lost_as_a_legacy_key_is_rehashed_with_an_idempotency_key(
        one_thread, healthy, pg, keys, secret):
    key = keys.make(iterations=LEGACY)
    old = stored_hash(pg, key)
    header = [("Idempotency-Key", '"lost-answer-rehash"')]
    sid = token_session(lose_first_answer(one_thread, healthy, key,
                                          headers=header), secret)
    assert session_ids(pg, key) == [sid]
    assert stored_hash(pg, key) != old
    again = create_session(one_thread, key, "{}", headers=header,
                           timeout=CLIENT_TIMEOUT)
    assert token_session(again, secret) == sid
    assert session_ids(pg, key) == [sid]
