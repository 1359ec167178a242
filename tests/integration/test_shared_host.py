"""Shared hosting, for real: a customer account on a simulated host
(shared_host.py) uploads the static programs, otas.conf (0600) and a
.htaccess copied from htaccess.example into its web space, and the
documentation's curl gets its 200 — under suEXEC with mod_fcgid and with
mod_cgi.  The authorizer protects a program of the same web space, the
web server's user cannot read otas.conf, and otas-admin migrates from the
web space with nothing but the settings file — also when the host gives
one database user, owner of the tables and the programs' role at once.
Without suEXEC, what the README warns about is shown to be true: a secret
the programs can read, any other customer's CGI can read too.  And the
README's steps, run as written (its shell blocks, with only its
placeholders filled in) on a fresh account with one database user, give
the 200 it promises.
"""

import base64
import glob
import json
import os
import re
import secrets
import subprocess

import pytest

from harness import guide
from harness import metrics_scrape as ms
from harness import shared_host
from harness import stack

pytestmark = pytest.mark.skipif(not shared_host.available(),
                                reason="Apache, mod_fcgid or suEXEC missing")

JWT_SECRET = "shared-host-secret-" + "x" * 29       # 48 bytes


@pytest.fixture(scope="module")
def programs(static_build):
    """The programs a customer uploads: the static build."""
    return static_build


def settings(url, **more):
    lines = ["# otas.conf of the test's customer",
             "OTAS_DATABASE_URL=" + url,
             "OTAS_JWT_SECRET=" + JWT_SECRET]
    lines += ["%s=%s" % kv for kv in sorted(more.items())]
    return "\n".join(lines) + "\n"


def upload_site(host, programs, url, suffix, **more):
    """What the README's steps leave in the web space, with settings(url,
    **more) as otas.conf."""
    for name in ("otas-session", "otas-authz", "otas-echo"):
        host.upload(os.path.join(programs, name), name + suffix)
    host.upload(os.path.join(programs, "otas-admin"), "otas-admin",
                mode=0o700)
    host.write("otas.conf", settings(url, **more), mode=0o600)
    host.write(".htaccess", host.htaccess_text())


def start_host(workdir, programs, pg, fcgid, suexec):
    host = shared_host.SharedHost(workdir, fcgid=fcgid, suexec=suexec)
    host.start()
    try:
        upload_site(host, programs, pg.runtime_url,
                    ".fcgi" if fcgid else ".cgi")
    except BaseException:
        host.stop()
        raise
    return host


@pytest.fixture(scope="module")
def fcgid_host(workdir, programs, pg):
    host = start_host(workdir, programs, pg, fcgid=True, suexec=True)
    yield host
    host.stop()


@pytest.fixture(scope="module")
def cgi_host(workdir, programs, pg):
    host = start_host(workdir, programs, pg, fcgid=False, suexec=True)
    yield host
    host.stop()


def curl(url, *args):
    """curl as a user types it; returns (status, headers, body)."""
    r = subprocess.run(["curl", "-sS", "-D", "-", "--max-time", "30", url]
                       + list(args), capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    return status, [line.split(":", 1)[0].lower() for line in lines[1:]], \
        body


def seed_curl(host, key):
    """The documentation's example request."""
    return curl(host.url + stack.SESSION_PATH, "--request", "POST",
                "--header", "X-OTAS-AGENT-KEY: " + key,
                "--header", "Content-Type: application/json",
                "--data", '{"meta": {"task": "summarize", '
                '"input_length": 512}}')


def assert_session_created(pg, agent_id, answer):
    status, _, body = answer
    assert status == 200, body
    doc = json.loads(body)
    assert doc["status_description"] == "agent_session_created"
    assert pg.scalar("SELECT count(*) FROM agent_session WHERE agent_id = %s"
                     " AND meta->>'task' = 'summarize'",
                     (agent_id,)) == 1
    return doc["response"]["jwt_token"]


def seed_session(host, pg, keys):
    """The documentation's request with a new key: a 200 and its row; the
    token."""
    key = keys.make()
    return assert_session_created(pg, key.agent_id, seed_curl(host, key.full))


def assert_session_ends(host, pg, token):
    """POST .../session/end/ with the token (htaccess.example's own
    rule): 200 agent_session_ended, and the row has ended_at."""
    status, _, body = curl(host.url + "/api/agent/v1/session/end/",
                           "--request", "POST", "--header",
                           "X-OTAS-AGENT-SESSION-TOKEN: " + token)
    assert status == 200, body
    assert json.loads(body) == {"status": 1,
                                "status_description": "agent_session_ended"}
    sid = json.loads(base64.urlsafe_b64decode(
        token.split(".")[1] + "=="))["agent_session_id"]
    assert pg.scalar("SELECT ended_at IS NOT NULL FROM agent_session"
                     " WHERE id = %s", (sid,)) is True


GUIDE = os.path.join(stack.ROOT, "doc", "shared-hosting.md")


def readme_shell_blocks():
    """The ```sh blocks of the guide's "Steps" section: the steps in the
    account, the request, psql for hosts without a shell."""
    return guide.blocks(GUIDE, "## Steps")


fill = guide.fill


def assert_only_the_endpoint_makes_sessions(host, pg, keys, suffix):
    """A valid key at a URL naming the program file, or near the endpoint,
    gets 404 and makes no row: only the rewritten path runs the program."""
    for path in ("/otas-session" + suffix,
                 "/otas-session" + suffix + stack.SESSION_PATH,
                 stack.SESSION_PATH + "anything",
                 stack.SESSION_PATH.rstrip("/")):
        key = keys.make()
        status, _, body = curl(
            host.url + path, "--request", "POST",
            "--header", "X-OTAS-AGENT-KEY: " + key.full,
            "--header", "Content-Type: application/json", "--data", "{}")
        assert status == 404, (path, status, body)
        assert pg.scalar("SELECT count(*) FROM agent_session"
                         " WHERE agent_id = %s", (key.agent_id,)) == 0, path


# --- suEXEC + mod_fcgid --------------------------------------------------

def test_seed_curl_gets_200_and_a_session_row_under_mod_fcgid_and_suexec(
        fcgid_host, pg, keys):
    seed_session(fcgid_host, pg, keys)


def test_programs_run_as_the_customer_under_suexec(fcgid_host, pg, keys):
    seed_session(fcgid_host, pg, keys)
    # mod_fcgid keeps the FastCGI process for the next request.
    assert fcgid_host.program_uids("otas-session.fcgi") == \
        {fcgid_host.user_pw.pw_uid}


def test_authorizer_lets_a_valid_token_reach_the_protected_program(
        fcgid_host, pg, keys):
    key = keys.make()
    token = assert_session_created(pg, key.agent_id,
                                   seed_curl(fcgid_host, key.full))
    status, headers, body = curl(
        fcgid_host.url + "/api/some/v1/endpoint/", "--request", "POST",
        "--header", "X-OTAS-AGENT-SESSION-TOKEN: " + token,
        "--header", "Content-Type: application/json", "--data", "{}")
    assert status == 200, body
    assert json.loads(body)["response"]["agent_id"] == key.agent_id
    assert not [h for h in headers if h.startswith("variable-")], headers


@pytest.mark.parametrize("token", [None, "not.a.token"],
                         ids=["no_token", "bad_token"])
def test_authorizer_keeps_the_protected_program_from_running(
        fcgid_host, token):
    args = ["--request", "POST", "--data", "{}"]
    if token is not None:
        args += ["--header", "X-OTAS-AGENT-SESSION-TOKEN: " + token]
    status, headers, body = curl(
        fcgid_host.url + "/api/some/v1/endpoint/", *args)
    assert status == 401, body
    assert b"agent_id" not in body
    assert not [h for h in headers if h.startswith("variable-")], headers


def test_a_session_ends_under_mod_fcgid_and_suexec(fcgid_host, pg, keys):
    token = seed_session(fcgid_host, pg, keys)
    assert_session_ends(fcgid_host, pg, token)


def test_web_server_user_cannot_read_the_settings_file(fcgid_host):
    conf = os.path.join(fcgid_host.webspace, "otas.conf")
    r = fcgid_host.as_user(["cat", conf], user=fcgid_host.apache_user)
    assert r.returncode != 0 and "Permission denied" in r.stderr
    assert JWT_SECRET not in r.stdout
    status, _, body = curl(fcgid_host.url + "/otas.conf")
    assert status == 403 and JWT_SECRET.encode() not in body


def test_only_the_endpoint_url_makes_a_session_under_mod_fcgid(
        fcgid_host, pg, keys):
    assert_only_the_endpoint_makes_sessions(fcgid_host, pg, keys, ".fcgi")


# --- deny by default: nothing of the web space is served but the programs --

# What a customer's web space may hold besides the programs: the secret
# files and their rotation names, an editor's and a copy's leftovers of
# otas.conf, SQL, and any other file.  Each is written with a marker that
# must never come back.
LEFTOVERS = ("jwt-secret", "jwt-secret.old", "otas.conf~", "otas.conf.bak",
             "otas.conf.swp", ".otas.conf.swp", "otas.conf.orig",
             "schema.sql", "001_agent_tables.sql", "notes.txt",
             "random-%s.html" % secrets.token_hex(4))
# Already there: the programs' own files, the settings and this one.
SITE_FILES = ("otas.conf", "otas-admin", ".htaccess")


def assert_nothing_but_the_programs_is_served(host, pg, keys, suffix):
    marker = "leftover-" + secrets.token_hex(8)
    written = [host.write(name, "%s %s\n" % (marker, JWT_SECRET),
                          mode=0o644) for name in LEFTOVERS]
    try:
        for name in LEFTOVERS + SITE_FILES + ("otas-authz" + suffix, ""):
            for method in ("GET", "HEAD"):
                status, _, body = curl(host.url + "/" + name,
                                       "--request", method)
                assert status in (403, 404), (name, method, status, body)
                assert marker.encode() not in body, name
                assert JWT_SECRET.encode() not in body, name
        # ...while the documentation's curl and the readiness check work.
        seed_session(host, pg, keys)
        status, _, body = curl(host.url + "/api/agent/v1/health/")
        assert status == 200, body
        assert json.loads(body)["status_description"] == "ready"
    finally:
        for path in written:
            os.unlink(path)


def test_nothing_but_the_program_urls_is_served_under_mod_fcgid(
        fcgid_host, pg, keys):
    assert_nothing_but_the_programs_is_served(fcgid_host, pg, keys, ".fcgi")


def test_nothing_but_the_program_urls_is_served_under_mod_cgi(
        cgi_host, pg, keys):
    assert_nothing_but_the_programs_is_served(cgi_host, pg, keys, ".cgi")


@pytest.fixture
def secret_file_site(cgi_host, pg):
    """The web space's otas.conf naming a secret file outside it, as
    otas.conf.example suggests; put back afterwards.  mod_cgi starts a
    process per request, so each request reads the files again."""
    host = cgi_host
    conf = os.path.join(host.webspace, "otas.conf")
    with open(conf) as f:
        before = f.read()
    host.write("otas.conf", "OTAS_DATABASE_URL=%s\n"
               "OTAS_JWT_SECRET_FILE=../jwt-secret\n" % pg.runtime_url,
               mode=0o600)
    secret = host.write("jwt-secret", JWT_SECRET + "\n", mode=0o600,
                        where=host.home)
    yield host, secret
    host.write("otas.conf", before, 0o600)
    os.unlink(secret)


def test_a_secret_file_others_can_read_stops_the_program_and_check_says_so(
        secret_file_site, pg, keys):
    host, secret = secret_file_site
    key = keys.make()
    assert_session_created(pg, key.agent_id, seed_curl(host, key.full))
    os.chmod(secret, 0o644)
    status, _, body = seed_curl(host, keys.make().full)
    assert status == 500, body
    # The path as the programs resolve it: beside the settings file.
    line = ("OTAS_JWT_SECRET_FILE: the JWT secret file %s/../jwt-secret "
            "holds a JWT secret but group or others have access to it: "
            "chmod 600 it" % host.webspace)
    log = host.error_log()
    assert line in log
    assert JWT_SECRET not in log
    r = host.as_user(["./otas-admin", "check"])
    assert r.returncode != 0
    assert "config    FAILED" in r.stdout
    assert line in r.stderr, r.stderr
    os.chmod(secret, 0o600)
    r = host.as_user(["./otas-admin", "check"])
    assert "config    ok" in r.stdout, r.stdout + r.stderr


# --- suEXEC + mod_cgi ----------------------------------------------------

def test_seed_curl_gets_200_and_a_session_row_under_mod_cgi_and_suexec(
        cgi_host, pg, keys):
    seed_session(cgi_host, pg, keys)


def test_a_session_ends_under_mod_cgi_and_suexec(cgi_host, pg, keys):
    token = seed_session(cgi_host, pg, keys)
    assert_session_ends(cgi_host, pg, token)


def test_without_an_authorizer_the_protected_url_is_refused_under_mod_cgi(
        cgi_host):
    status, _, _ = curl(cgi_host.url + "/api/some/v1/endpoint/",
                        "--request", "POST", "--data", "{}")
    assert status == 403


def test_settings_file_is_not_served_under_mod_cgi(cgi_host):
    status, _, body = curl(cgi_host.url + "/otas.conf")
    assert status == 403 and JWT_SECRET.encode() not in body


def test_only_the_endpoint_url_makes_a_session_under_mod_cgi(
        cgi_host, pg, keys):
    assert_only_the_endpoint_makes_sessions(cgi_host, pg, keys, ".cgi")


# --- GET /metrics on the shared host ----------------------------------------

@pytest.mark.parametrize("kind", ["fcgid", "cgi"])
def test_metrics_count_the_sites_requests_and_the_file_is_not_served(
        request, kind, keys):
    """The htaccess routes /metrics to otas-session for loopback; the
    processes, run as the customer, count into otas.metrics beside
    otas.conf (plain CGI: each process as it exits)."""
    host = request.getfixturevalue(kind + "_host")
    before = ms.scrape(host)
    key = keys.make()
    assert seed_curl(host, key.full)[0] == 200
    after = ms.scrape_until(host, lambda a: ms.value(
        a, "otas_requests_total", program="otas-session", code="200") >
        ms.value(before, "otas_requests_total", program="otas-session",
                 code="200"))
    assert ms.value(after, "otas_requests_total", program="otas-session",
                    code="200") == ms.value(
        before, "otas_requests_total", program="otas-session",
        code="200") + 1
    status, _, body = curl(host.url + "/otas.metrics")
    assert status == 403 and b"OTASMTRC" not in body


# --- otas-admin from the web space -----------------------------------------

def migration_versions():
    """The numbers of the numbered files of sql/, ascending."""
    return sorted(int(f.split("_")[0])
                  for f in os.listdir(os.path.join(stack.ROOT, "sql"))
                  if f[0].isdigit())


def upload_sql(host):
    sql = os.path.join(host.home, "sql")
    if not os.path.isdir(sql):
        os.mkdir(sql)
        host.own(sql, 0o755)
        for name in sorted(os.listdir(os.path.join(stack.ROOT, "sql"))):
            host.upload(os.path.join(stack.ROOT, "sql", name), name,
                        mode=0o644, where=sql)
    return sql


@pytest.fixture
def admin_site(fcgid_host, fresh_db):
    """The web space's otas.conf pointing at an empty database, for the
    migration tests; the endpoint's settings are put back afterwards."""
    upload_sql(fcgid_host)
    conf = os.path.join(fcgid_host.webspace, "otas.conf")
    with open(conf) as f:
        before = f.read()
    fcgid_host.write("otas.conf", settings(fresh_db.url,
                                           OTAS_SQL_DIR="../sql"), 0o600)
    yield fcgid_host
    fcgid_host.write("otas.conf", before, 0o600)


def test_otas_admin_migrates_from_the_web_space_with_only_the_settings_file(
        admin_site, fresh_db):
    r = admin_site.as_user(["./otas-admin", "migrate"])
    assert r.returncode == 0, r.stderr
    assert fresh_db.versions() == migration_versions()
    assert fresh_db.exists("agent_session")


def test_otas_admin_adopts_tables_applied_with_the_readmes_psql(
        admin_site, fresh_db):
    psql = readme_shell_blocks()[2]
    r = admin_site.as_user(["sh", "-e", "-c", fill(psql, {
        "postgresql://DBUSER:DBPASSWORD@HOST:5432/DBNAME": fresh_db.url})],
        cwd=admin_site.home)
    assert r.returncode == 0, r.stderr
    assert not fresh_db.exists("otas_schema_migrations")
    r = admin_site.as_user(["./otas-admin", "migrate"])
    assert r.returncode == 0, r.stderr
    assert "recorded 001_agent_tables.sql as applied" in r.stdout
    assert fresh_db.versions() == migration_versions()


# --- one database user: owner and runtime role ----------------------------

@pytest.fixture
def one_user_site(workdir, programs, one_user_db):
    """A fresh account whose otas.conf names the host's one database user
    in OTAS_DATABASE_URL and as OTAS_RUNTIME_ROLE, as the README says;
    nothing migrated yet."""
    host = shared_host.SharedHost(workdir, fcgid=True, suexec=True)
    host.start()
    try:
        upload_sql(host)
        upload_site(host, programs, one_user_db.url, ".fcgi",
                    OTAS_RUNTIME_ROLE=one_user_db.user,
                    OTAS_SQL_DIR="../sql")
        yield host
    finally:
        host.stop()


def test_one_database_user_migrates_as_runtime_role_and_seed_curl_gets_200(
        one_user_site, one_user_db):
    host, db = one_user_site, one_user_db
    r = host.as_user(["./otas-admin", "migrate"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "runtime role %s has the programs' rights" % db.user in r.stdout
    assert db.versions() == migration_versions()
    r = host.as_user(["./otas-admin", "--json", "agent", "create", "--name",
                      "my-agent"])
    assert r.returncode == 0, r.stdout + r.stderr
    made = json.loads(r.stdout)
    assert_session_created(db, made["agent_id"],
                           seed_curl(host, made["key"]))
    # mod_fcgid keeps otas-session's connection: it is the one user's.
    assert db.query("SELECT DISTINCT usename FROM pg_stat_activity"
                    " WHERE datname = %s AND application_name = "
                    "'otas-session'", (db.name,)) == [(db.user,)]


# --- without suEXEC: what the README says -----------------------------------

@pytest.fixture
def plain_host(workdir, programs, pg):
    host = shared_host.SharedHost(workdir, fcgid=False, suexec=False)
    host.start()
    try:
        upload_site(host, programs, pg.runtime_url, ".cgi")
        yield host
    finally:
        host.stop()


def test_without_suexec_a_private_settings_file_cannot_be_read(
        plain_host, keys):
    status, _, _ = seed_curl(plain_host, keys.make().full)
    assert status == 500
    assert "otas-session: cannot read the settings file %s/otas.conf: " \
        "Permission denied" % plain_host.webspace in plain_host.error_log()


def test_without_suexec_a_readable_settings_file_is_refused(
        plain_host, pg, keys):
    # Made readable for the web server's user, the customer's file is not
    # that user's: whoever owns it decides what the program does (ssh's
    # StrictModes).  So without suEXEC the programs do not run at all, as
    # any secret they could read every other customer's CGI could read.
    plain_host.write("otas.conf", settings(pg.runtime_url), mode=0o644)
    status, _, _ = seed_curl(plain_host, keys.make().full)
    assert status == 500
    assert "the settings file %s/otas.conf belongs to uid %d, not to the " \
        "user the program runs as" % (plain_host.webspace,
                                      plain_host.user_pw.pw_uid) in \
        plain_host.error_log()


# --- the README's steps, literally -------------------------------------------

@pytest.fixture
def dist_tarball(static_build):
    dist = os.path.join(os.path.dirname(static_build), "dist")
    found = glob.glob(os.path.join(dist, "otas-fcgi-*-linux-x86_64.tar.gz"))
    assert len(found) == 1, "want one tarball in %s: %r" % (dist, found)
    return found[0]


@pytest.fixture
def empty_account(workdir):
    host = shared_host.SharedHost(workdir, fcgid=True, suexec=True)
    host.start()
    yield host
    host.stop()


def test_readme_shared_hosting_steps_run_as_written_give_200(
        empty_account, dist_tarball, one_user_db):
    host = empty_account
    steps, request = readme_shell_blocks()[:2]
    host.upload(dist_tarball, os.path.basename(dist_tarball), mode=0o644,
                where=host.home)
    env = {"PATH": "/usr/bin:/bin", "HOME": host.home}
    r = host.as_user(["sh", "-e", "-c", fill(steps, {
        "postgresql://DBUSER:DBPASSWORD@127.0.0.1:5432/DBNAME":
            one_user_db.url,
        "OTAS_RUNTIME_ROLE=DBUSER": "OTAS_RUNTIME_ROLE=" + one_user_db.user})],
        cwd=host.home, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    # The customer checks, without root, what suEXEC will run the
    # programs with: the one database user, with its note.
    assert re.search(r"^rights    ok \(role %s; note: " % re.escape(
        one_user_db.user), r.stdout, re.MULTILINE), r.stdout
    # agent create prints the key alone on its line.
    key = re.search(r"^(agent_\S+)$", r.stdout, re.MULTILINE).group(1)
    r = host.as_user(["sh", "-e", "-c", fill(request, {
        "agent_...": key, "https://www.example.org": host.url})],
        cwd=host.home, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("{"), r.stdout + host.error_log()[-2000:]
    doc = json.loads(r.stdout)
    assert doc["status_description"] == "agent_session_created", r.stdout
    assert one_user_db.scalar("SELECT count(*) FROM agent_session") == 1


# --- the readiness check and a program's own file name ----------------------

@pytest.mark.parametrize("kind", ["fcgid", "cgi"])
def test_readiness_url_is_routed_by_htaccess(kind, fcgid_host, cgi_host):
    host = fcgid_host if kind == "fcgid" else cgi_host
    status, _, body = curl(host.url + "/api/agent/v1/health/")
    assert status == 200, body
    assert json.loads(body) == {"status": 1, "status_description": "ready"}


def test_protected_program_file_is_401_without_a_token_404_with_one(
        fcgid_host, pg, keys):
    """The authorizer runs before a .htaccess's rewrite rules (the
    documented answer): no token, 401; a valid one, then the rule that
    refuses a program's own file name, 404 — the program never answers."""
    status, _, body = curl(fcgid_host.url + "/otas-echo.fcgi", "--request",
                           "POST", "--data", "{}")
    assert status == 401 and b"agent_id" not in body, body
    token = seed_session(fcgid_host, pg, keys)
    status, _, body = curl(fcgid_host.url + "/otas-echo.fcgi", "--request",
                           "POST", "--header",
                           "X-OTAS-AGENT-SESSION-TOKEN: " + token,
                           "--data", "{}")
    assert status == 404 and b"agent_id" not in body, body
