"""otas-authz's database mode reads from a standby (OTAS_AUTHZ_DATABASE_URL)
and asks the primary (OTAS_DATABASE_URL) only when the standby does not
know the session: a session created a moment ago on the primary still
passes while the standby lags behind, and one the primary does not know
either is still refused.  Lag is made certain by pausing the standby's
replay (pg_wal_replay_pause()).
"""

import os
import uuid

import jwt
import pytest

from harness import stack
from harness.otas_http import assert_error, create_session, request
from harness.private_server import start_private
from test_authz import PROTECTED, TOKEN_HEADER, mint

CLIENT_TIMEOUT = 20


def standby_reads(workdir, name, app, pair, cache_seconds):
    """A private server whose otas-authz reads from the standby first."""
    return start_private(os.path.join(workdir, name), app, {
        "OTAS_DATABASE_URL": pair.primary.runtime_url,
        "OTAS_AUTHZ_DATABASE_URL": pair.url(attrs="prefer-standby",
                                            first="standby"),
        "OTAS_AUTHZ_CHECK_DB": "1",
        "OTAS_AUTHZ_CACHE_SECONDS": cache_seconds,
    }, max_procs=1)


@pytest.fixture(scope="module")
def served(workdir, app, pair):
    with standby_reads(workdir, "standby-reads-web", app, pair, "0") as srv:
        yield srv


@pytest.fixture
def lagging(pair):
    pair.pause_replay()
    try:
        yield pair
    finally:
        pair.resume_replay()


def check(server, token):
    return request(server, path=PROTECTED, body="{}", timeout=CLIENT_TIMEOUT,
                   headers=[(TOKEN_HEADER, token)])


def new_token(server, key):
    resp = create_session(server, key, "{}", timeout=CLIENT_TIMEOUT)
    assert resp.status == 200, resp
    return resp.json()["response"]["jwt_token"]


def test_authz_reads_sessions_from_the_standby(pair, served):
    key = stack.KeyFactory(pair.primary).make()
    token = new_token(served, key)
    pair.wait_synchronous()
    assert check(served, token).status == 200
    readers = pair.standby.scalar(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE application_name = 'otas-authz'")
    assert readers == 1, "otas-authz holds no connection to the standby"


def test_session_not_yet_on_a_lagging_standby_passes_through_the_primary(
        lagging, served, secret):
    key = stack.KeyFactory(lagging.primary).make()
    token = new_token(served, key)
    sid = jwt.decode(token, options={"verify_signature": False})[
        "agent_session_id"]
    assert lagging.standby.scalar(
        "SELECT count(*) FROM agent_session WHERE id = %s", (sid,)) == 0
    assert lagging.primary.scalar(
        "SELECT count(*) FROM agent_session WHERE id = %s", (sid,)) == 1
    assert check(served, token).status == 200


def test_session_unknown_to_standby_and_primary_is_refused(
        lagging, served, secret):
    key = stack.KeyFactory(lagging.primary).make()
    token = mint(secret.value, agent_session_id=str(uuid.uuid4()),
                 agent_id=key.agent_id)
    assert_error(check(served, token), 401, "invalid_session_token")


PRIMARY_FIRST = "otas-authz-primary-first"


@pytest.fixture(scope="module")
def primary_first(workdir, app, pair):
    """otas-authz given the primary first in its prefer-standby list, under
    an application_name of its own so its connections can be told apart."""
    url = pair.url(attrs="prefer-standby", first="primary") + \
        "&application_name=" + PRIMARY_FIRST
    with start_private(os.path.join(workdir, "standby-reads-2-web"), app, {
        "OTAS_DATABASE_URL": pair.primary.runtime_url,
        "OTAS_AUTHZ_DATABASE_URL": url,
        "OTAS_AUTHZ_CHECK_DB": "1",
        "OTAS_AUTHZ_CACHE_SECONDS": "0",
    }, max_procs=1) as srv:
        yield srv

def test_prefer_standby_reads_from_the_standby_listed_after_the_primary(
        pair, primary_first):
    key = stack.KeyFactory(pair.primary).make()
    token = new_token(primary_first, key)
    pair.wait_synchronous()
    assert check(primary_first, token).status == 200
    count = ("SELECT count(*) FROM pg_stat_activity"
             " WHERE application_name = %s")
    assert pair.standby.scalar(count, (PRIMARY_FIRST,)) == 1
    assert pair.primary.scalar(count, (PRIMARY_FIRST,)) == 0


# --- ended sessions, with the cache on (otas-authz.8, REVOCATION) ----------

@pytest.fixture(scope="module")
def cached(workdir, app, pair):
    """Standby reads with an hour of cache: only the primary's
    notifications can make the process forget."""
    with standby_reads(workdir, "standby-reads-cached", app, pair,
                       "3600") as srv:
        yield srv


def end_session(server, token):
    resp = request(server, path="/api/agent/v1/session/end/",
                   timeout=CLIENT_TIMEOUT, headers=[(TOKEN_HEADER, token)])
    assert resp.status == 200, resp


def test_session_ended_while_the_standby_lags_is_refused_at_once(
        pair, cached):
    key = stack.KeyFactory(pair.primary).make()
    tokens = [new_token(cached, key) for _ in range(2)]
    pair.wait_synchronous()
    # The first is remembered, the second never asked about before.
    assert check(cached, tokens[0]).status == 200   # the standby's answer
    assert check(cached, tokens[0]).status == 200   # remembered
    pair.pause_replay()
    try:
        for token in tokens:
            end_session(cached, token)
            assert_error(check(cached, token), 401, "invalid_session_token")
        sids = [jwt.decode(t, options={"verify_signature": False})[
            "agent_session_id"] for t in tokens]
        assert pair.standby.scalar(
            "SELECT count(*) FROM agent_session WHERE id = ANY(%s::uuid[])"
            " AND ended_at IS NULL", (sids,)) == 2, "the standby replayed"
    finally:
        pair.resume_replay()
