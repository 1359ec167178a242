"""One version everywhere: the VERSION file is the only place the number is
written; every program answers `--version` with it (one line, exit 0,
before it reads any setting, so a broken setting does not hide it), the
first log line of a serving process names the program, the version and the
settings in effect without a password or a secret, and debian/changelog
agrees with VERSION.
"""

import os
import re
import subprocess

import pytest

from harness import stack

PROGRAMS = ("otas-session", "otas-authz", "otas-echo", "otas-admin")
DB_PASSWORD = "pw-never-logged"
INLINE_SECRET = "inline-jwt-secret-that-is-never-logged-0123456789"


def version():
    with open(os.path.join(stack.ROOT, "VERSION")) as f:
        return f.read().strip()


@pytest.mark.parametrize("program", PROGRAMS)
def test_every_program_answers_version_with_the_version_file(
        build_dir, program):
    # A setting that would stop the program proves --version reads none.
    env = {"PATH": "/usr/bin:/bin", "OTAS_MAX_BODY": "junk"}
    r = subprocess.run([os.path.join(build_dir, program), "--version"],
                       env=env, capture_output=True, text=True, timeout=10,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r
    assert r.stdout == "%s %s\n" % (program, version())
    assert r.stderr == ""


def test_version_argument_is_not_honoured_under_a_cgi_server(app):
    """mod_cgi turns `?--version` into argv: the request is served."""
    env = dict(app.env, PATH="/usr/bin:/bin", GATEWAY_INTERFACE="CGI/1.1",
               REQUEST_METHOD="GET", SERVER_PROTOCOL="HTTP/1.1")
    r = subprocess.run([app.binary("otas-session"), "--version"], env=env,
                       capture_output=True, timeout=30, user=stack.SERVER_USER,
                       stdin=subprocess.DEVNULL, cwd="/")
    assert r.returncode == 0, r
    assert r.stdout.startswith(b"Status: 405"), r.stdout


def first_log_line(app, program, url):
    env = dict(app.env, PATH="/usr/bin:/bin", GATEWAY_INTERFACE="CGI/1.1",
               REQUEST_METHOD="GET", SERVER_PROTOCOL="HTTP/1.1",
               OTAS_DATABASE_URL=url, OTAS_THREADS="3",
               OTAS_JWT_SECRET=INLINE_SECRET)
    env.pop("OTAS_JWT_SECRET_FILE", None)
    r = subprocess.run([app.binary(program)], env=env, capture_output=True,
                       timeout=30, user=stack.SERVER_USER,
                       stdin=subprocess.DEVNULL, cwd="/")
    assert r.returncode == 0, r
    return r.stderr.decode().splitlines()[0]


@pytest.mark.parametrize("program", ("otas-session", "otas-authz"))
def test_first_log_line_names_version_and_settings_but_no_password(
        app, program):
    url = "postgresql://otasuser:%s@db.invalid:6543/otasdb" % DB_PASSWORD
    line = first_log_line(app, program, url)
    assert re.search(r" %s\[\d+\] start version=%s " % (
        program, re.escape(version())), line), line
    for shown in ("settings=none", "db_host=db.invalid", "db_port=6543",
                  "db_dbname=otasdb",
                  "db_user=otasuser", "threads=3", "jwt_secret=set"):
        assert shown in line.split(), line
    assert DB_PASSWORD not in line and INLINE_SECRET not in line


def test_conninfo_password_is_not_logged_either(app):
    url = "host=db.invalid dbname=otasdb password=%s user=u" % DB_PASSWORD
    line = first_log_line(app, "otas-session", url)
    assert "db_host=db.invalid" in line.split(), line
    assert DB_PASSWORD not in line and "password" not in line


def test_debian_changelog_names_the_version_in_version_file():
    with open(os.path.join(stack.ROOT, "debian", "changelog")) as f:
        first = f.readline()
    m = re.match(r"^otas-fcgi \(([^)]+)\) ", first)
    assert m, first
    assert m.group(1) == version()
