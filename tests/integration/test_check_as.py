"""`otas-admin check --as USER`: root runs the checks as the web server's
user would see them — that user's view of the settings and the JWT secret
file, and the role its database connection ends up as, which must have
the programs' rights and no more — unless it is a shared host's one
database user, owner and OTAS_RUNTIME_ROLE at once, which passes with a
note.  Anyone but root may check only as itself (a shared host's
customer, whom suEXEC runs the programs as); plain `check` reports the
rights too, without making them a verdict.
"""

import json
import os
import shutil
import urllib.parse

from harness import admin_cli
from harness import postgres
from harness import stack
from harness.admin_cli import failed, ok, ok_json


def root_only_secret(workdir):
    """A good secret that only root can read (mode 0600, owner root)."""
    path = os.path.join(workdir, "etc", "root-only-secret")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(stack.random_secret(48))
    return path


def test_root_passes_where_www_data_fails_on_the_unreadable_secret(
        run, pg, workdir, secret):
    path = root_only_secret(workdir)
    env = {"OTAS_JWT_SECRET_FILE": path}
    ok(run("check", env=env))
    r = run("check", "--as", stack.SERVER_USER, env=env)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert path in r.stderr and "Permission denied" in r.stderr, r.stderr
    assert "config    FAILED" in r.stdout


def test_root_passes_where_www_data_fails_on_an_unreadable_settings_file(
        run, pg, workdir):
    path = os.path.join(workdir, "etc", "root-only-otas.conf")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("OTAS_TOKEN_TTL=3600\n")
    try:
        ok(run("check", env={"OTAS_CONFIG": path}))
        r = run("check", "--as", stack.SERVER_USER,
                env={"OTAS_CONFIG": path})
    finally:
        os.unlink(path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "settings file %s" % path in r.stderr, r.stderr


def test_as_www_data_with_the_programs_settings_passes_as_the_runtime_role(
        run, pg, secret):
    out = ok_json(run("check", "--as", stack.SERVER_USER, "--json",
                      url=pg.runtime_url,
                      env={"OTAS_JWT_SECRET_FILE": secret.path}))
    assert out["ok"] is True and out["rights"] is True
    assert out["as"] == stack.SERVER_USER
    assert out["role"] == postgres.RUNTIME_ROLE
    r = ok(run("check", "--as", stack.SERVER_USER, url=pg.runtime_url,
               env={"OTAS_JWT_SECRET_FILE": secret.path}))
    assert "rights    ok (role %s)" % postgres.RUNTIME_ROLE in r.stdout


def test_as_www_data_connecting_as_the_owner_fails_the_rights(run, pg,
                                                              secret):
    """The owner (here a superuser) may delete sessions: the programs must
    not connect as it."""
    r = run("check", "--as", stack.SERVER_USER, url=pg.url,
            env={"OTAS_JWT_SECRET_FILE": secret.path})
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "rights    FAILED: role postgres may delete sessions" in r.stdout
    assert "check failed: rights" in r.stderr


def migrated_by_its_one_user(run, db):
    """The README's shared-hosting setup: the host's one database user
    migrates with itself as OTAS_RUNTIME_ROLE."""
    ok(run("migrate", url=db.url, env={"OTAS_RUNTIME_ROLE": db.user}))
    return db


def test_as_www_data_as_the_one_database_user_passes_with_a_note(
        run, one_user_db, secret):
    """Owner and runtime role are one user, as OTAS_RUNTIME_ROLE says: the
    documented single-user host passes, told a separate role is safer."""
    db = migrated_by_its_one_user(run, one_user_db)
    env = {"OTAS_JWT_SECRET_FILE": secret.path, "OTAS_RUNTIME_ROLE": db.user}
    out = ok_json(run("check", "--as", stack.SERVER_USER, "--json",
                      url=db.url, env=env))
    assert out["ok"] is True and out["rights"] is True
    assert out["role"] == db.user
    assert "separate runtime role" in out["rights_note"]
    r = ok(run("check", "--as", stack.SERVER_USER, url=db.url, env=env))
    assert "rights    ok (role %s; note: it owns the tables and is " \
        "OTAS_RUNTIME_ROLE" % db.user in r.stdout
    assert "separate runtime role" in r.stdout


def test_as_www_data_runtime_role_with_no_note(run, pg, secret):
    out = ok_json(run("check", "--as", stack.SERVER_USER, "--json",
                      url=pg.runtime_url,
                      env={"OTAS_JWT_SECRET_FILE": secret.path}))
    assert out["rights"] is True and out["rights_note"] is None


def test_as_www_data_as_the_owner_fails_when_another_runtime_role_is_set(
        run, one_user_db, secret):
    """The same owner, but the settings name the default runtime role: the
    programs are connecting as the wrong role."""
    db = migrated_by_its_one_user(run, one_user_db)
    out = run("check", "--as", stack.SERVER_USER, "--json", url=db.url,
              env={"OTAS_JWT_SECRET_FILE": secret.path})
    assert out.returncode == 1, (out.stdout, out.stderr)
    out = json.loads(out.stdout)
    assert out["ok"] is False and out["rights"] is False
    assert out["rights_note"] is None
    r = run("check", "--as", stack.SERVER_USER, url=db.url,
            env={"OTAS_JWT_SECRET_FILE": secret.path})
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "rights    FAILED: role %s may delete sessions" % db.user \
        in r.stdout
    assert "check failed: rights" in r.stderr


def test_as_www_data_as_a_superuser_named_runtime_role_still_fails(
        run, pg, secret):
    """A superuser owning the tables is no single-user host's database
    user, whatever OTAS_RUNTIME_ROLE says."""
    r = run("check", "--as", stack.SERVER_USER, url=pg.url,
            env={"OTAS_JWT_SECRET_FILE": secret.path,
                 "OTAS_RUNTIME_ROLE": "postgres"})
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "rights    FAILED: role postgres may delete sessions" in r.stdout


def test_as_a_role_without_the_rights_fails_naming_it(run, pg, secret):
    role = "otas_check_norights"
    pg.query("CREATE ROLE %s LOGIN" % role)
    try:
        url = "postgresql://%s@127.0.0.1:%d/%s" % (role, pg.port, pg.dbname)
        r = run("check", "--as", stack.SERVER_USER, url=url,
                env={"OTAS_JWT_SECRET_FILE": secret.path})
    finally:
        pg.query("DROP ROLE %s" % role)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "rights    FAILED: role %s lacks the programs' rights" % role \
        in r.stdout


def test_as_an_unknown_user_fails(run):
    failed(run("check", "--as", "no-such-user-otas"), 1,
           ["no user no-such-user-otas"])


def test_only_root_may_check_as_another_user(run):
    failed(run("check", "--as", "root", user=stack.SERVER_USER), 1,
           ["only root"])


def test_a_customer_checks_as_itself_without_root(run, pg, secret):
    """Under suEXEC the customer's own user runs the programs: it may check
    as itself, by name, and gets the rights verdict."""
    r = run("check", "--as", stack.SERVER_USER, url=pg.runtime_url,
            user=stack.SERVER_USER, env={"OTAS_JWT_SECRET_FILE": secret.path})
    ok(r)
    assert "as        %s" % stack.SERVER_USER in r.stdout
    assert "rights    ok (role %s)" % postgres.RUNTIME_ROLE in r.stdout


def test_plain_check_reports_the_rights_the_programs_will_have(run, pg,
                                                               secret):
    r = ok(run("check", url=pg.runtime_url, user=stack.SERVER_USER,
               env={"OTAS_JWT_SECRET_FILE": secret.path}))
    assert ("rights    role %s has the programs' rights"
            % postgres.RUNTIME_ROLE) in r.stdout
    out = ok_json(run("check", "--json", url=pg.runtime_url,
                      user=stack.SERVER_USER,
                      env={"OTAS_JWT_SECRET_FILE": secret.path}))
    assert out["rights"] is True and out["role"] == postgres.RUNTIME_ROLE


def test_plain_check_as_the_owner_informs_without_failing(run, pg, secret):
    """Root's own connection is not the programs': only --as makes the
    rights a verdict."""
    r = ok(run("check", url=pg.url, env={"OTAS_JWT_SECRET_FILE": secret.path}))
    assert "rights    role postgres may delete sessions" in r.stdout


def test_a_settings_file_beside_otas_admin_in_a_closed_directory_is_named(
        admin_bin, pg, sql_dir, tmp_path):
    """A clone under /root: www-data cannot search the directory, so it
    cannot tell whether otas.conf is there; the message says so, and what
    the programs run as that user will conclude."""
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    os.chmod(closed, 0o700)
    admin = str(closed / "otas-admin")
    shutil.copy2(admin_bin, admin)
    r = admin_cli.run_admin(admin, pg.runtime_url, "check", "--as",
                            stack.SERVER_USER, sql_dir=sql_dir)
    assert r.returncode == 1, (r.stdout, r.stderr)
    line = r.stderr.splitlines()[0]
    assert str(closed / "otas.conf") in line, line
    assert "cannot be searched" in line and "the programs" in line, line
    assert "refuse to start" in line, line


def test_a_password_with_url_characters_works_only_percent_encoded(run, pg):
    """doc/database-roles.md: a password holding @ : / # is percent-encoded
    in OTAS_DATABASE_URL.  (The test cluster trusts loopback, so what is
    shown is how libpq reads the URL: encoded, as the right role at the
    right host; raw, not at all.)"""
    password = "p@ss:w/rd#1"
    encoded = urllib.parse.quote(password, safe="")
    assert encoded == "p%40ss%3Aw%2Frd%231"
    base = "postgresql://%s:%%s@127.0.0.1:%d/%s" % (
        postgres.RUNTIME_ROLE, pg.port, pg.dbname)
    out = ok_json(run("check", "--json", url=base % encoded))
    assert out["database"] is True and out["role"] == postgres.RUNTIME_ROLE
    r = run("check", "--json", url=base % password)
    assert r.returncode == 1
    assert json.loads(r.stdout)["database"] is not True, r.stdout
