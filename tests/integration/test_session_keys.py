"""The agent key on POST /api/agent/v1/session/create/ (README, The endpoint
and Keys): every way a key is refused answers the same 401 and writes
nothing; keys in the original backend's formats (prefixes with '_' or '-',
shared prefixes, Django's own hashes) are accepted; a key's state is
re-checked on every request, whatever the process remembers; and neither the
answer nor the log ever carries a key, a token or the secret.
"""

import datetime

import jwt
import pytest

from harness.otas_http import assert_error, create_session, request
from harness.stack import (django_pbkdf2, new_prefix, new_secret,
                           original_prefix)


def session_count(pg):
    return pg.scalar("SELECT count(*) FROM agent_session")


def created_session(resp, secret):
    """The claims of a 200 answer (shape is test_session_contract's job)."""
    assert resp.status == 200, resp
    body = resp.json()
    assert body["status"] == 1, body
    return jwt.decode(body["response"]["jwt_token"], secret.value,
                      algorithms=["HS256"])


def assert_refused(server, pg, key_header_values, body="{}"):
    """401 invalid_agent_key, nothing echoed, and no row written."""
    n = session_count(pg)
    headers = [("X-OTAS-AGENT-KEY", v) for v in key_header_values]
    headers.append(("Content-Type", "application/json"))
    resp = request(server, headers=headers, body=body)
    assert_error(resp, 401, "invalid_agent_key")
    for v in key_header_values:
        text = v if isinstance(v, str) else v.decode("latin-1")
        if len(text) >= 8:
            assert text.encode() not in resp.body
    assert session_count(pg) == n
    return resp


# --- refused ---------------------------------------------------------------

def test_rejects_missing_key(server, pg):
    assert_refused(server, pg, [])


def test_rejects_empty_key(server, pg):
    assert_refused(server, pg, [""])


@pytest.mark.parametrize("value", [
    "agent_abc$def_ghijkl",
    "agent_abc def_ghijkl",
    "agent_abc.def_ghijkl",
    "agent_abc+def/ghi=",
    "agent_abc;def_ghijkl",
    "agent_abc,def_ghijkl",
], ids=["dollar", "space", "dot", "base64_standard", "semicolon", "comma"])
def test_rejects_key_with_bytes_outside_the_alphabet(server, pg, value):
    assert_refused(server, pg, [value])


def test_rejects_key_with_non_ascii_bytes(server, pg, keys):
    key = keys.make()
    assert_refused(server, pg, [key.full.encode() + "é".encode()])


def test_rejects_key_longer_than_512_bytes(server, pg, keys):
    key = keys.make(secret="A" * 600)
    assert len(key.full) > 512
    assert_refused(server, pg, [key.full])


def test_keys_of_512_and_513_bytes_are_refused_alike(server, pg):
    """513 is malformed; 512 is merely unknown: the same 401 for both."""
    assert_refused(server, pg, ["agent_x_" + "A" * (512 - 8)])
    assert_refused(server, pg, ["agent_x_" + "A" * (513 - 8)])


@pytest.mark.parametrize("fmt", ["{prefix}_{secret}", "Agent_{prefix}_{secret}",
                                 "AGENT_{prefix}_{secret}",
                                 "agent-{prefix}_{secret}",
                                 "key_{prefix}_{secret}",
                                 "agent_{prefix}{secret}",
                                 "agent__{secret}", "agent_{prefix}_",
                                 "agent_"],
                         ids=["no_agent_prefix", "capital_Agent", "AGENT",
                              "dash_after_agent", "key_instead",
                              "no_separator", "empty_prefix",
                              "empty_secret", "bare_agent_"])
def test_rejects_key_not_of_the_form_agent_prefix_secret(server, pg, keys,
                                                         fmt):
    key = keys.make()
    assert_refused(server, pg, [fmt.format(prefix=key.prefix,
                                           secret=key.secret)])


def test_rejects_unknown_prefix(server, pg, keys):
    key = keys.make()
    other = "agent_%s_%s" % ("Zz" + key.prefix[2:], key.secret)
    if other != key.full:
        assert_refused(server, pg, [other])


def test_rejects_wrong_secret(server, pg, keys):
    key = keys.make()
    wrong = key.secret[:-1] + ("A" if key.secret[-1] != "A" else "B")
    assert_refused(server, pg, ["agent_%s_%s" % (key.prefix, wrong)])


def test_rejects_right_secret_for_another_prefix(server, pg, keys):
    a, b = keys.make(), keys.make()
    assert_refused(server, pg, ["agent_%s_%s" % (a.prefix, b.secret)])


def test_rejects_inactive_key(server, pg, keys):
    assert_refused(server, pg, [keys.make(active=False).full])


def test_rejects_revoked_key(server, pg, keys):
    assert_refused(server, pg, [keys.make(revoked=True).full])


def test_rejects_expired_key(server, pg, keys):
    assert_refused(server, pg, [keys.make(expires_in=-60).full])


def test_rejects_key_of_inactive_agent(server, pg, keys):
    assert_refused(server, pg, [keys.make(agent_active=False).full])


def test_rejects_key_sent_twice_even_when_valid(server, pg, keys):
    key = keys.make()
    assert_refused(server, pg, [key.full, key.full])


def test_rejects_two_different_keys(server, pg, keys):
    assert_refused(server, pg, [keys.make().full, keys.make().full])


def test_rejects_key_plus_underscore_spelling_of_the_header(server, pg,
                                                            keys, secret):
    """lighttpd passes X_OTAS_AGENT_KEY as a second HTTP_X_OTAS_AGENT_KEY;
    servers that drop underscore headers simply see the one key."""
    key = keys.make()
    n = session_count(pg)
    resp = request(server, headers=[("X-OTAS-AGENT-KEY", key.full),
                                    ("X_OTAS_AGENT_KEY", key.full)],
                   body="{}")
    if server.maps_underscore_headers:
        assert_error(resp, 401, "invalid_agent_key")
        assert session_count(pg) == n
    else:
        created_session(resp, secret)


def test_refusals_are_indistinguishable(server, pg, keys):
    """One answer for all: same status, headers and bytes (no oracle)."""
    good = keys.make()
    answers = [
        assert_refused(server, pg, []),
        assert_refused(server, pg, ["agent_%s_%s" % (good.prefix, "x" * 43)]),
        assert_refused(server, pg, [keys.make(revoked=True).full]),
        assert_refused(server, pg, ["agent_unknownpfx1_" + good.secret]),
        assert_refused(server, pg, ["garbage"]),
    ]
    # Framing and dates are the transport's, not the answer's: Apache's
    # mod_cgi sends Content-Length or chunks as the script's output happens
    # to arrive, for the very same request.
    transport = ("date", "content-length", "transfer-encoding", "connection",
                 "keep-alive")

    def names(r):
        return sorted(k.lower() for k, _ in r.headers
                      if k.lower() not in transport)

    for r in answers:
        assert r.body == answers[0].body
        assert names(r) == names(answers[0])


# --- accepted --------------------------------------------------------------

def test_accepts_key_issued_here(server, pg, keys, secret):
    key = keys.make()
    claims = created_session(create_session(server, key, "{}"), secret)
    assert claims["agent_id"] == key.agent_id


@pytest.mark.parametrize("sep", ["_", "-"])
def test_accepts_original_backend_prefix_containing(server, pg, keys,
                                                    secret, sep):
    key = keys.make(prefix=original_prefix(sep))
    claims = created_session(create_session(server, key, "{}"), secret)
    assert pg.scalar("SELECT agent_key_id::text FROM agent_session"
                     " WHERE id = %s", (claims["agent_session_id"],)) == \
        key.key_id


def test_accepts_prefix_with_several_underscores(server, pg, keys, secret):
    key = keys.make(prefix="a_b_c_d", secret="s_e_c_r_e_t_" + "Q" * 30)
    created_session(create_session(server, key, "{}"), secret)


def test_accepts_each_of_several_keys_sharing_a_prefix(server, pg, keys,
                                                       secret):
    a = keys.make()
    b = keys.make(prefix=a.prefix, agent_id=a.agent_id)
    c = keys.make(prefix=a.prefix)               # another agent, too
    for k in (a, b, c):
        claims = created_session(create_session(server, k, "{}"), secret)
        assert claims["agent_id"] == k.agent_id
        assert pg.scalar("SELECT agent_key_id::text FROM agent_session"
                         " WHERE id = %s", (claims["agent_session_id"],)) \
            == k.key_id


def test_shared_prefix_revoked_row_does_not_block_active_one(server, pg,
                                                             keys, secret):
    revoked = keys.make(revoked=True)
    active = keys.make(prefix=revoked.prefix)
    assert_refused(server, pg, [revoked.full])
    created_session(create_session(server, active, "{}"), secret)


def test_accepts_key_expiring_in_the_future(server, keys, secret):
    created_session(create_session(server, keys.make(expires_in=3600),
                                   "{}"), secret)


def test_accepts_hash_with_original_iteration_count(server, keys, secret):
    key = keys.make(iterations=260000)
    for _ in range(2):
        created_session(create_session(server, key, "{}", timeout=30),
                        secret)


def test_accepts_hash_made_by_django_itself(server, keys, secret):
    from django.conf import settings
    if not settings.configured:
        settings.configure(PASSWORD_HASHERS=[
            "django.contrib.auth.hashers.PBKDF2PasswordHasher"])
    from django.contrib.auth.hashers import make_password
    prefix, sec = new_prefix(), new_secret()
    full = "agent_%s_%s" % (prefix, sec)
    key = keys.make(prefix=prefix, secret=sec,
                    hashed_key=make_password(full))
    assert key.full == full
    created_session(create_session(server, key, "{}", timeout=30), secret)


def test_sets_last_used_at(server, pg, keys, secret):
    key = keys.make()
    assert pg.scalar("SELECT last_used_at FROM agent_key WHERE id = %s",
                     (key.key_id,)) is None
    created_session(create_session(server, key, "{}"), secret)
    used = pg.scalar("SELECT last_used_at FROM agent_key WHERE id = %s",
                     (key.key_id,))
    assert used is not None
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - used).total_seconds()) < 60


# --- state is re-checked on every request ----------------------------------

@pytest.mark.parametrize("change", ["revoke", "deactivate", "expire",
                                    "agent_inactive", "rehash"])
def test_state_change_takes_effect_on_the_next_request(server, pg, keys,
                                                       secret, change):
    """The key has just been verified (and may be remembered by the
    process); the next request must still see the database's word."""
    key = keys.make()
    # Several requests, so every process of the server has seen the key.
    for _ in range(6):
        created_session(create_session(server, key, "{}"), secret)
    now = datetime.datetime.now(datetime.timezone.utc)
    if change == "revoke":
        keys.set(key, revoked_at=now)
    elif change == "deactivate":
        keys.set(key, active=False)
    elif change == "expire":
        keys.set(key, expires_at=now - datetime.timedelta(seconds=1))
    elif change == "agent_inactive":
        keys.set_agent_active(key.agent_id, False)
    else:
        keys.set(key, hashed_key=django_pbkdf2("agent_other_secret",
                                               "saltsaltsalt", 1000))
    for _ in range(6):
        assert_refused(server, pg, [key.full])


# --- nothing secret leaks --------------------------------------------------

def test_answers_never_echo_the_key(server, pg, keys, secret):
    key = keys.make()
    resp = create_session(server, key, "{}")
    assert key.secret.encode() not in resp.body
    wrong = "agent_%s_%s" % (key.prefix, "W" * 43)
    resp = create_session(server, wrong, "{}")
    assert_error(resp, 401, "invalid_agent_key")
    assert b"W" * 43 not in resp.body
    assert key.prefix.encode() not in resp.body


def test_log_has_a_line_per_request_and_no_key_or_token(server, pg, keys,
                                                        secret):
    key = keys.make()
    wrong = "agent_%s_%s" % (key.prefix, "V" * 43)
    mark = server.log_mark()
    resp = create_session(server, key, '{"meta": {"x": 1}}')
    token = resp.json()["response"]["jwt_token"]
    create_session(server, wrong, "{}")
    create_session(server, "agent_" + "y" * 600, "{}")
    create_session(server, key, "[")
    log = server.log_since(mark)
    for status in ("200", "401", "400"):
        assert status in log, log
    assert key.secret not in log
    assert key.full not in log
    assert "V" * 43 not in log
    assert "y" * 100 not in log
    assert token not in log
    # The token's signature alone must not be there either.
    assert token.rsplit(".", 1)[1] not in log


def test_whole_log_never_contains_any_key_or_the_jwt_secret(server, keys,
                                                            secret):
    """Runs late (file order): every key made so far in the session."""
    log = server.error_log()
    assert log, "empty error log: where do the program's lines go?"
    for key in keys.made:
        assert key.full not in log
        if len(key.secret) >= 16:
            assert key.secret not in log
    assert secret.value.decode("latin-1") not in log
