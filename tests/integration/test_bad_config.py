"""A bad setting stops otas-session at start (README, Configuration): exit
status 1, exactly one line on stderr naming the variable (never its secret
value or the database password), and no response at all — a web server
that gets none reports a failed backend instead of passing on half an
answer.

The program is run directly as plain CGI with a complete, otherwise valid
request in its environment, so the only reason for it not to answer is the
setting under test (the control case shows that it answers then).
"""

import os
import subprocess

import pytest

from harness import stack

SECRET_31 = "s" * 31
DB_PASSWORD = "hunter2-do-not-echo"


@pytest.fixture(scope="module")
def files(workdir):
    """Secret files of the cases, readable by www-data unless noted."""
    d = os.path.join(workdir, "bad-config")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    short = os.path.join(d, "short-secret")
    stack.write_secret(short, SECRET_31.encode())
    locked = os.path.join(d, "root-only-secret")
    stack.write_secret(locked, stack.random_secret(48), owner="root")
    os.chmod(locked, 0o600)
    return {"short": short, "locked": locked,
            "missing": os.path.join(d, "no-such-file")}


def cgi_env(app, **overrides):
    """A complete CGI request for the session endpoint plus the program's
    settings; an override of None removes the variable."""
    env = stack.session_cgi_env("not a key")
    env.update(app.env)
    return stack.overridden(env, overrides)


def run_cgi(app, env, user=stack.SERVER_USER):
    return subprocess.run([app.binary("otas-session")], input=b"{}",
                          env=env, capture_output=True, timeout=30,
                          user=user, cwd="/")


def test_a_good_configuration_answers_the_request(app):
    """The control: with valid settings the same run prints a response."""
    r = run_cgi(app, cgi_env(app))
    assert r.returncode == 0, r
    assert b"Status: 401" in r.stdout, r.stdout
    assert b"invalid_agent_key" in r.stdout


CASES = {
    "missing_secret": (dict(OTAS_JWT_SECRET_FILE=None, OTAS_JWT_SECRET=None),
                       "OTAS_JWT_SECRET"),
    "short_secret_variable": (dict(OTAS_JWT_SECRET_FILE=None,
                                   OTAS_JWT_SECRET=SECRET_31),
                              "OTAS_JWT_SECRET"),
    "empty_secret_variable": (dict(OTAS_JWT_SECRET_FILE=None,
                                   OTAS_JWT_SECRET=""), "OTAS_JWT_SECRET"),
    "short_secret_file": ({"OTAS_JWT_SECRET_FILE": "short"},
                          "OTAS_JWT_SECRET_FILE"),
    "missing_secret_file": ({"OTAS_JWT_SECRET_FILE": "missing"},
                            "OTAS_JWT_SECRET_FILE"),
    "unreadable_secret_file": ({"OTAS_JWT_SECRET_FILE": "locked"},
                               "OTAS_JWT_SECRET_FILE"),
    "malformed_database_url": (
        dict(OTAS_DATABASE_URL="postgresql://otas:%s@[127.0.0.1:5432/otas"
             % DB_PASSWORD), "OTAS_DATABASE_URL"),
    "malformed_conninfo": (
        dict(OTAS_DATABASE_URL="host=127.0.0.1 password='%s" % DB_PASSWORD),
        "OTAS_DATABASE_URL"),
    "max_body_not_a_number": (dict(OTAS_MAX_BODY="64k"), "OTAS_MAX_BODY"),
    "max_body_negative": (dict(OTAS_MAX_BODY="-1"), "OTAS_MAX_BODY"),
    "max_body_overflowing": (dict(OTAS_MAX_BODY="99999999999999999999999"),
                             "OTAS_MAX_BODY"),
    "statement_timeout_not_a_number": (
        dict(OTAS_STATEMENT_TIMEOUT_MS="2s"), "OTAS_STATEMENT_TIMEOUT_MS"),
    "connect_timeout_not_a_number": (dict(OTAS_CONNECT_TIMEOUT="two"),
                                     "OTAS_CONNECT_TIMEOUT"),
    "unnamed_statements_not_a_flag": (dict(OTAS_DB_UNNAMED_STATEMENTS="yes"),
                                      "OTAS_DB_UNNAMED_STATEMENTS"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_setting_stops_at_start_with_one_line_and_no_response(
        app, files, case):
    overrides, variable = CASES[case]
    overrides = {k: files.get(v, v) if k == "OTAS_JWT_SECRET_FILE" else v
                 for k, v in overrides.items()}
    r = run_cgi(app, cgi_env(app, **overrides))
    assert r.returncode == 1, r
    assert r.stdout == b"", "printed a response: %r" % r.stdout
    err = r.stderr.decode("utf-8", "replace")
    assert err.endswith("\n") and err.count("\n") == 1, \
        "not one line: %r" % err
    assert variable in err, err
    assert DB_PASSWORD not in err and SECRET_31 not in err, err
