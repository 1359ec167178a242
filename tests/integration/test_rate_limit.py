"""Per-agent rate limits on POST /api/agent/v1/session/create/:
`otas-admin agent limit AGENT_ID RATE [--burst N]` and OTAS_SESSION_RATE,
enforced by PostgreSQL in the statement that inserts the session, so the
count is exact across processes, threads and web servers.  Over the limit:
429 {"status": 0, "status_description": "rate_limited"} with Retry-After
and the IETF draft's RateLimit-Policy and RateLimit fields; a 200 of a
limited agent carries them too.  A wrong key never spends the quota; a
repeat of an Idempotency-Key answered from its record spends nothing.

The servers are the shared ones: lighttpd from lighttpd.conf.example (two
otas-session processes of eight threads) and nginx, on one database.  The
waits use Retry-After, which the database's clock made.
"""

import os
import re
import threading
import time

import pytest

from harness import stack
from harness.admin_cli import failed, ok, ok_json
from harness.otas_http import (assert_common_headers, assert_error,
                               create_session)
from harness.private_server import start_private
from harness.stack import Key, sessions_of

BODY = '{"meta": {"task": "limit"}}'

POLICY_RE = re.compile(r'^"sessions";q=(\d+);w=(\d+)$')
RATELIMIT_RE = re.compile(r'^"sessions";r=(\d+);t=(\d+)$')


def limit(run, agent_id, *rate):
    return ok(run("agent", "limit", agent_id, *rate))


def created(server, key, headers):
    """A session request with headers, answered 200: the answer."""
    resp = create_session(server, key, BODY, headers=headers)
    assert resp.status == 200
    return resp


def answer_in_turn(server, key, *statuses):
    """One session request for each status given, answered with it."""
    for status in statuses:
        assert create_session(server, key, BODY).status == status


def limited_key(keys, run, rate, *more):
    """A new agent's key, the agent limited to rate (otas-admin agent
    limit ID RATE MORE...)."""
    key = keys.make()
    limit(run, key.agent_id, rate, *more)
    return key


def ratelimit(resp):
    """RateLimit's (r, t) as numbers; fails when it is malformed."""
    m = RATELIMIT_RE.match(resp.header("RateLimit") or "")
    assert m, resp.headers
    return int(m.group(1)), int(m.group(2))


def state(pg, agent_id):
    """The limiter's row of the agent (tat, admitted), or None."""
    rows = pg.query("SELECT tat, admitted FROM otas_rate_state"
                    " WHERE agent_id = %s", (agent_id,))
    return rows[0] if rows else None


def at_once(jobs):
    """Runs every (server, key, headers) job in its own thread, all
    released together; the answers in the jobs' order."""
    answers = [None] * len(jobs)
    go = threading.Barrier(len(jobs))

    def one(i, server, key, headers):
        go.wait()
        answers[i] = create_session(server, key, BODY, headers=headers,
                                    timeout=30)

    threads = [threading.Thread(target=one, args=(i,) + tuple(j))
               for i, j in enumerate(jobs)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert all(a is not None for a in answers), "a request never ended"
    return answers


def statuses(answers):
    return sorted(a.status for a in answers)


def assert_rate_limited(resp, q, w):
    """The 429 exactly: body, common headers, both fields, Retry-After
    a whole number of seconds, at least 1 and not before t."""
    assert_error(resp, 429, "rate_limited")
    assert resp.json() == {"status": 0, "status_description": "rate_limited"}
    assert resp.header("RateLimit-Policy") == '"sessions";q=%d;w=%d' % (q, w)
    r, t = ratelimit(resp)
    assert r == 0
    retry = resp.header("Retry-After")
    assert retry is not None and retry.isdigit(), resp.headers
    assert int(retry) >= 1 and int(retry) >= t
    return int(retry)


def wait_retry_after(answers):
    """Sleeps as long as the latest 429 asked (the database's clock)."""
    time.sleep(max(int(a.header("Retry-After")) for a in answers
                   if a.status == 429))


# --- exact under concurrency -----------------------------------------------

def test_twelve_at_once_through_two_processes_admit_exactly_five(
        lighttpd, pg, keys, run):
    key = limited_key(keys, run, "5/min", "--burst", "5")
    answers = at_once([(lighttpd, key, ())] * 12)
    assert statuses(answers) == [200] * 5 + [429] * 7, answers
    assert sessions_of(pg, key.agent_id) == 5
    for a in answers:
        if a.status == 429:
            assert 1 <= assert_rate_limited(a, 5, 60) <= 12
    # 5/min is one session every 12 s: after that wait, one more, not two.
    wait_retry_after(answers)
    assert create_session(lighttpd, key, BODY).status == 200
    assert_rate_limited(create_session(lighttpd, key, BODY), 5, 60)
    assert sessions_of(pg, key.agent_id) == 6


def test_two_web_servers_on_one_database_share_the_limit_exactly(
        servers, pg, keys, run):
    if not all(stack.SERVERS[k].available() for k in ("lighttpd", "nginx")):
        pytest.skip("needs lighttpd and nginx")
    one, two = servers.get("lighttpd"), servers.get("nginx")
    key = limited_key(keys, run, "5/min")
    answers = at_once([(one, key, ())] * 6 + [(two, key, ())] * 6)
    assert statuses(answers) == [200] * 5 + [429] * 7, answers
    assert sessions_of(pg, key.agent_id) == 5
    wait_retry_after(answers)
    after = at_once([(one, key, ()), (two, key, ())])
    assert statuses(after) == [200, 429], after
    assert sessions_of(pg, key.agent_id) == 6


# --- the answers -------------------------------------------------------------

def test_a_limited_agents_200_carries_the_fields_and_its_429_all_three(
        lighttpd, pg, keys, run):
    key = limited_key(keys, run, "2/min")
    first = create_session(lighttpd, key, BODY)
    assert first.status == 200
    assert first.header("RateLimit-Policy") == '"sessions";q=2;w=60'
    assert first.header("Retry-After") is None
    # One of two spent; the next comes back 30 s after it was spent.
    assert ratelimit(first) == (1, 30)
    second = create_session(lighttpd, key, BODY)
    assert second.status == 200
    r, t = ratelimit(second)
    assert r == 0 and 25 <= t <= 30
    third = create_session(lighttpd, key, BODY)
    assert_common_headers(third)
    assert 25 <= assert_rate_limited(third, 2, 60) <= 30
    assert sessions_of(pg, key.agent_id) == 2


def test_an_agent_without_a_limit_gets_no_ratelimit_fields(lighttpd, keys):
    key = keys.make()
    for _ in range(3):
        resp = create_session(lighttpd, key, BODY)
        assert resp.status == 200
        for name in ("RateLimit", "RateLimit-Policy", "Retry-After"):
            assert resp.header(name) is None, resp.headers


def test_the_burst_lets_that_many_through_at_once(lighttpd, pg, keys, run):
    key = limited_key(keys, run, "1/h", "--burst", "3")
    answers = at_once([(lighttpd, key, ())] * 5)
    assert statuses(answers) == [200] * 3 + [429] * 2, answers
    refused = [a for a in answers if a.status == 429]
    # One an hour: the next comes back an hour after the burst was spent.
    assert all(3000 <= assert_rate_limited(a, 1, 3600) <= 3600
               for a in refused)
    assert sessions_of(pg, key.agent_id) == 3


# --- what does not spend the quota -------------------------------------------

def test_a_wrong_key_at_the_limit_is_401_and_spends_nothing(
        lighttpd, pg, keys, run):
    key = limited_key(keys, run, "1/h")
    assert create_session(lighttpd, key, BODY).status == 200
    before = state(pg, key.agent_id)
    wrong = "agent_%s_%s" % (key.prefix, "x" * len(key.secret))
    assert_error(create_session(lighttpd, wrong, BODY), 401,
                 "invalid_agent_key")
    assert state(pg, key.agent_id) == before
    assert sessions_of(pg, key.agent_id) == 1


def test_a_wrong_key_never_spends_the_quota_of_an_agent_with_room(
        lighttpd, pg, keys, run):
    key = limited_key(keys, run, "1/h")
    wrong = "agent_%s_%s" % (key.prefix, "y" * len(key.secret))
    for _ in range(3):
        assert_error(create_session(lighttpd, wrong, BODY), 401,
                     "invalid_agent_key")
    assert state(pg, key.agent_id) is None
    assert create_session(lighttpd, key, BODY).status == 200


def test_an_idempotency_key_repeat_at_the_limit_is_200_and_spends_nothing(
        lighttpd, pg, keys, run):
    key = limited_key(keys, run, "1/h")
    idem = [("Idempotency-Key", '"limit-repeat"')]
    first = created(lighttpd, key, idem)
    spent = state(pg, key.agent_id)
    again = create_session(lighttpd, key, BODY, headers=idem)
    assert again.status == 200, again
    assert again.json()["response"]["jwt_token"] == \
        first.json()["response"]["jwt_token"]
    assert ratelimit(again)[0] == 0
    assert state(pg, key.agent_id)[0] == spent[0]
    assert sessions_of(pg, key.agent_id) == 1
    # A new key is a new request: over the limit.
    other = create_session(lighttpd, key, BODY,
                           headers=[("Idempotency-Key", '"limit-new"')])
    assert_rate_limited(other, 1, 3600)
    # ...which left no record: the same key is refused again, not replayed.
    assert pg.scalar("SELECT count(*) FROM otas_idempotency WHERE"
                     " agent_id = %s", (key.agent_id,)) == 1
    assert_rate_limited(create_session(
        lighttpd, key, BODY, headers=[("Idempotency-Key", '"limit-new"')]),
        1, 3600)
    assert sessions_of(pg, key.agent_id) == 1


def test_a_batch_with_repeats_and_new_requests_admits_only_what_fits(
        lighttpd, pg, keys, run):
    key = limited_key(keys, run, "2/h")
    idem = [("Idempotency-Key", '"batch-repeat"')]
    first = created(lighttpd, key, idem)
    token = first.json()["response"]["jwt_token"]
    answers = at_once([(lighttpd, key, idem)] * 4 + [(lighttpd, key, ())] * 3)
    repeats, fresh = answers[:4], answers[4:]
    assert [a.status for a in repeats] == [200] * 4, repeats
    assert all(a.json()["response"]["jwt_token"] == token for a in repeats)
    assert statuses(fresh) == [200, 429, 429], fresh
    assert sessions_of(pg, key.agent_id) == 2


# --- the limit is the agent's ------------------------------------------------

def test_off_means_no_429_and_no_ratelimit_fields(lighttpd, pg, keys, run):
    key = limited_key(keys, run, "1/h")
    answer_in_turn(lighttpd, key, 200, 429)
    limit(run, key.agent_id, "off")
    for _ in range(3):
        resp = create_session(lighttpd, key, BODY)
        assert resp.status == 200
        assert resp.header("RateLimit") is None
        assert resp.header("RateLimit-Policy") is None
    assert sessions_of(pg, key.agent_id) == 4


def test_key_rotation_keeps_the_limit_and_the_spent_quota(
        lighttpd, pg, keys, run):
    key = limited_key(keys, run, "2/h")
    answer_in_turn(lighttpd, key, 200, 200)
    new = ok_json(run("key", "rotate", key.agent_id, "--json"))
    rotated = Key(new["key"], new["prefix"], "", new["key_id"], key.agent_id)
    assert_error(create_session(lighttpd, key, BODY), 401,
                 "invalid_agent_key")
    assert_rate_limited(create_session(lighttpd, rotated, BODY), 2, 3600)
    listed = ok_json(run("agent", "list", "--json"))["agents"]
    mine = [a for a in listed if a["agent_id"] == key.agent_id][0]
    assert (mine["limit_quota"], mine["limit_window_seconds"],
            mine["limit_burst"]) == (2, 3600, 2)
    assert sessions_of(pg, key.agent_id) == 2


def test_a_looser_limit_is_not_held_back_by_the_old_ones_debt(
        lighttpd, pg, keys, run):
    key = limited_key(keys, run, "1/d")
    answer_in_turn(lighttpd, key, 200, 429)
    # The day's wait is cut to what the new bucket holds: a second at 3/s.
    limit(run, key.agent_id, "3/s")
    time.sleep(1.1)
    assert create_session(lighttpd, key, BODY).status == 200
    assert sessions_of(pg, key.agent_id) == 2


# --- OTAS_SESSION_RATE -------------------------------------------------------

@pytest.fixture(scope="module")
def defaulted(workdir, app):
    """One process with a default limit of 1/h for agents without one."""
    with start_private(os.path.join(workdir, "rate-default"), app,
                       {"OTAS_SESSION_RATE": "1/h", "OTAS_THREADS": "4"},
                       max_procs=1) as srv:
        yield srv


def test_the_setting_limits_agents_without_a_limit_of_their_own(
        defaulted, pg, keys, run):
    plain, exempt, own = keys.make(), keys.make(), keys.make()
    limit(run, exempt.agent_id, "off")
    limit(run, own.agent_id, "2/h")
    assert create_session(defaulted, plain, BODY).status == 200
    assert_rate_limited(create_session(defaulted, plain, BODY), 1, 3600)
    for _ in range(3):
        resp = create_session(defaulted, exempt, BODY)
        assert resp.status == 200 and resp.header("RateLimit") is None
    assert statuses([create_session(defaulted, own, BODY)
                     for _ in range(3)]) == [200, 200, 429]
    # default: the agent's own limit removed, the setting applies again
    # (from a whole burst: nothing counted while it was off).
    limit(run, exempt.agent_id, "default")
    assert create_session(defaulted, exempt, BODY).status == 200
    assert_rate_limited(create_session(defaulted, exempt, BODY), 1, 3600)


# --- otas-admin agent limit ---------------------------------------------------

@pytest.mark.parametrize("rate", [
    "5", "5/m", "5/minute", "0/s", "+1/s", "5.5/s", " 5/s", "5/s ", "5//s",
    "/s", "1000001/s", "OFF", "5/S",
])
def test_agent_limit_refuses_a_rate_it_cannot_read(run, keys, rate):
    key = keys.make()
    failed(run("agent", "limit", key.agent_id, rate), 2, ["RATE"])


def test_agent_limit_refuses_a_burst_without_a_rate(run, keys):
    key = keys.make()
    failed(run("agent", "limit", key.agent_id, "off", "--burst", "3"), 2,
           ["--burst"])
    failed(run("agent", "limit", key.agent_id, "5/s", "--burst", "0"), 2,
           ["--burst"])


def test_agent_limit_on_an_unknown_agent_fails(run):
    failed(run("agent", "limit", "00000000-0000-0000-0000-000000000001",
               "5/min"), 1, ["no agent"])


def test_agent_limit_json_and_agent_list_show_the_limit(run, keys):
    key = keys.make()
    out = ok_json(run("agent", "limit", key.agent_id, "10/h", "--burst",
                      "3", "--json"))
    assert out == {"agent_id": key.agent_id, "own_limit": True,
                   "limit": "10/h burst 3", "quota": 10,
                   "window_seconds": 3600, "burst": 3}
    text = ok(run("agent", "list")).stdout
    line = [ln for ln in text.splitlines() if key.agent_id in ln][0]
    assert "10/h burst 3" in line
    ok(run("agent", "limit", key.agent_id, "default"))
    listed = ok_json(run("agent", "list", "--json"))["agents"]
    mine = [a for a in listed if a["agent_id"] == key.agent_id][0]
    assert mine["limit_quota"] is None
    line = [ln for ln in ok(run("agent", "list")).stdout.splitlines()
            if key.agent_id in ln][0]
    assert " default " in line
