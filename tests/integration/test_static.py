"""The static programs (`make static`) and the upload (`make dist`): what
the tarball holds, that the programs need no library at all (they answer
the documentation's request as plain CGI in a chroot holding nothing but
them and their otas.conf), and that they refuse a database host name,
which static glibc cannot look up, at start.

The static_build fixture (conftest.py) runs `make static dist` itself."""

import json
import os
import re
import secrets
import shutil
import subprocess
import tarfile
import tempfile

import jwt
import pytest

from harness import admin_cli
from harness import postgres
from harness import stack

PROGRAMS = ["otas-admin", "otas-authz", "otas-echo", "otas-session"]
NOBODY = 65534

# The body of the documentation's curl command, byte for byte.
SEED_BODY = b"""{
    "meta": {
      "task": "summarize",
      "input_length": 512
    }
  }"""


def version():
    with open(os.path.join(stack.ROOT, "VERSION")) as f:
        return f.read().strip()


def run_static(path, env, body=b"", argv=None, root=None):
    cmd = [path] + (argv or [])
    if root is not None:
        # chroot itself drops to nobody: inside there is no passwd file.
        cmd = ["/usr/sbin/chroot", "--userspec=%d:%d" % (NOBODY, NOBODY),
               root, path] + (argv or [])
    return subprocess.run(cmd, input=body, env=env, capture_output=True,
                          timeout=30)


def cgi_answer(out):
    """(status, headers dict, body) of a CGI program's output."""
    head, _, body = out.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode().split("\r\n"):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(headers["status"].split()[0]), headers, body


@pytest.fixture(scope="module")
def upload(static_build, tmp_path_factory):
    """(directory, tar members by name) of the unpacked `make dist`."""
    top = "otas-fcgi-%s-linux-x86_64" % version()
    tarball = os.path.join(os.path.dirname(static_build), "dist",
                           top + ".tar.gz")
    into = tmp_path_factory.mktemp("upload")
    with tarfile.open(tarball) as t:
        members = {m.name: m for m in t.getmembers()}
        t.extractall(into)
    return os.path.join(into, top), members


def test_dist_holds_the_static_programs_sql_man_pages_and_examples(upload):
    path, members = upload
    top = os.path.basename(path)
    files = {n for n, m in members.items() if m.isfile()}
    expected = {top + "/" + p for p in PROGRAMS}
    expected |= {top + "/sql/" + f for f in os.listdir(
        os.path.join(stack.ROOT, "sql")) if f.endswith(".sql")}
    expected |= {top + "/man/" + f for f in os.listdir(stack.ROOT)
                 if re.fullmatch(r"otas(-[a-z]+)?\.(conf\.5|[18])", f)}
    expected |= {top + "/" + os.path.basename(f) for f in (
        "README.md", "doc/shared-hosting.md", "otas.conf.example",
        "htaccess.example") if os.path.exists(os.path.join(stack.ROOT, f))}
    assert files == expected
    assert all(members[n].uid == 0 and members[n].gid == 0 for n in members)
    for name in os.listdir(os.path.join(stack.ROOT, "sql")):
        with open(os.path.join(stack.ROOT, "sql", name), "rb") as a, \
                open(os.path.join(path, "sql", name), "rb") as b:
            assert a.read() == b.read(), name
    for p in PROGRAMS:
        prog = os.path.join(path, p)
        assert members[top + "/" + p].mode == 0o755, p
        ldd = subprocess.run(["ldd", prog], capture_output=True, text=True)
        assert "not a dynamic executable" in ldd.stdout + ldd.stderr, p
        r = run_static(prog, {}, argv=["--version"])
        assert r.returncode == 0, r
        assert r.stdout.decode().split() == [p, version()], r.stdout


def test_static_admin_migrates_from_the_upload_with_only_a_database_url(
        upload, fresh_db):
    """A user's account: unpack, cd into it, ./otas-admin migrate."""
    path, _ = upload
    r = subprocess.run(["./otas-admin", "migrate"], cwd=path,
                       env={"OTAS_DATABASE_URL": fresh_db.url},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    numbered = sorted(f for f in os.listdir(os.path.join(path, "sql"))
                      if re.fullmatch(r"[0-9]+_.*\.sql", f))
    assert len(fresh_db.versions()) == len(numbered)
    assert fresh_db.exists("agent_session")


def test_static_session_answers_the_seed_request_in_an_empty_chroot(
        static_build, workdir, pg, keys):
    root = tempfile.mkdtemp(prefix="chroot-", dir=workdir)
    os.chmod(root, 0o755)
    for p in PROGRAMS:
        shutil.copy2(os.path.join(static_build, p), root)
    jwt_secret = secrets.token_urlsafe(48)
    conf = os.path.join(root, "otas.conf")
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        # Over 127.0.0.1: no name to look up, no socket to reach.
        f.write("OTAS_DATABASE_URL=%s\nOTAS_JWT_SECRET=%s\n" % (
            pg.runtime_url, jwt_secret))
    os.chown(conf, NOBODY, NOBODY)
    assert sorted(os.listdir(root)) == sorted(PROGRAMS + ["otas.conf"])
    key = keys.make()
    # A limit of one an hour: this request gets it, the next a 429.
    pg.query("INSERT INTO otas_rate_limit (agent_id, quota, window_seconds,"
             " burst) VALUES (%s, 1, 3600, 1)", (key.agent_id,))
    # A web server's CGI environment and nothing else: no PATH, no OTAS_*.
    env = {"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
           "REQUEST_METHOD": "POST", "SCRIPT_NAME": stack.SESSION_PATH,
           "REQUEST_URI": stack.SESSION_PATH,
           "CONTENT_TYPE": "application/json",
           "CONTENT_LENGTH": str(len(SEED_BODY)),
           "HTTP_X_OTAS_AGENT_KEY": key.full}
    r = run_static("/otas-session", env, SEED_BODY, root=root)
    assert r.returncode == 0, r.stderr
    status, headers, body = cgi_answer(r.stdout)
    assert status == 200, r.stdout + r.stderr
    assert headers["content-type"] == "application/json"
    answer = json.loads(body)
    assert answer["status"] == 1
    assert answer["status_description"] == "agent_session_created"
    token = answer["response"]["jwt_token"]
    claims = jwt.decode(token, jwt_secret, algorithms=["HS256"])
    assert claims["agent_id"] == key.agent_id
    rows = pg.query("SELECT agent_id::text, agent_key_id::text, meta::text"
                    " FROM agent_session WHERE id = %s",
                    (claims["agent_session_id"],))
    assert rows == [(key.agent_id, key.key_id,
                     '{"task": "summarize", "input_length": 512}')]
    assert headers["ratelimit"] == '"sessions";r=0;t=3600'
    r = run_static("/otas-session", env, SEED_BODY, root=root)
    status, headers, body = cgi_answer(r.stdout)
    assert status == 429, r.stdout + r.stderr
    assert json.loads(body) == {"status": 0,
                                "status_description": "rate_limited"}
    assert int(headers["retry-after"]) >= 3500


def test_static_program_refuses_a_database_host_name_at_start(static_build):
    r = run_static(os.path.join(static_build, "otas-session"), {
        "OTAS_DATABASE_URL": "postgresql://otas@db.example/otas",
        "OTAS_JWT_SECRET": "s" * 40})
    assert r.returncode != 0
    assert r.stdout == b""
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert "db.example" in lines[0] and "IP address" in lines[0], lines


def test_static_admin_links_no_user_database_lookup(static_build):
    """Static glibc's getpwnam and initgroups load the host's NSS modules
    (Debian's libnss_systemd) and crash there: the static otas-admin reads
    /etc/passwd and /etc/group itself."""
    syms = subprocess.run(["nm", os.path.join(static_build, "otas-admin")],
                          capture_output=True, text=True, check=True).stdout
    names = {line.split()[-1] for line in syms.splitlines() if line.split()}
    for f in ("initgroups", "getpwnam", "getgrouplist", "getgrnam"):
        assert f not in names, f


def test_static_admin_checks_as_www_data_without_crashing(
        static_reachable, pg, sql_dir, secret):
    admin = os.path.join(static_reachable, "otas-admin")
    r = admin_cli.run_admin(admin, pg.url, "check", "--as",
                            stack.SERVER_USER, url=pg.runtime_url,
                            sql_dir=sql_dir,
                            env={"OTAS_JWT_SECRET_FILE": secret.path})
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert "rights    ok (role %s)" % postgres.RUNTIME_ROLE in r.stdout
    r = admin_cli.run_admin(admin, pg.url, "check", "--as", "no-such-otas",
                            sql_dir=sql_dir)
    admin_cli.failed(r, 1, ["no user no-such-otas in /etc/passwd"])
