"""POST /api/agent/v1/session/create/ — the HTTP contract (README, The
endpoint), over real HTTP through each web server: the success shape, the
stored row, the token, the headers on every answer, and every error row of
the table (405, 413, 400 invalid_json, 400 invalid_meta, 503) with the order
in which the checks are made.  Key states and look-up are in
test_session_keys.py.
"""

import json
import re
import subprocess
import time

import jwt
import pytest

from conftest import TOKEN_TTL_DEFAULT
from harness.cases import cases
from harness.otas_http import (assert_common_headers, assert_error,
                               assert_unrouted, create_session, request)
from harness.stack import SESSION_PATH

SEED_CURL = """curl --request POST \\
  --url http://localhost:8000/api/agent/v1/session/create/ \\
  --header "X-OTAS-AGENT-KEY: agent_xYz1Ab2C_s3cr3tT0k3nV4lueG0esH3re..." \\
  --header "Content-Type: application/json" \\
  --data '{
    "meta": {
      "task": "summarize",
      "input_length": 512
    }
  }'"""


def session_count(pg):
    return pg.scalar("SELECT count(*) FROM agent_session")


def assert_created(resp, secret):
    """A 200 of exactly the documented shape; returns the decoded claims."""
    assert resp.status == 200, resp
    assert_common_headers(resp)
    assert resp.body.endswith(b"}\n"), resp   # the prompt on its own line
    body = resp.json()
    assert set(body) == {"status", "status_description", "response"}, body
    assert body["status"] == 1
    assert body["status_description"] == "agent_session_created"
    assert set(body["response"]) == {"Header_value", "jwt_token"}, body
    assert body["response"]["Header_value"] == "X-OTAS-AGENT-SESSION-TOKEN"
    token = body["response"]["jwt_token"]
    assert isinstance(token, str)
    claims = jwt.decode(token, secret.value, algorithms=["HS256"])
    return token, claims


def stored(pg, session_id):
    """(agent_id, agent_key_id, meta::text) of one agent_session row."""
    rows = pg.query("SELECT agent_id::text, agent_key_id::text, meta::text"
                    " FROM agent_session WHERE id = %s", (session_id,))
    assert len(rows) == 1, "no row %s" % session_id
    return rows[0]


def pg_jsonb_text(pg, meta_text):
    """What PostgreSQL itself makes of meta's bytes: the exact expectation
    for "stored exactly" (jsonb of what the client sent)."""
    return pg.scalar("SELECT %s::jsonb::text", (meta_text,))


@pytest.fixture
def key(keys):
    return keys.make()


# --- 200 -------------------------------------------------------------------

def test_creates_session_with_documented_shape_row_and_token(
        server, pg, keys, secret):
    key = keys.make()
    meta = '{"task": "summarize", "input_length": 512}'
    before = int(time.time())
    resp = create_session(server, key, '{"meta": %s}' % meta)
    after = int(time.time())
    token, claims = assert_created(resp, secret)

    assert set(claims) == {"agent_session_id", "agent_id", "iat", "exp"}, \
        claims
    assert claims["agent_id"] == key.agent_id
    assert before - 1 <= claims["iat"] <= after + 1
    assert claims["exp"] - claims["iat"] == TOKEN_TTL_DEFAULT
    assert jwt.get_unverified_header(token) == {"alg": "HS256",
                                                "typ": "JWT"}
    agent_id, key_id, meta_text = stored(pg, claims["agent_session_id"])
    assert agent_id == key.agent_id
    assert key_id == key.key_id
    assert meta_text == pg_jsonb_text(pg, meta)


def test_session_id_is_a_uuidv7(server, key, secret):
    _, claims = assert_created(create_session(server, key, "{}"), secret)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]"
                        r"{3}-[0-9a-f]{12}", claims["agent_session_id"])


def test_each_request_creates_a_new_session(server, pg, key, secret):
    ids = set()
    for _ in range(3):
        _, claims = assert_created(create_session(server, key, "{}"),
                                   secret)
        ids.add(claims["agent_session_id"])
    assert len(ids) == 3
    assert pg.scalar("SELECT count(*) FROM agent_session WHERE"
                     " agent_key_id = %s", (key.key_id,)) == 3


@pytest.mark.parametrize("body", [None, "", "{}", '{"meta": null}',
                                  '{"meta": {}}', ' \r\n\t{ } \n'],
                         ids=["absent", "empty", "no_meta", "meta_null",
                              "meta_empty", "whitespace_around"])
def test_stores_empty_meta_when_meta_is_absent_or_null(
        server, pg, key, secret, body):
    _, claims = assert_created(create_session(server, key, body), secret)
    assert stored(pg, claims["agent_session_id"])[2] == "{}"


META_EXACT = {
    "big_integer": '{"n": 123456789012345678901234567890}',
    "negative_big_integer": '{"n": -98765432109876543210987654321}',
    "long_decimal": '{"d": 0.1000000000000000000001}',
    "exponent": '{"e": 1.5e300, "f": 12345678901234567890e-5}',
    "unicode_raw": '{"city": "Zürich", "jp": "東京", "emoji": "🚀"}',
    "unicode_escaped": '{"s": "caf\\u00e9 \\ud83d\\ude80 \\u2028"}',
    "escapes": '{"q": "a\\"b\\\\c\\/d\\n\\t"}',
    "nested": '{"a": [1, 2.50, {"b": [true, false, null]}], "c": {}}',
    "duplicate_members": '{"k": 1, "k": 2}',
}


@pytest.mark.parametrize("meta", **cases(META_EXACT))
def test_stores_meta_exactly_as_sent(server, pg, key, secret, meta):
    _, claims = assert_created(
        create_session(server, key, '{"meta": %s}' % meta), secret)
    assert stored(pg, claims["agent_session_id"])[2] == \
        pg_jsonb_text(pg, meta)


def test_big_numbers_keep_every_digit(server, pg, key, secret):
    """Spelled out, not only compared with PostgreSQL: no double inside."""
    body = ('{"meta": {"n": 123456789012345678901234567890,'
            ' "d": 0.1000000000000000000001}}')
    _, claims = assert_created(create_session(server, key, body), secret)
    text = stored(pg, claims["agent_session_id"])[2]
    assert "123456789012345678901234567890" in text
    assert "0.1000000000000000000001" in text


def test_accepts_body_of_exactly_the_limit(server, pg, key, secret):
    head, tail = '{"meta": {"pad": "', '"}}'
    body = head + "x" * (65536 - len(head) - len(tail)) + tail
    assert len(body) == 65536
    _, claims = assert_created(create_session(server, key, body), secret)
    assert len(stored(pg, claims["agent_session_id"])[2]) > 65000


def test_accepts_nesting_depth_64(server, key, secret):
    # depth: the body's object 1, meta 2, then 62 arrays = 64.
    body = '{"meta": {"a": ' + "[" * 62 + "]" * 62 + "}}"
    assert_created(create_session(server, key, body), secret)


def test_accepts_content_type_with_charset_or_none(server, key, secret):
    resp = request(server, headers=[
        ("X-OTAS-AGENT-KEY", key.full),
        ("Content-Type", "application/json; charset=utf-8")], body="{}")
    assert_created(resp, secret)
    resp = request(server, headers=[("X-OTAS-AGENT-KEY", key.full)],
                   body="{}")
    assert_created(resp, secret)


def test_seed_curl_example_works_literally(server, pg, key, secret):
    """The documentation's curl command, with only key and port changed."""
    cmd = SEED_CURL.replace("agent_xYz1Ab2C_s3cr3tT0k3nV4lueG0esH3re...",
                            key.full)
    cmd = cmd.replace("localhost:8000", "localhost:%d" % server.port)
    assert cmd.startswith("curl ")
    out = subprocess.run(["/bin/bash", "-c", "/usr/bin/" + cmd],
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["status"] == 1
    assert body["status_description"] == "agent_session_created"
    claims = jwt.decode(body["response"]["jwt_token"], secret.value,
                        algorithms=["HS256"])
    assert stored(pg, claims["agent_session_id"])[2] == \
        '{"task": "summarize", "input_length": 512}'


# --- only the exact path ---------------------------------------------------

NEAR_PATHS = {
    "below": SESSION_PATH + "anything",
    "below_with_slash": SESSION_PATH + "anything/",
    "no_trailing_slash": SESSION_PATH.rstrip("/"),
}


@pytest.mark.parametrize("path", **cases(NEAR_PATHS))
def test_paths_near_the_endpoint_are_not_found_and_make_no_session(
        server, pg, key, path):
    """Every example routes the one path exactly (lighttpd's fastcgi.server
    keys alone would be prefixes, nginx would redirect the path without
    its slash): a valid key anywhere else gets the server's not-found."""
    assert_unrouted(server, create_session(server, key, "{}", path=path))
    assert pg.scalar("SELECT count(*) FROM agent_session WHERE"
                     " agent_key_id = %s", (key.key_id,)) == 0


def test_endpoint_with_a_query_string_still_creates(server, pg, key, secret):
    _, claims = assert_created(
        create_session(server, key, "{}", path=SESSION_PATH + "?via=query"),
        secret)
    assert stored(pg, claims["agent_session_id"])[1] == key.key_id


# --- 405 -------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_rejects_other_methods_with_405_and_allow_post(server, pg, key,
                                                      method):
    n = session_count(pg)
    resp = request(server, method=method,
                   headers=[("X-OTAS-AGENT-KEY", key.full)],
                   body="{}" if method != "GET" else None)
    assert_error(resp, 405, "method_not_allowed")
    assert resp.header("Allow") == "POST"
    assert session_count(pg) == n


def test_get_without_key_is_405_not_401(server):
    resp = request(server, method="GET")
    assert_error(resp, 405, "method_not_allowed")
    assert resp.header("Allow") == "POST"


def test_put_with_bad_key_and_bad_body_is_405(server):
    # (lighttpd itself refuses a GET with a body, so PUT carries one.)
    resp = request(server, method="PUT", body="[[[",
                   headers=[("X-OTAS-AGENT-KEY", "bad key")])
    assert_error(resp, 405, "method_not_allowed")


# --- 413 -------------------------------------------------------------------

def test_rejects_body_over_64_kib_with_413(server, pg, key):
    head, tail = '{"meta": {"pad": "', '"}}'
    body = head + "x" * (65537 - len(head) - len(tail)) + tail
    n = session_count(pg)
    assert_error(create_session(server, key, body), 413, "payload_too_large")
    assert session_count(pg) == n


def test_oversized_body_is_413_before_json_is_looked_at(server, key):
    # Content-Length over the limit with a body that is not JSON: the size
    # is decided first.
    assert_error(create_session(server, key, "x" * 100000), 413,
                 "payload_too_large")


def test_content_length_far_beyond_the_server_limit_is_refused(server, key):
    """No body at all follows: the refusal must come from Content-Length
    alone, before anything waits for 10 MB."""
    resp = request(server, headers=[("X-OTAS-AGENT-KEY", key.full)],
                   content_length=10 * 1024 * 1024, timeout=10)
    assert resp.status == 413, resp


def test_oversized_body_with_malformed_key_is_401(server):
    resp = create_session(server, "agent_bad$key_" + "A" * 43, "x" * 70000)
    assert_error(resp, 401, "invalid_agent_key")


def test_oversized_body_with_missing_key_is_401(server):
    assert_error(create_session(server, None, "x" * 70000), 401,
                 "invalid_agent_key")


def test_oversized_body_with_well_formed_unknown_key_is_413(server, pg):
    """Key *format* comes before size, the key's look-up after: the
    database is never asked about a request that is too large."""
    n = session_count(pg)
    resp = create_session(server, "agent_nosuchprefix_" + "A" * 43,
                          "x" * 70000)
    assert_error(resp, 413, "payload_too_large")
    assert session_count(pg) == n


# --- 400 invalid_json ------------------------------------------------------

INVALID_JSON = {
    "whitespace_only": b" \n\t ",
    "array": b"[]",
    "number": b"1",
    "string": b'"s"',
    "null": b"null",
    "true": b"true",
    "trailing_bytes": b"{}x",
    "two_objects": b"{}{}",
    "object_then_nul": b"{}\x00",
    "nan": b'{"meta": {"a": NaN}}',
    "infinity": b'{"meta": {"a": Infinity}}',
    "minus_infinity": b'{"meta": {"a": -Infinity}}',
    "line_comment": b'{"meta": {} // c\n}',
    "block_comment": b'{/* c */"meta": {}}',
    "trailing_comma_object": b'{"meta": {"a": 1,}}',
    "trailing_comma_array": b'{"meta": {"a": [1,]}}',
    "single_quotes": b"{'meta': {}}",
    "leading_zero": b'{"meta": {"a": 012}}',
    "raw_tab_in_string": b'{"meta": {"a": "x\ty"}}',
    "raw_newline_in_string": b'{"meta": {"a": "x\ny"}}',
    "invalid_utf8": b'{"meta": {"a": "\xff"}}',
    "overlong_utf8": b'{"meta": {"a": "\xc0\xaf"}}',
    "truncated_utf8": b'{"meta": {"a": "\xe6\x9d"}}',
    "truncated": b'{"meta": {"a": 1',
    "truncated_string": b'{"meta": "abc',
    "unquoted_key": b"{meta: {}}",
    "bare_word": b"hello",
    "depth_65": b'{"meta": {"a": ' + b"[" * 63 + b"]" * 63 + b"}}",
    "very_deep": b"[" * 10000,
}


# --- 400 invalid_meta ------------------------------------------------------

INVALID_META = {
    "array": '{"meta": []}',
    "array_of_objects": '{"meta": [{"a": 1}]}',
    "string": '{"meta": "task"}',
    "number": '{"meta": 1}',
    "true": '{"meta": true}',
    "false": '{"meta": false}',
    "nul_escape_in_value": '{"meta": {"a": "x\\u0000y"}}',
    "nul_escape_in_key": '{"meta": {"a\\u0000": 1}}',
    "nul_escape_deep": '{"meta": {"a": [{"b": ["\\u0000"]}]}}',
}


REFUSED_BODIES = {
    **{"json-" + name: (body, "invalid_json")
       for name, body in INVALID_JSON.items()},
    **{"meta-" + name: (body, "invalid_meta")
       for name, body in INVALID_META.items()},
}
assert len(REFUSED_BODIES) == len(INVALID_JSON) + len(INVALID_META)


@pytest.mark.parametrize("body, error", **cases(REFUSED_BODIES))
def test_rejects_body_not_one_json_object_or_meta_not_an_object(
        server, pg, key, body, error):
    n = session_count(pg)
    assert_error(create_session(server, key, body), 400, error)
    assert session_count(pg) == n


# --- order of checks -------------------------------------------------------

def test_malformed_key_with_bad_body_is_401(server):
    assert_error(create_session(server, "agent_no such_" + "A" * 43, "[1,"),
                 401, "invalid_agent_key")


def test_unknown_key_with_bad_body_is_400(server):
    """JSON is checked before the database: a well-formed key that does
    not exist still gets the body's answer."""
    assert_error(create_session(server, "agent_nosuch_" + "A" * 43, "[1,"),
                 400, "invalid_json")


def test_wrong_secret_with_bad_meta_is_400(server, keys):
    key = keys.make()
    assert_error(create_session(server, "agent_%s_%s" % (key.prefix,
                                                         "W" * 43),
                                '{"meta": 5}'), 400, "invalid_meta")


def test_missing_key_with_bad_body_is_401(server):
    assert_error(create_session(server, None, "{'x'"), 401,
                 "invalid_agent_key")


def test_malformed_key_with_bad_meta_is_401(server):
    assert_error(create_session(server, "not a key", '{"meta": []}'), 401,
                 "invalid_agent_key")


# --- 503 -------------------------------------------------------------------

def test_database_too_slow_is_503_with_retry_after(server, pg, key, secret):
    """A lock held on agent_session makes the insert wait past the
    statement timeout (default 2 s)."""
    assert_created(create_session(server, key, "{}"), secret)
    with pg.connect(autocommit=False) as conn:
        with conn.cursor() as cur:
            cur.execute("LOCK TABLE agent_session IN ACCESS EXCLUSIVE MODE")
            resp = create_session(server, key, "{}", timeout=30)
        conn.rollback()
    assert_error(resp, 503, "service_unavailable")
    assert resp.header("Retry-After") is not None
    assert re.fullmatch(r"\d+", resp.header("Retry-After"))
    assert_created(create_session(server, key, "{}"), secret)


def test_database_down_is_503_and_service_recovers(server, pg, keys, secret):
    key = keys.make()
    assert_created(create_session(server, key, "{}"), secret)
    pg.stop()
    try:
        resp = create_session(server, key, "{}", timeout=30)
        assert_error(resp, 503, "service_unavailable")
        assert resp.header("Retry-After") is not None
        # Checks before the database still answer without it.
        assert_error(create_session(server, "bad key", "{}"), 401,
                     "invalid_agent_key")
        assert_error(request(server, method="GET"), 405,
                     "method_not_allowed")
    finally:
        pg.start()
    server.database_back()
    # Every process meets a dead connection once; each must reconnect
    # (retry once on a fresh connection) rather than fail.
    for _ in range(8):
        assert_created(create_session(server, key, "{}", timeout=30),
                       secret)
