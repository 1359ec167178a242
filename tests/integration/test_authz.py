"""otas-authz (README, Protecting later calls), over real HTTP through each
web server: a request to the protected example URL /api/some/v1/endpoint/
reaches otas-echo only with a session token that passes every check, and the
echo program then sees the three variables the authorizer set; every other
token is 401 {"status": 0, "status_description": "invalid_session_token"}
and the echo program never runs.  Also: secret rotation (previous secret
accepted while configured, refused once removed) and the database mode (a
disabled agent's token is refused).

Tokens are minted by the real session endpoint, or with PyJWT and the
same secret and claims, or by hand where PyJWT refuses (alg none).
"""

import base64
import contextlib
import json
import os
import subprocess
import time
import uuid

import jwt
import pytest

from harness import authz_servers
from harness import processes
from harness import stack
from harness.otas_http import assert_common_headers, create_session, request

PROTECTED = "/api/some/v1/endpoint/"
TOKEN_HEADER = "X-OTAS-AGENT-SESSION-TOKEN"
DENIED = {"status": 0, "status_description": "invalid_session_token"}


# --- minting ----------------------------------------------------------------

def claims(**over):
    """Well-formed claims of a session that is valid now; over replaces
    members (a value of None removes the member)."""
    now = int(time.time())
    return stack.overridden(
        {"agent_session_id": str(uuid.uuid4()), "agent_id": str(uuid.uuid4()),
         "iat": now, "exp": now + 3600}, over)


def mint(secret, alg="HS256", **over):
    return jwt.encode(claims(**over), secret, algorithm=alg)


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def mint_alg_none(**over):
    """An unsigned token, {"alg":"none"}, as an attacker would send it."""
    head = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims(**over)).encode())
    return head + "." + body + "."


def tamper(token):
    """The same token with one claim changed and the signature kept."""
    head, body, sig = token.split(".")
    c = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    c["agent_id"] = str(uuid.uuid4())
    return head + "." + b64url(json.dumps(c).encode()) + "." + sig


def session_token(server, keys):
    """(token, claims) from the real session endpoint."""
    key = keys.make()
    resp = create_session(server, key, body='{"meta": {"task": "summarize", '
                          '"input_length": 512}}')
    assert resp.status == 200, resp
    token = resp.json()["response"]["jwt_token"]
    return token, jwt.decode(token, options={"verify_signature": False})


# --- calling the protected URL ---------------------------------------------

def call(server, token=None, headers=(), method="GET"):
    hdrs = [] if token is None else [(TOKEN_HEADER, token)]
    hdrs.extend(headers)
    return request(server, method=method, path=PROTECTED, headers=hdrs)


def assert_passed(resp, c):
    """The echo program answered, with the token's claims as variables."""
    assert resp.status == 200, resp
    assert_common_headers(resp)
    assert resp.json() == {
        "status": 1, "status_description": "ok",
        "response": {"agent_session_id": c["agent_session_id"],
                     "agent_id": c["agent_id"],
                     "session_expires": c["exp"]}}, resp


def assert_denied(server, resp):
    """401; the JSON body wherever the server lets the authorizer's body
    through (mod_fcgid puts its own 401 page in its place)."""
    assert resp.status == 401, resp
    assert b"agent_session_id" not in resp.body, resp
    if server.kind not in DENIAL_BODY_DROPPED:
        assert_common_headers(resp)
        assert resp.json() == DENIED, resp


# --- which servers --------------------------------------------------------

# Kinds whose authorizer hook replaces the denial's body with the server's
# own 401 page (the README points to mod_authnz_fcgi instead).
DENIAL_BODY_DROPPED = ("apache-fcgid",)


@pytest.fixture(scope="session", params=authz_servers.kinds())
def authz(request, servers, workdir, app):
    kind = request.param
    if kind in ("lighttpd", "apache-fcgid"):
        yield servers.get(kind)
        return
    with authz_servers.start_private(
            kind, os.path.join(workdir, "authz-" + kind), app) as srv:
        yield srv


# --- tokens that pass ----------------------------------------------------

def test_seed_examples_chain_create_a_session_then_call_a_protected_url(
        authz, keys):
    # The seed's two curl examples, in order: the second is a POST with
    # a JSON body and the token the first answered.
    token, c = session_token(authz, keys)
    resp = request(authz, method="POST", path=PROTECTED, body=b"{}",
                   headers=[(TOKEN_HEADER, token),
                            ("Content-Type", "application/json")])
    assert_passed(resp, c)


def test_passes_a_token_from_the_session_endpoint_on_get(authz, keys):
    token, c = session_token(authz, keys)
    assert_passed(call(authz, token), c)


def test_passes_a_pyjwt_token_with_the_same_secret_and_claims(authz, secret):
    c = claims()
    assert_passed(call(authz, jwt.encode(c, secret.value, algorithm="HS256")),
                  c)


def test_passes_on_any_method_without_reading_a_body(authz, secret):
    c = claims()
    resp = request(authz, method="POST", path=PROTECTED,
                   headers=[(TOKEN_HEADER, jwt.encode(c, secret.value,
                                                      algorithm="HS256"))],
                   body=b'{"x": 1}')
    assert_passed(resp, c)


def test_passes_iat_within_the_leeway(authz, secret):
    c = claims(iat=int(time.time()) + 20)
    assert_passed(call(authz, jwt.encode(c, secret.value,
                                         algorithm="HS256")), c)


# --- tokens that do not pass -----------------------------------------------

def test_rejects_a_missing_header(authz):
    assert_denied(authz, call(authz))


def test_rejects_an_empty_header(authz):
    assert_denied(authz, call(authz, ""))


def test_rejects_the_header_sent_twice(authz, secret):
    token = mint(secret.value)
    resp = call(authz, token, headers=[(TOKEN_HEADER, token)])
    assert_denied(authz, resp)


def test_rejects_a_tampered_payload(authz, secret):
    assert_denied(authz, call(authz, tamper(mint(secret.value))))


def test_rejects_a_tampered_signature(authz, secret):
    token = mint(secret.value)
    head, body, sig = token.split(".")
    sig = ("A" if sig[0] != "A" else "B") + sig[1:]
    assert_denied(authz, call(authz, ".".join((head, body, sig))))


def test_rejects_an_expired_token(authz, secret):
    now = int(time.time())
    assert_denied(authz, call(authz, mint(secret.value, iat=now - 7200,
                                          exp=now - 3600)))


def test_rejects_iat_in_the_future(authz, secret):
    now = int(time.time())
    assert_denied(authz, call(authz, mint(secret.value, iat=now + 3600,
                                          exp=now + 7200)))


def test_rejects_a_token_signed_with_another_secret(authz):
    assert_denied(authz, call(authz, mint(stack.random_secret(48))))


def test_rejects_alg_none(authz):
    assert_denied(authz, call(authz, mint_alg_none()))


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_rejects_another_hmac_with_the_right_secret(authz, secret, alg):
    assert_denied(authz, call(authz, mint(secret.value, alg=alg)))


@pytest.mark.parametrize("member,value", [
    ("agent_session_id", "not-a-uuid"),
    ("agent_id", "0190a1b2c3d47e5f8a9b0c1d2e3f4a5b"),
    ("agent_id", 42),
    ("exp", "4102444800"),
    ("exp", 4102444800.5),
    ("iat", "1700000000"),
    ("exp", None),
    ("iat", None),
    ("agent_session_id", None),
])
def test_rejects_malformed_claims(authz, secret, member, value):
    c = claims()
    if value is None:
        del c[member]
    else:
        c[member] = value
    token = jwt.encode(c, secret.value, algorithm="HS256")
    assert_denied(authz, call(authz, token))


def test_rejects_a_64_kib_token(authz, secret):
    pad = "a" * (64 * 1024)
    resp = call(authz, mint(secret.value, pad=pad))
    # A web server may refuse a header this big itself (lighttpd: 431);
    # what must never happen is the echo program answering.
    assert resp.status in (401, 400, 413, 431), resp
    if resp.status == 401:
        assert_denied(authz, resp)


def test_rejects_a_token_just_over_4_kib(authz, secret):
    token = mint(secret.value, pad="a" * 4096)
    assert 4096 < len(token) < 8000
    assert_denied(authz, call(authz, token))


def test_a_client_cannot_set_the_variables_itself(authz):
    resp = call(authz, headers=[
        ("OTAS-AGENT-ID", str(uuid.uuid4())),
        ("Variable-OTAS_AGENT_ID", str(uuid.uuid4()))])
    assert_denied(authz, resp)


def test_logs_the_reason_but_never_the_token(authz, secret):
    token = mint(secret.value, alg="HS512")
    mark = authz.log_mark()
    assert_denied(authz, call(authz, token))
    log = authz.log_since(mark)
    assert "otas-authz" in log and "algorithm not HS256" in log, log
    assert token.split(".")[2] not in log and token not in log


# --- the program itself, outside any web server -----------------------------

def run_cgi(build_dir, env, timeout=10):
    """otas-authz as one plain CGI request: (exit status, stdout, stderr)."""
    base = {"PATH": "/usr/bin:/bin", "GATEWAY_INTERFACE": "CGI/1.1",
            "REQUEST_METHOD": "GET"}
    base.update(env)
    r = subprocess.run([os.path.join(build_dir, "otas-authz")], env=base,
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def cgi_status_and_body(out):
    head, _, body = out.partition(b"\r\n\r\n")
    status = int(head.split(b"\r\n")[0].split()[1])
    return status, body


def test_program_refuses_a_64_kib_token_before_decoding(build_dir, secret):
    # Web servers refuse a header this big themselves (lighttpd 431), so
    # the program's own cap is shown here, without one in front.
    token = mint(secret.value, pad="a" * (64 * 1024))
    rc, out, err = run_cgi(build_dir, {
        "OTAS_JWT_SECRET_FILE": secret.path,
        "HTTP_X_OTAS_AGENT_SESSION_TOKEN": token})
    assert rc == 0, err
    status, body = cgi_status_and_body(out)
    assert status == 401 and json.loads(body) == DENIED, out
    assert b"too long" in err and token.encode() not in err


def test_program_answers_a_responder_call_like_an_authorizer(build_dir,
                                                             secret):
    c = claims()
    rc, out, err = run_cgi(build_dir, {
        "OTAS_JWT_SECRET_FILE": secret.path,
        "HTTP_X_OTAS_AGENT_SESSION_TOKEN": jwt.encode(c, secret.value,
                                                      algorithm="HS256")})
    assert rc == 0, err
    status, body = cgi_status_and_body(out)
    assert status == 200, out
    head = out.partition(b"\r\n\r\n")[0].decode()
    assert "Variable-OTAS_AGENT_SESSION_ID: %s\r\n" % c[
        "agent_session_id"] in head
    assert "Variable-OTAS_AGENT_ID: %s\r\n" % c["agent_id"] in head
    assert "Variable-OTAS_SESSION_EXPIRES: %d\r\n" % c["exp"] in head


@pytest.mark.parametrize("env,says", [
    ({}, "OTAS_JWT_SECRET"),
    ({"OTAS_JWT_SECRET": "too short"}, "at least 32"),
    ({"OTAS_JWT_SECRET_FILE": "/nonexistent/secret"}, "OTAS_JWT_SECRET_FILE"),
    ({"OTAS_JWT_SECRET": "x" * 40, "OTAS_AUTHZ_CHECK_DB": "maybe"},
     "OTAS_AUTHZ_CHECK_DB"),
    ({"OTAS_JWT_SECRET": "x" * 40, "OTAS_AUTHZ_CACHE_SECONDS": "-1"},
     "OTAS_AUTHZ_CACHE_SECONDS"),
    ({"OTAS_JWT_SECRET": "x" * 40,
      "OTAS_JWT_PREVIOUS_SECRET_FILE": "/nonexistent/old"},
     "OTAS_JWT_PREVIOUS_SECRET_FILE"),
])
def test_program_stops_at_start_on_a_bad_setting(build_dir, env, says):
    rc, out, err = run_cgi(build_dir, env)
    assert rc == 1 and out == b"", (rc, out, err)
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("otas-authz: "), err
    assert says in lines[0], err


# --- configurations of their own: rotation, database mode -------------------

# What a denial by the database mode's 503 looks like to the client: nginx
# turns any auth_request answer but 2xx/401/403 into 500, and mod_fcgid
# answers 401 whatever the access checker said.
UNAVAILABLE_STATUS = {"nginx": 500, "apache-fcgid": 401}


@pytest.fixture
def own_server(workdir, app, authz):
    """Starts a server of the kind under test from its example, with
    extra OTAS_* settings, in a directory of its own; every instance is
    stopped at the end."""
    started = []

    def start(name, **env):
        base = os.path.join(workdir, "authz-%s-%s-%d" % (
            authz.kind, name, len(started)))
        srv = authz_servers.start_private(
            authz.kind, base, stack.App(app.build, dict(app.env, **env)))
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def new_secret_file(workdir, name):
    path = os.path.join(workdir, "etc", "authz-%s-%s" % (
        name, uuid.uuid4().hex[:8]))
    value = stack.random_secret(48)
    stack.write_secret(path, value)
    return path, value


def test_previous_secret_passes_during_rotation_and_fails_after(
        workdir, secret, own_server):
    new_path, new_value = new_secret_file(workdir, "new")
    old_token_claims = claims()
    old_token = jwt.encode(old_token_claims, secret.value, algorithm="HS256")
    new_claims = claims()
    new_token = jwt.encode(new_claims, new_value, algorithm="HS256")

    during = own_server("rotating", OTAS_JWT_SECRET_FILE=new_path,
                          OTAS_JWT_PREVIOUS_SECRET_FILE=secret.path)
    assert_passed(call(during, old_token), old_token_claims)
    assert_passed(call(during, new_token), new_claims)
    assert_denied(during, call(during, mint(stack.random_secret(48))))
    during.stop()

    after = own_server("rotated", OTAS_JWT_SECRET_FILE=new_path)
    assert_denied(after, call(after, old_token))
    assert_passed(call(after, new_token), new_claims)


@contextlib.contextmanager
def agent_inactive_after_a_pass(srv, keys):
    """A session whose token passes; then, for the block, its agent made
    inactive (active again after).  Yields the token and its claims."""
    token, c = session_token(srv, keys)
    assert_passed(call(srv, token), c)
    keys.set_agent_active(c["agent_id"], False)
    try:
        yield token, c
    finally:
        keys.set_agent_active(c["agent_id"], True)


def test_database_mode_refuses_a_disabled_agent(own_server, keys):
    srv = own_server("db", OTAS_AUTHZ_CHECK_DB="1",
                       OTAS_AUTHZ_CACHE_SECONDS="0")
    with agent_inactive_after_a_pass(srv, keys) as (token, c):
        assert_denied(srv, call(srv, token))
    assert_passed(call(srv, token), c)


def test_database_mode_refuses_a_signed_token_of_an_unknown_session(
        own_server, secret):
    srv = own_server("db-unknown", OTAS_AUTHZ_CHECK_DB="1")
    assert_denied(srv, call(srv, mint(secret.value)))


def test_database_mode_remembers_a_positive_answer_only_briefly(
        own_server, keys):
    srv = own_server("db-cache", OTAS_AUTHZ_CHECK_DB="1",
                       OTAS_AUTHZ_CACHE_SECONDS="2")
    with agent_inactive_after_a_pass(srv, keys) as (token, _):
        # Whichever process answers, its entry is at most 2 s old.
        time.sleep(2.5)
        assert_denied(srv, call(srv, token))


def test_database_mode_answers_503_when_the_database_is_unreachable(
        own_server, secret):
    dead = "postgresql://postgres@127.0.0.1:%d/otas" % processes.free_port()
    srv = own_server("db-down", OTAS_AUTHZ_CHECK_DB="1",
                       OTAS_DATABASE_URL=dead, OTAS_CONNECT_TIMEOUT="1")
    resp = call(srv, mint(secret.value))
    assert resp.status == UNAVAILABLE_STATUS.get(srv.kind, 503), resp
    assert b"agent_session_id" not in resp.body
    if resp.status == 503:
        assert resp.json() == {"status": 0,
                               "status_description": "service_unavailable"}


def test_stateless_mode_needs_no_database(own_server, secret):
    dead = "postgresql://postgres@127.0.0.1:%d/otas" % processes.free_port()
    srv = own_server("stateless", OTAS_DATABASE_URL=dead)
    c = claims()
    assert_passed(call(srv, jwt.encode(c, secret.value, algorithm="HS256")),
                  c)
