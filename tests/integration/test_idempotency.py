"""Idempotency-Key on POST /api/agent/v1/session/create/
(draft-ietf-httpapi-idempotency-key-header): an agent that retries a create
gets one session, not two.  The header is one Structured Field String of 1
to 255 characters (else 400 invalid_idempotency_key); a key belongs to its
agent and holds for OTAS_IDEMPOTENCY_TTL; a repeat with the same body is
answered the same session and the same token, byte for byte; the same key
with another body is 422 idempotency_key_reused; a repeat while the first
request still holds the key waits for it (409 idempotency_key_in_flight
when that outlasts the statement timeout) and never makes a second row.
"""

import datetime
import hashlib
import json
import os
import threading
import uuid

import jwt
import pytest

from harness.otas_http import assert_error, create_session
from harness.private_server import start_private
from harness.stack import sessions_of

BODY = '{"meta": {"task": "summarize"}}'


def idem(value):
    return [("Idempotency-Key", value)]


def token_of(resp, secret):
    assert resp.status == 200, resp
    return jwt.decode(resp.json()["response"]["jwt_token"], secret.value,
                      algorithms=["HS256"])


def repeat_token(server, key, k, secret):
    """The claims of the 200 to key's request under Idempotency-Key k."""
    return token_of(create_session(server, key, BODY, headers=idem(k)),
                    secret)


def age_record(pg, key, interval):
    """key's idempotency records made as if interval ago."""
    pg.query("UPDATE otas_idempotency SET created_at = now()"
             " - interval %s WHERE agent_id = %s", (interval, key.agent_id))


def fresh_key():
    return '"%s"' % uuid.uuid4()


# --- the header ------------------------------------------------------------

@pytest.mark.parametrize("value", [
    "token-not-string", '""', '"%s"' % ("x" * 256), '"abc";p=1',
    '"a", "b"', "?1", "42", '"unterminated', '"bad\\escape"',
    '"caf\xc3\xa9"',
], ids=["token", "empty", "256_chars", "parameter", "list", "boolean",
        "integer", "unterminated", "bad_escape", "non_ascii"])
def test_a_header_that_is_not_one_short_string_is_400(lighttpd, pg, keys,
                                                      value):
    key = keys.make()
    resp = create_session(lighttpd, key, BODY,
                          headers=idem(value.encode("latin-1")))
    assert_error(resp, 400, "invalid_idempotency_key")
    assert sessions_of(pg, key.agent_id) == 0


def test_the_header_sent_twice_is_400(lighttpd, pg, keys):
    key = keys.make()
    resp = create_session(lighttpd, key, BODY,
                          headers=idem('"one"') + idem('"two"'))
    assert_error(resp, 400, "invalid_idempotency_key")
    assert sessions_of(pg, key.agent_id) == 0


def test_a_bad_key_is_refused_before_the_header_is_judged(lighttpd, keys):
    resp = create_session(lighttpd, "agent_no$such_key", BODY,
                          headers=idem("not-a-string"))
    assert_error(resp, 401, "invalid_agent_key")


@pytest.mark.parametrize("value", [
    '"%s"' % ("k" * 255), '"with \\"quotes\\" and \\\\"', '  "spaced"  ',
], ids=["255_chars", "escapes", "spaces_around"])
def test_a_string_of_1_to_255_characters_is_accepted(lighttpd, pg, keys,
                                                     value):
    key = keys.make()
    assert create_session(lighttpd, key, BODY, headers=idem(value)).status \
        == 200
    assert sessions_of(pg, key.agent_id) == 1
    stored = pg.scalar("SELECT idempotency_key FROM otas_idempotency"
                       " WHERE agent_id = %s", (key.agent_id,))
    assert stored == json.loads(value.strip())


# --- repeats ---------------------------------------------------------------

def test_a_repeat_gets_the_same_session_and_token_byte_for_byte(
        lighttpd, pg, keys, secret):
    key = keys.make()
    k = fresh_key()
    first = create_session(lighttpd, key, BODY, headers=idem(k))
    claims = token_of(first, secret)
    for _ in range(4):
        again = create_session(lighttpd, key, BODY, headers=idem(k))
        assert again.status == 200
        assert again.body == first.body
    assert sessions_of(pg, key.agent_id) == 1
    row = pg.query("SELECT session_id::text, iat, exp, request_hash"
                   " FROM otas_idempotency WHERE agent_id = %s",
                   (key.agent_id,))
    assert [(r[0], r[1], r[2]) for r in row] == [
        (claims["agent_session_id"], claims["iat"], claims["exp"])]
    assert bytes(row[0][3]) == hashlib.sha256(BODY.encode()).digest()


def test_every_server_kind_answers_a_repeat_the_same(server, pg, keys):
    key = keys.make()
    k = fresh_key()
    first = create_session(server, key, BODY, headers=idem(k))
    assert first.status == 200, first
    assert create_session(server, key, BODY, headers=idem(k)).body == \
        first.body
    assert_error(create_session(server, key, "{}", headers=idem(k)), 422,
                 "idempotency_key_reused")
    assert_error(create_session(server, key, BODY, headers=idem("bare")),
                 400, "invalid_idempotency_key")
    assert sessions_of(pg, key.agent_id) == 1


def test_the_same_key_with_another_body_is_422(lighttpd, pg, keys):
    key = keys.make()
    k = fresh_key()
    assert create_session(lighttpd, key, BODY, headers=idem(k)).status == 200
    resp = create_session(lighttpd, key, '{"meta": {"task": "other"}}',
                          headers=idem(k))
    assert_error(resp, 422, "idempotency_key_reused")
    assert sessions_of(pg, key.agent_id) == 1


def test_without_the_header_every_request_makes_a_session(lighttpd, pg,
                                                          keys):
    key = keys.make()
    for _ in range(3):
        assert create_session(lighttpd, key, BODY).status == 200
    assert sessions_of(pg, key.agent_id) == 3
    assert pg.scalar("SELECT count(*) FROM otas_idempotency"
                     " WHERE agent_id = %s", (key.agent_id,)) == 0


def test_a_key_belongs_to_its_agent_not_to_the_agent_key(lighttpd, pg, keys,
                                                         secret):
    a = keys.make()
    a2 = keys.make(agent_id=a.agent_id)
    b = keys.make()
    k = fresh_key()
    one = repeat_token(lighttpd, a, k, secret)
    two = repeat_token(lighttpd, a2, k, secret)
    other = repeat_token(lighttpd, b, k, secret)
    assert one == two
    assert other["agent_session_id"] != one["agent_session_id"]
    assert sessions_of(pg, a.agent_id) == 1
    assert sessions_of(pg, b.agent_id) == 1


def test_a_repeat_with_a_revoked_key_is_refused(lighttpd, pg, keys):
    key = keys.make()
    k = fresh_key()
    assert create_session(lighttpd, key, BODY, headers=idem(k)).status == 200
    keys.set(key, revoked_at=datetime.datetime.now(datetime.timezone.utc))
    assert_error(create_session(lighttpd, key, BODY, headers=idem(k)), 401,
                 "invalid_agent_key")


def test_after_its_lifetime_a_key_makes_a_new_session(lighttpd, pg, keys,
                                                      secret):
    key = keys.make()
    k = fresh_key()
    first = repeat_token(lighttpd, key, k, secret)
    age_record(pg, key, "24 hours 1 second")
    later = repeat_token(lighttpd, key, k, secret)
    assert later["agent_session_id"] != first["agent_session_id"]
    assert sessions_of(pg, key.agent_id) == 2
    # The record now holds the new session: a repeat answers that one.
    again = repeat_token(lighttpd, key, k, secret)
    assert again == later


@pytest.fixture(scope="module")
def one_minute(workdir, app):
    with start_private(os.path.join(workdir, "idem-ttl"), app,
                       {"OTAS_IDEMPOTENCY_TTL": "60"}) as srv:
        yield srv


def test_the_lifetime_is_otas_idempotency_ttl(lighttpd, one_minute, pg,
                                              keys, secret):
    key = keys.make()
    k = fresh_key()
    first = repeat_token(lighttpd, key, k, secret)
    age_record(pg, key, "61 seconds")
    # Still within the default day for one server, past a minute for the
    # other.
    assert repeat_token(lighttpd, key, k, secret) == first
    later = repeat_token(one_minute, key, k, secret)
    assert later["agent_session_id"] != first["agent_session_id"]
    assert sessions_of(pg, key.agent_id) == 2


# --- concurrency -----------------------------------------------------------

@pytest.fixture(scope="module")
def grouped(workdir, app):
    """One process, eight threads: parallel requests share a statement."""
    with start_private(os.path.join(workdir, "idem-group"), app,
                       {"OTAS_THREADS": "8"}, max_procs=1) as srv:
        yield srv


def parallel(server, key, k, n):
    answers = [None] * n
    go = threading.Barrier(n)

    def one(i):
        go.wait()
        answers[i] = create_session(server, key, BODY, headers=idem(k),
                                    timeout=30)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    return answers


@pytest.mark.parametrize("where", ["processes", "threads"])
def test_a_dozen_parallel_retries_make_one_session(lighttpd, grouped, pg,
                                                   keys, where):
    server = lighttpd if where == "processes" else grouped
    key = keys.make()
    answers = parallel(server, key, fresh_key(), 12)
    assert all(a is not None and a.status == 200 for a in answers), answers
    assert len({a.body for a in answers}) == 1
    assert sessions_of(pg, key.agent_id) == 1


def test_two_keys_in_parallel_make_two_sessions(grouped, pg, keys):
    key = keys.make()
    k1, k2 = fresh_key(), fresh_key()
    answers = []
    threads = [threading.Thread(target=lambda k=k: answers.extend(
        parallel(grouped, key, k, 4))) for k in (k1, k2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert len(answers) == 8 and all(a.status == 200 for a in answers)
    assert len({a.body for a in answers}) == 2
    assert sessions_of(pg, key.agent_id) == 2


# --- the first request still in flight ------------------------------------

def hold_key(pg, key, k, body):
    """A transaction that holds Idempotency-Key k for key's agent, as a
    first request does until it commits: its session and its record
    written, not committed.  Returns (conn, session id, iat, exp)."""
    sid = str(uuid.uuid4())
    iat = int(datetime.datetime.now().timestamp())
    conn = pg.connect(autocommit=False)
    with conn.cursor() as cur:
        cur.execute("INSERT INTO agent_session (id, agent_id, agent_key_id,"
                    " created_at, meta) VALUES (%s, %s, %s, now(), '{}')",
                    (sid, key.agent_id, key.key_id))
        cur.execute("INSERT INTO otas_idempotency (agent_id,"
                    " idempotency_key, request_hash, session_id, iat, exp)"
                    " VALUES (%s, %s, %s, %s, %s, %s)",
                    (key.agent_id, json.loads(k), hashlib.sha256(
                        body.encode()).digest(), sid, iat, iat + 3600))
    return conn, sid, iat, iat + 3600


def test_a_repeat_waits_for_the_first_and_answers_its_session(
        lighttpd, pg, keys, secret):
    key = keys.make()
    k = fresh_key()
    conn, sid, iat, exp = hold_key(pg, key, k, BODY)
    answer = []
    try:
        th = threading.Thread(target=lambda: answer.append(create_session(
            lighttpd, key, BODY, headers=idem(k), timeout=30)))
        th.start()
        pg.wait_for_lock_wait()
        conn.commit()
        th.join(timeout=30)
    finally:
        conn.close()
    claims = token_of(answer[0], secret)
    assert (claims["agent_session_id"], claims["iat"], claims["exp"]) == (
        sid, iat, exp)
    assert sessions_of(pg, key.agent_id) == 1


@pytest.fixture(scope="module")
def short_timeout(workdir, app):
    with start_private(os.path.join(workdir, "idem-timeout"), app,
                       {"OTAS_STATEMENT_TIMEOUT_MS": "300"}) as srv:
        yield srv


def test_a_first_request_that_holds_the_key_too_long_is_409(
        short_timeout, pg, keys, secret):
    key = keys.make()
    k = fresh_key()
    conn, _, _, _ = hold_key(pg, key, k, BODY)
    try:
        resp = create_session(short_timeout, key, BODY, headers=idem(k))
        assert_error(resp, 409, "idempotency_key_in_flight")
        # A request without the header is not held up by it.
        assert create_session(short_timeout, key, BODY).status == 200
    finally:
        conn.rollback()
        conn.close()
    # The first never committed: the key is free, and makes a session.
    repeat_token(short_timeout, key, k, secret)
    assert sessions_of(pg, key.agent_id) == 2
