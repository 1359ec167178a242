"""A legacy key made cheap by its first use: after a key hashed with the
original backend's 260 000 PBKDF2 iterations is verified, the session's own
statement stores a fast Django hash (the iteration count otas-admin gives
new keys) in its place, by compare-and-set on the old hash, so a rotation
or revocation that races it wins.  Secrets under 32 characters keep their
slow hash, and OTAS_REHASH=0 turns the whole thing off.  Django itself
(Debian's python3-django) must accept the new hash.
"""

import os
import threading

import pytest

from harness.otas_http import assert_error, create_session
from harness.private_server import start_private
from harness.stack import django_check, django_pbkdf2, sessions_of, stored_hash

LEGACY = 260000
NEW_KEYS = 1000     # OTAS_KEY_ITERATIONS' default


def iterations(encoded):
    return int(encoded.split("$")[1])


def test_first_use_replaces_a_legacy_hash_with_one_django_accepts(
        lighttpd, pg, keys):
    key = keys.make(iterations=LEGACY)
    old = stored_hash(pg, key)
    assert create_session(lighttpd, key, "{}").status == 200
    new = stored_hash(pg, key)
    assert new != old
    assert new.startswith("pbkdf2_sha256$%d$" % NEW_KEYS)
    assert django_check(key.full, new)
    assert not django_check(key.full + "x", new)
    # The key keeps working with its new hash, in every process.
    for _ in range(6):
        assert create_session(lighttpd, key, "{}").status == 200
    assert stored_hash(pg, key) == new


def test_a_fast_hash_is_left_alone(lighttpd, pg, keys):
    key = keys.make(iterations=NEW_KEYS)
    old = stored_hash(pg, key)
    assert create_session(lighttpd, key, "{}").status == 200
    assert stored_hash(pg, key) == old


def test_a_secret_under_32_characters_keeps_its_slow_hash(lighttpd, pg,
                                                          keys):
    key = keys.make(iterations=LEGACY, secret="S" * 31)
    old = stored_hash(pg, key)
    assert create_session(lighttpd, key, "{}").status == 200
    assert stored_hash(pg, key) == old
    longer = keys.make(iterations=LEGACY, secret="S" * 32)
    assert create_session(lighttpd, longer, "{}").status == 200
    assert iterations(stored_hash(pg, longer)) == NEW_KEYS


def test_a_refused_key_is_not_rehashed(lighttpd, pg, keys):
    key = keys.make(iterations=LEGACY, revoked=True)
    old = stored_hash(pg, key)
    assert_error(create_session(lighttpd, key, "{}"), 401,
                 "invalid_agent_key")
    assert stored_hash(pg, key) == old


@pytest.fixture(scope="module")
def no_rehash(workdir, app):
    with start_private(os.path.join(workdir, "no-rehash"), app,
                       {"OTAS_REHASH": "0"}) as srv:
        yield srv


def test_rehash_0_keeps_every_hash(no_rehash, pg, keys):
    key = keys.make(iterations=LEGACY)
    old = stored_hash(pg, key)
    for _ in range(3):
        assert create_session(no_rehash, key, "{}").status == 200
    assert stored_hash(pg, key) == old


# --- races: the row is locked while the request's statement runs --------

def race(lighttpd, pg, key, change):
    """Holds key's row locked until the request's statement waits for it,
    then commits change (SQL on the row) and returns the answer."""
    answer = []
    conn = pg.connect(autocommit=False)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM agent_key WHERE id = %s FOR UPDATE",
                        (key.key_id,))
            th = threading.Thread(target=lambda: answer.append(
                create_session(lighttpd, key, "{}", timeout=30)))
            th.start()
            try:
                pg.wait_for_lock_wait()
                cur.execute(change, (key.key_id,))
                conn.commit()
            finally:
                th.join(timeout=30)
    finally:
        conn.close()
    assert answer, "the request did not finish"
    return answer[0]


def test_a_revocation_racing_the_rehash_wins(lighttpd, pg, keys):
    key = keys.make(iterations=LEGACY)
    old = stored_hash(pg, key)
    race(lighttpd, pg, key,
         "UPDATE agent_key SET revoked_at = now() WHERE id = %s")
    assert stored_hash(pg, key) == old
    assert pg.scalar("SELECT revoked_at IS NOT NULL FROM agent_key"
                     " WHERE id = %s", (key.key_id,))
    assert_error(create_session(lighttpd, key, "{}"), 401,
                 "invalid_agent_key")


def test_a_hash_changed_under_the_rehash_is_kept(lighttpd, pg, keys):
    key = keys.make(iterations=LEGACY)
    theirs = django_pbkdf2(key.full, "RacingRehashSalt1234", 2000)
    race(lighttpd, pg, key,
         "UPDATE agent_key SET hashed_key = '%s' WHERE id = %%s" % theirs)
    assert stored_hash(pg, key) == theirs
    assert create_session(lighttpd, key, "{}").status == 200
    assert stored_hash(pg, key) == theirs


# --- a change between the key check and the insert ----------------------
# Another process may replace a legacy hash (its own first use of the same
# key) while this one is still checking the old one.  A fault proxy holds
# the insert back so the test can make that change at exactly that moment.

@pytest.fixture(scope="module")
def held(workdir, proxied_app, proxy):
    with start_private(os.path.join(workdir, "rehash-held"), proxied_app,
                       max_procs=1) as srv:
        yield proxy, srv


def changed_before_insert(held, pg, key, change):
    """Runs change (SQL on key's row) once the request has checked the key
    and before its insert reaches PostgreSQL; returns the answer."""
    proxy, srv = held
    answer = []
    proxy.set_mode("hold_insert")
    th = threading.Thread(target=lambda: answer.append(
        create_session(srv, key, "{}", timeout=30)))
    th.start()
    try:
        assert proxy.insert_held.wait(20), "the insert never came"
        pg.query(change, (key.key_id,))
    finally:
        proxy.set_mode("pass")
        th.join(timeout=30)
    assert answer, "the request did not finish"
    return answer[0]


def test_a_legacy_hash_replaced_by_another_process_mid_check_passes(
        held, pg, keys):
    key = keys.make(iterations=LEGACY)
    theirs = django_pbkdf2(key.full, "OtherProcessSalt1234", NEW_KEYS)
    resp = changed_before_insert(
        held, pg, key,
        "UPDATE agent_key SET hashed_key = '%s' WHERE id = %%s" % theirs)
    assert resp.status == 200, resp
    assert sessions_of(pg, key.agent_id) == 1
    assert stored_hash(pg, key) == theirs


def test_a_key_revoked_mid_check_is_refused_with_no_row(held, pg, keys):
    key = keys.make(iterations=LEGACY)
    resp = changed_before_insert(
        held, pg, key,
        "UPDATE agent_key SET revoked_at = now() WHERE id = %s")
    assert_error(resp, 401, "invalid_agent_key")
    assert sessions_of(pg, key.agent_id) == 0
