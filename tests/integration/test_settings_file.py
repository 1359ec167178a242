"""The settings file: otas.conf beside the program is read with no OTAS_*
variable in the environment, the way a shared host runs it — plain CGI,
started by absolute path (mod_fcgid, lighttpd) or by its bare name from
its own directory (suEXEC, mod_cgi).  A bad line stops the program with
one line naming the file and the line, a secret in a file others can
read is refused, and so is a file another user owns or could replace
(ssh's StrictModes).

The program runs as www-data from a private copy of the build, with a
complete CGI request and nothing else in its environment.
"""

import json
import os
import pwd
import shutil
import subprocess
import tempfile

import pytest

from harness import processes
from harness import stack


@pytest.fixture
def site(workdir, app):
    """A directory holding a copy of otas-session, owned by www-data."""
    d = tempfile.mkdtemp(prefix="site-", dir=workdir)
    os.chmod(d, 0o755)
    shutil.copy2(app.binary("otas-session"), d)
    processes.give_to(d, stack.SERVER_USER)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def write_conf(site, text, mode=0o600):
    path = os.path.join(site, "otas.conf")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    processes.give_to(path, stack.SERVER_USER)
    return path


def good_conf(pg, secret):
    return ("# written by the test\n"
            "OTAS_DATABASE_URL=%s\n"
            "\n"
            "OTAS_JWT_SECRET_FILE=%s\n" % (pg.url, secret.path))


def run(site, key, bare_name):
    """One CGI request; no OTAS_* and no SCRIPT_FILENAME in the env."""
    env = stack.session_cgi_env(key)
    prog = "otas-session" if bare_name else os.path.join(site,
                                                          "otas-session")
    return subprocess.run([prog], executable=os.path.join(site,
                          "otas-session"), input=b"{}", env=env,
                          capture_output=True, timeout=30,
                          user=stack.SERVER_USER,
                          cwd=site if bare_name else "/")


def body(stdout):
    head, _, rest = stdout.partition(b"\r\n\r\n")
    return head, json.loads(rest)


@pytest.mark.parametrize("bare_name", [False, True],
                         ids=["absolute_argv0", "bare_name_in_its_dir"])
def test_settings_only_from_the_file_beside_the_program_answer_200(
        site, pg, secret, keys, bare_name):
    write_conf(site, good_conf(pg, secret))
    key = keys.make()
    r = run(site, key.full, bare_name)
    assert r.returncode == 0, r
    head, doc = body(r.stdout)
    assert b"Status: 200" in head, r.stdout
    assert doc["status_description"] == "agent_session_created"
    assert pg.scalar("SELECT count(*) FROM agent_session WHERE agent_id = %s",
                     (key.agent_id,)) == 1


def test_unknown_setting_stops_with_one_line_naming_file_and_line(
        site, pg, secret, keys):
    path = write_conf(site, good_conf(pg, secret) + "OTAS_TOKEN_TLL=60\n")
    r = run(site, keys.make().full, bare_name=True)
    assert r.returncode == 1 and r.stdout == b"", r
    err = r.stderr.decode()
    assert err.count("\n") == 1, err
    assert "%s:5: unknown setting OTAS_TOKEN_TLL" % path in err


def test_secret_in_a_settings_file_others_can_read_is_refused(
        site, pg, secret, keys):
    path = write_conf(site, "OTAS_DATABASE_URL=%s\nOTAS_JWT_SECRET=%s\n" % (
        pg.url, "s" * 40), mode=0o644)
    r = run(site, keys.make().full, bare_name=True)
    assert r.returncode == 1 and r.stdout == b"", r
    err = r.stderr.decode()
    assert err.count("\n") == 1, err
    assert path in err and "chmod 600" in err
    assert "s" * 40 not in err


def one_line_refusal(r):
    assert r.returncode == 1 and r.stdout == b"", r
    err = r.stderr.decode()
    assert err.count("\n") == 1, err
    return err


def test_settings_file_of_another_user_is_refused(site, pg, secret, keys):
    # ssh's StrictModes: whoever owns the file decides what the program
    # does, so it must be the program's user's or root's.
    path = write_conf(site, good_conf(pg, secret), mode=0o644)
    os.chown(path, 65534, 65534)           # nobody
    err = one_line_refusal(run(site, keys.make().full, bare_name=True))
    assert "the settings file %s belongs to uid 65534, not to the user the " \
        "program runs as (uid %d) or root" % (
            path, pwd.getpwnam(stack.SERVER_USER).pw_uid) in err, err


def test_settings_file_in_a_directory_others_may_write_is_refused(
        site, pg, secret, keys):
    path = write_conf(site, good_conf(pg, secret))
    os.chmod(site, 0o777)
    err = one_line_refusal(run(site, keys.make().full, bare_name=True))
    assert "%s is in a directory that group or others may write to" % path \
        in err, err
    os.chmod(site, 0o1777)                 # sticky, as /tmp: taken
    r = run(site, keys.make().full, bare_name=True)
    assert r.returncode == 0 and b"Status: 200" in r.stdout, r


def test_sslpassword_makes_the_settings_file_a_secret(site, pg, secret,
                                                      keys):
    path = write_conf(site, "OTAS_DATABASE_URL=%s?sslpassword=hunter2pw\n"
                      "OTAS_JWT_SECRET_FILE=%s\n" % (pg.url, secret.path),
                      mode=0o644)
    err = one_line_refusal(run(site, keys.make().full, bare_name=True))
    assert "the settings file %s holds a password in OTAS_DATABASE_URL but " \
        "group or others have access to it" % path in err, err
    assert "hunter2pw" not in err
