"""otas-admin, the operator's command line (README, Managing agents and
keys; otas-admin(1)).

Every command is run as a real process against the session's PostgreSQL
(the `pg` fixture, migrated by otas-admin itself) or against a fresh
database made for one test.  Checks are what an operator or a script sees:
exit status, one line on stderr, stdout text or JSON, and the rows.
"""

import datetime
import json
import os
import re
import shutil
import uuid

import pytest

from harness import otas_http
from harness import stack
from harness.admin_cli import SQL_DIR, dead_url, failed, ok, ok_json

KEY_RE = re.compile(r"^agent_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$")
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
CREATE_MEMBERS = {"agent_id", "name", "key_id", "prefix", "key",
                  "expires_at"}


# The original backend's tables as Django made them: no column defaults,
# Django's own index and constraint names.
ORIGINAL_SCHEMA = """
CREATE TABLE agent (
    id uuid NOT NULL PRIMARY KEY, name varchar(255) NOT NULL,
    description text NOT NULL, provider varchar(255) NOT NULL,
    project_id uuid NULL, created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL, created_by_id bigint NULL,
    is_active boolean NOT NULL);
CREATE TABLE agent_key (
    id uuid NOT NULL PRIMARY KEY, prefix varchar(255) NOT NULL,
    hashed_key text NOT NULL, name varchar(255) NOT NULL,
    created_at timestamptz NOT NULL, last_used_at timestamptz NULL,
    revoked_at timestamptz NULL, expires_at timestamptz NULL,
    active boolean NOT NULL,
    agent_id uuid NOT NULL REFERENCES agent (id) DEFERRABLE INITIALLY DEFERRED);
CREATE INDEX agent_key_prefix_8a1f3c2e ON agent_key (prefix);
CREATE INDEX agent_key_prefix_8a1f3c2e_like ON agent_key (prefix varchar_pattern_ops);
CREATE INDEX agent_key_agent_id_5b2d9e71 ON agent_key (agent_id);
CREATE TABLE agent_session (
    id uuid NOT NULL PRIMARY KEY, created_at timestamptz NOT NULL,
    meta jsonb NOT NULL,
    agent_id uuid NOT NULL REFERENCES agent (id) DEFERRABLE INITIALLY DEFERRED,
    agent_key_id uuid NULL REFERENCES agent_key (id) DEFERRABLE INITIALLY DEFERRED);
CREATE INDEX agent_session_agent_id_0c4e8b11 ON agent_session (agent_id);
"""


@pytest.fixture
def original_db(fresh_db):
    fresh_db.query(ORIGINAL_SCHEMA)
    return fresh_db


def sql_dir_with(tmp_path, **extra):
    """A copy of sql/ plus files given as name=text (name without .sql)."""
    d = tmp_path / "sql"
    shutil.copytree(SQL_DIR, d)
    for name, text in extra.items():
        (d / (name + ".sql")).write_text(text)
    return str(d)


def sql_files():
    return sorted(f for f in os.listdir(SQL_DIR)
                  if re.match(r"^\d+_.*\.sql$", f))


# --- helpers on the session database -------------------------------------

def create_agent(run, *extra):
    return ok_json(run("agent", "create", "--name", "t-" +
                       uuid.uuid4().hex[:8], "--json", *extra))


def key_row(pg, key_id):
    rows = pg.query(
        "SELECT prefix, hashed_key, agent_id::text, name, created_at,"
        " last_used_at, revoked_at, expires_at, active FROM agent_key"
        " WHERE id = %s", (key_id,))
    assert len(rows) == 1
    return dict(zip(("prefix", "hashed_key", "agent_id", "name",
                     "created_at", "last_used_at", "revoked_at",
                     "expires_at", "active"), rows[0]))


# --- migrate -------------------------------------------------------------

def test_migrate_on_an_empty_database_applies_every_file_and_tracks_it(
        run, fresh_db):
    out = ok_json(run("migrate", "--json", url=fresh_db.url))
    assert out["applied"] == sql_files()
    assert out["recorded"] == []
    assert out["version"] == int(sql_files()[-1].split("_")[0])
    for t in ("agent", "agent_key", "agent_session"):
        assert fresh_db.exists(t)
    rows = fresh_db.query("SELECT version, name, applied_at IS NOT NULL"
                          " FROM otas_schema_migrations ORDER BY version")
    assert [(v, n) for v, n, _ in rows] == [
        (int(f.split("_")[0]), f) for f in sql_files()]
    assert all(a for _, _, a in rows)


def test_migrate_twice_is_a_no_op(run, fresh_db):
    ok(run("migrate", url=fresh_db.url))
    before = fresh_db.query("SELECT * FROM otas_schema_migrations")
    r = ok(run("migrate", url=fresh_db.url))
    assert "up to date" in r.stdout
    out = ok_json(run("migrate", "--json", url=fresh_db.url))
    assert out["applied"] == [] and out["recorded"] == []
    assert fresh_db.query("SELECT * FROM otas_schema_migrations") == before


def test_migrate_text_names_each_applied_file(run, fresh_db):
    r = ok(run("migrate", url=fresh_db.url))
    for f in sql_files():
        assert "applied " + f in r.stdout


def test_migrate_records_001_on_an_original_database_without_running_it(
        run, original_db):
    indexes = original_db.query("SELECT indexname FROM pg_indexes"
                                " WHERE schemaname = 'public' ORDER BY 1")
    out = ok_json(run("migrate", "--json", url=original_db.url))
    assert out["recorded"] == ["001_agent_tables.sql"]
    assert "001_agent_tables.sql" not in out["applied"]
    assert original_db.versions()[0] == 1
    # 001 was not run: none of its indexes was built beside Django's.
    for idx in ("agent_key_prefix_idx", "agent_key_agent_id_idx",
                "agent_session_agent_id_idx"):
        assert not original_db.exists(idx)
    # Later migrations add only what is theirs: tables named otas_*, 003's
    # index for session purge and 005's for a key's open sessions; none of
    # Django's is rebuilt.
    assert [i for i in indexes] == original_db.query(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
        " AND left(tablename, 5) <> 'otas_'"
        " AND indexname NOT IN ('agent_session_created_at_idx',"
        " 'agent_session_agent_key_id_idx') ORDER BY 1")
    r = ok(run("migrate", url=original_db.url))
    assert "up to date" in r.stdout


def test_migrate_adds_the_idempotency_table_to_an_original_database(
        run, original_db):
    columns = original_db.query(
        "SELECT table_name, column_name, data_type FROM"
        " information_schema.columns WHERE table_schema = 'public'"
        " ORDER BY 1, 2")
    out = ok_json(run("migrate", "--json", url=original_db.url))
    assert "002_idempotency.sql" in out["applied"]
    assert original_db.exists("otas_idempotency")
    # Additive: the original tables keep exactly their columns, plus
    # 005's nullable agent_session.ended_at, which the original backend
    # never names.
    assert columns == original_db.query(
        "SELECT table_name, column_name, data_type FROM"
        " information_schema.columns WHERE table_schema = 'public'"
        " AND left(table_name, 5) <> 'otas_' AND NOT (table_name ="
        " 'agent_session' AND column_name = 'ended_at') ORDER BY 1, 2")
    assert original_db.scalar(
        "SELECT is_nullable FROM information_schema.columns WHERE"
        " table_name = 'agent_session' AND column_name = 'ended_at'") == \
        "YES"


def test_migrate_text_says_001_was_recorded_not_run(run, original_db):
    r = ok(run("migrate", url=original_db.url))
    assert "recorded 001_agent_tables.sql as applied without running it" \
        in r.stdout


def test_commands_work_on_an_original_database_without_defaults(
        run, original_db):
    ok(run("migrate", url=original_db.url))
    out = ok_json(run("agent", "create", "--name", "orig", "--json",
                      url=original_db.url))
    ok_json(run("key", "rotate", out["agent_id"], "--json",
                url=original_db.url))
    keys = ok_json(run("key", "list", out["agent_id"], "--json",
                       url=original_db.url))["keys"]
    assert sorted(k["state"] for k in keys) == ["active", "revoked"]


def test_migrate_refuses_tables_that_lack_otas_columns(run, fresh_db):
    fresh_db.query("CREATE TABLE agent (id uuid PRIMARY KEY);"
                   "CREATE TABLE agent_key (id uuid PRIMARY KEY);"
                   "CREATE TABLE agent_session (id uuid PRIMARY KEY)")
    line = failed(run("migrate", url=fresh_db.url), 1,
                  ["agent.name", "lack"])
    assert "agent.id" not in line
    assert not fresh_db.exists("otas_schema_migrations")


def test_migrate_applies_files_in_numeric_not_lexical_order(
        run, fresh_db, tmp_path):
    d = sql_dir_with(tmp_path,
                     **{"900_first": "CREATE TABLE t900 (x int);",
                        "1000_second": "INSERT INTO t900 VALUES (1);"})
    out = ok_json(run("migrate", "--json", url=fresh_db.url, sql_dir=d))
    assert out["applied"][-2:] == ["900_first.sql", "1000_second.sql"]
    assert fresh_db.versions()[-2:] == [900, 1000]
    assert fresh_db.scalar("SELECT count(*) FROM t900") == 1


def test_migrate_rolls_back_a_failing_file_and_keeps_earlier_ones(
        run, fresh_db, tmp_path):
    d = sql_dir_with(tmp_path, **{
        "900_bad": "CREATE TABLE half_done (x int); SELECT 1/0;"})
    r = run("migrate", url=fresh_db.url, sql_dir=d)
    failed(r, 1, ["900_bad.sql", "division by zero"], quiet=False)
    assert "applied 001_agent_tables.sql" in r.stdout
    assert not fresh_db.exists("half_done")
    assert 900 not in fresh_db.versions()
    assert fresh_db.versions() == [int(f.split("_")[0])
                                   for f in sql_files()]


def test_migrate_refuses_a_file_that_commits_by_itself(
        run, fresh_db, tmp_path):
    d = sql_dir_with(tmp_path, **{"900_commits": "COMMIT;"})
    failed(run("migrate", url=fresh_db.url, sql_dir=d), 1,
           ["900_commits.sql", "COMMIT"], quiet=False)
    assert 900 not in fresh_db.versions()


def test_migrate_refuses_two_files_with_one_number(run, fresh_db, tmp_path):
    d = sql_dir_with(tmp_path, **{"900_a": "SELECT 1;", "0900_b": "SELECT 2;"})
    failed(run("migrate", url=fresh_db.url, sql_dir=d), 1,
           ["two migrations numbered 900"])
    assert not fresh_db.exists("otas_schema_migrations")


def test_migrate_sql_dir_option_wins_over_environment(
        run, fresh_db, tmp_path):
    d = sql_dir_with(tmp_path, **{"900_opt": "CREATE TABLE from_opt ();"})
    ok(run("migrate", "--sql-dir", d, url=fresh_db.url,
           sql_dir="/nonexistent"))
    assert fresh_db.exists("from_opt")


def test_migrate_fails_on_a_missing_sql_directory(run, fresh_db):
    failed(run("migrate", url=fresh_db.url, sql_dir="/nonexistent/sql"), 1,
           ["/nonexistent/sql"])


def test_migrate_fails_with_exit_1_when_the_database_is_down(run):
    failed(run("migrate", url=dead_url()), 1, ["cannot connect"])


# --- check ---------------------------------------------------------------

def test_check_passes_on_a_migrated_database(run):
    r = ok(run("check"))
    assert re.search(r"^config +ok", r.stdout, re.M)
    assert re.search(r"^database +ok", r.stdout, re.M)
    assert re.search(r"^schema +ok", r.stdout, re.M)
    out = ok_json(run("check", "--json"))
    assert out["ok"] is True and out["pending"] == []
    assert out["schema_version"] == out["latest_version"]


def test_check_fails_on_pending_migrations_and_names_them(run, tmp_path):
    d = sql_dir_with(tmp_path, **{"900_later": "SELECT 1;"})
    r = run("check", "--sql-dir", d)
    assert r.returncode == 1
    assert re.search(r"^schema +FAILED.*900_later\.sql", r.stdout, re.M)
    assert r.stderr.strip() == "otas-admin: check failed: schema"
    out = json.loads(run("check", "--json", "--sql-dir", d).stdout)
    assert out["ok"] is False and out["pending"] == ["900_later.sql"]
    assert out["config"] is True and out["database"] is True


def test_check_fails_on_an_unmigrated_database(run, fresh_db):
    r = run("check", url=fresh_db.url)
    assert r.returncode == 1 and "migrate" in r.stdout


def test_check_says_the_database_failed_when_it_is_down(run):
    r = run("check", url=dead_url())
    assert r.returncode == 1
    assert re.search(r"^database +FAILED", r.stdout, re.M)
    assert "check failed: database" in r.stderr


def test_check_says_the_config_failed_on_a_short_jwt_secret(run):
    r = run("check", env={"OTAS_JWT_SECRET": "s3cr3tval"})
    assert r.returncode == 1
    assert re.search(r"^config +FAILED", r.stdout, re.M)
    assert "OTAS_JWT_SECRET" in r.stderr
    assert "s3cr3tval" not in r.stderr + r.stdout
    assert "check failed: config" in r.stderr


# --- agent create --------------------------------------------------------

def test_agent_create_json_is_one_object_with_the_documented_members(
        run, pg):
    out = create_agent(run)
    assert set(out) == CREATE_MEMBERS
    m = KEY_RE.match(out["key"])
    assert m and m.group(1) == out["prefix"]
    assert ISO_RE.match(out["expires_at"])
    assert uuid.UUID(out["agent_id"]).version == 7
    assert uuid.UUID(out["key_id"]).version == 7
    row = pg.query("SELECT name, description, provider, project_id,"
                   " created_by_id, is_active FROM agent WHERE id = %s",
                   (out["agent_id"],))
    assert row == [(out["name"], "", "", None, None, True)]
    k = key_row(pg, out["key_id"])
    assert k["agent_id"] == out["agent_id"] and k["active"]
    assert k["revoked_at"] is None and k["last_used_at"] is None
    assert out["key"] not in k["hashed_key"]
    assert k["hashed_key"].startswith("pbkdf2_sha256$1000$")
    assert stack.django_check(out["key"], k["hashed_key"])


def test_agent_create_stores_provider_description_and_project(run, pg):
    proj = str(uuid.uuid4())
    out = create_agent(run, "--provider", "openai", "--description",
                       "summarises things", "--project-id", proj,
                       "--key-name", "first")
    row = pg.query("SELECT provider, description, project_id::text"
                   " FROM agent WHERE id = %s", (out["agent_id"],))
    assert row == [("openai", "summarises things", proj)]
    assert key_row(pg, out["key_id"])["name"] == "first"


def test_agent_create_text_prints_the_key_once(run):
    r = ok(run("agent", "create", "--name", "texty"))
    keys = re.findall(r"agent_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}", r.stdout)
    assert len(keys) == 1
    assert "shown once" in r.stdout
    assert "texty" in r.stdout


def test_agent_create_text_names_the_key_name_as_the_keys(run):
    """A bare "name: -" under "agent: texty" read as if the agent had no
    name: the key's label says whose it is."""
    r = ok(run("agent", "create", "--name", "named"))
    lines = r.stdout.splitlines()
    assert "agent:     named" in lines
    assert "key name:  (none)" in lines
    assert not [ln for ln in lines if ln.startswith("name:")], lines
    r = ok(run("agent", "create", "--name", "named2", "--key-name", "ci"))
    assert "key name:  ci" in r.stdout.splitlines()


def test_agent_create_never_gives_a_key_without_expiry(run, pg):
    out = create_agent(run, "--never")
    assert out["expires_at"] is None
    assert key_row(pg, out["key_id"])["expires_at"] is None


def test_agent_create_without_name_is_a_usage_error(run):
    failed(run("agent", "create"), 2, ["--name"])
    failed(run("agent", "create", "--name", ""), 2, ["--name"])


def test_agent_create_rejects_a_malformed_project_id(run, pg):
    n = pg.scalar("SELECT count(*) FROM agent")
    failed(run("agent", "create", "--name", "x", "--project-id", "nope"),
           2, ["--project-id", "uuid"])
    assert pg.scalar("SELECT count(*) FROM agent") == n


def test_agent_create_rejects_a_name_over_255_characters(run):
    failed(run("agent", "create", "--name", "é" * 256), 2, ["255"])
    ok(run("agent", "create", "--name", "é" * 255))


def test_agent_create_rejects_control_characters_in_names(run):
    failed(run("agent", "create", "--name", "evil\x1b[2J"), 2,
           ["control character"])
    failed(run("agent", "create", "--name", "x", "--provider", "a\nb"), 2,
           ["--provider"])


def test_agent_create_writes_nothing_when_the_key_insert_fails(
        run, fresh_db):
    ok(run("migrate", url=fresh_db.url))
    fresh_db.query(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
        " $$BEGIN RAISE EXCEPTION 'no keys today'; END$$;"
        "CREATE TRIGGER refuse BEFORE INSERT ON agent_key"
        " FOR EACH ROW EXECUTE FUNCTION refuse()")
    failed(run("agent", "create", "--name", "x", url=fresh_db.url), 1,
           ["no keys today"])
    assert fresh_db.scalar("SELECT count(*) FROM agent") == 0


def test_agent_create_fails_with_exit_1_when_the_database_is_down(run):
    failed(run("agent", "create", "--name", "x", url=dead_url()), 1,
           ["cannot connect to the database"])


def test_a_malformed_database_url_is_refused_without_echoing_it(run):
    line = failed(run("agent", "list",
                      url="postgresql://u:hunter2@h/db?nosuch=1"), 1,
                  ["OTAS_DATABASE_URL"])
    assert "hunter2" not in line


# --- agent list / disable -----------------------------------------------

def test_agent_list_shows_every_agent_with_its_usable_keys(run):
    out = create_agent(run)
    ok(run("key", "issue", out["agent_id"], "--expires-in", "1"))
    agents = ok_json(run("agent", "list", "--json"))["agents"]
    mine = [a for a in agents if a["agent_id"] == out["agent_id"]]
    assert len(mine) == 1
    assert mine[0]["active_keys"] == 2 and mine[0]["is_active"] is True
    assert mine[0]["name"] == out["name"]
    text = ok(run("agent", "list")).stdout
    assert re.search(re.escape(out["agent_id"]) + r" +active .* " +
                     re.escape(out["name"]), text)


@pytest.mark.parametrize("command, active", [("disable", False),
                                             ("enable", True)])
def test_agent_disable_and_enable_set_is_active(run, pg, command, active):
    """disable marks the agent inactive; enable, of a disabled agent,
    active again.  Asked again, either says nothing changed."""
    out = create_agent(run)
    if command == "enable":
        ok(run("agent", "disable", out["agent_id"]))
    r = ok(run("agent", command, out["agent_id"]))
    assert command + "d" in r.stdout
    assert pg.scalar("SELECT is_active FROM agent WHERE id = %s",
                     (out["agent_id"],)) is active
    again = ok_json(run("agent", command, out["agent_id"], "--json"))
    assert again == {"agent_id": out["agent_id"], "is_active": active,
                     "changed": False}


@pytest.mark.parametrize("command", ["disable", "enable"])
def test_agent_disable_and_enable_of_an_unknown_agent_fail(run, command):
    failed(run("agent", command, str(uuid.uuid4())), 1, ["no agent"])


@pytest.mark.parametrize("command", ["disable", "enable"])
def test_agent_disable_and_enable_of_a_malformed_id_are_usage_errors(
        run, command):
    failed(run("agent", command, "123"), 2, ["not a uuid"])


# --- key issue -----------------------------------------------------------

def test_key_issue_expires_in_30_days_by_default(run, pg):
    agent = create_agent(run)["agent_id"]
    out = ok_json(run("key", "issue", agent, "--json"))
    assert set(out) == CREATE_MEMBERS
    k = key_row(pg, out["key_id"])
    assert k["expires_at"] - k["created_at"] == datetime.timedelta(days=30)


def test_key_issue_honours_expires_in_never_name_and_iterations(run, pg):
    agent = create_agent(run)["agent_id"]
    out = ok_json(run("key", "issue", agent, "--expires-in", "7",
                      "--name", "ci", "--iterations", "1234", "--json"))
    k = key_row(pg, out["key_id"])
    assert k["expires_at"] - k["created_at"] == datetime.timedelta(days=7)
    assert k["name"] == "ci"
    assert k["hashed_key"].startswith("pbkdf2_sha256$1234$")
    assert stack.django_check(out["key"], k["hashed_key"])
    out = ok_json(run("key", "issue", agent, "--never", "--json"))
    assert key_row(pg, out["key_id"])["expires_at"] is None


def test_key_issue_takes_iterations_from_the_environment(run, pg):
    agent = create_agent(run)["agent_id"]
    out = ok_json(run("key", "issue", agent, "--json",
                      env={"OTAS_KEY_ITERATIONS": "2000"}))
    h = key_row(pg, out["key_id"])["hashed_key"]
    assert h.startswith("pbkdf2_sha256$2000$")
    assert stack.django_check(out["key"], h)
    wrong = out["key"][:-1] + ("A" if out["key"][-1] != "A" else "B")
    assert not stack.django_check(wrong, h)


def test_key_issue_makes_distinct_keys(run):
    agent = create_agent(run)["agent_id"]
    a = ok_json(run("key", "issue", agent, "--json"))
    b = ok_json(run("key", "issue", agent, "--json"))
    assert a["key"] != b["key"] and a["prefix"] != b["prefix"]


@pytest.mark.parametrize("args", [
    ["--expires-in", "abc"], ["--expires-in", "0"], ["--expires-in", "-1"],
    ["--expires-in", "7days"], ["--expires-in", "99999999999999999999"],
    ["--iterations", "0"], ["--iterations", " 5"], ["--iterations", "1e3"],
    ["--expires-in", "3", "--never"], ["--never=yes"], ["--bogus"],
    ["--name"],
])
def test_key_issue_rejects_bad_options_with_exit_2(run, pg, args):
    agent = create_agent(run)["agent_id"]
    n = pg.scalar("SELECT count(*) FROM agent_key")
    failed(run("key", "issue", agent, *args), 2)
    assert pg.scalar("SELECT count(*) FROM agent_key") == n


def test_key_issue_rejects_a_bad_iterations_environment(run):
    agent = create_agent(run)["agent_id"]
    failed(run("key", "issue", agent, env={"OTAS_KEY_ITERATIONS": "many"}),
           1, ["OTAS_KEY_ITERATIONS"])


def test_key_issue_for_an_unknown_agent_fails(run):
    failed(run("key", "issue", str(uuid.uuid4())), 1, ["no agent"])


def test_key_issue_for_a_malformed_agent_id_is_a_usage_error(run):
    failed(run("key", "issue", "not-a-uuid"), 2, ["not a uuid"])
    failed(run("key", "issue"), 2, ["missing argument"])


def test_key_issue_for_a_disabled_agent_fails(run, pg):
    agent = create_agent(run)["agent_id"]
    ok(run("agent", "disable", agent))
    failed(run("key", "issue", agent), 1, ["disabled"])
    assert pg.scalar("SELECT count(*) FROM agent_key WHERE agent_id = %s",
                     (agent,)) == 1


# --- key rotate ----------------------------------------------------------

def test_key_rotate_revokes_every_active_key_and_issues_one(run, pg):
    first = create_agent(run)
    agent = first["agent_id"]
    second = ok_json(run("key", "issue", agent, "--never", "--json"))
    out = ok_json(run("key", "rotate", agent, "--json"))
    assert out["revoked"] == 2
    assert set(out) == CREATE_MEMBERS | {"revoked"}
    for old in (first, second):
        k = key_row(pg, old["key_id"])
        assert k["active"] is False and k["revoked_at"] is not None
    new = key_row(pg, out["key_id"])
    assert new["active"] and new["revoked_at"] is None
    assert stack.django_check(out["key"], new["hashed_key"])


def test_key_rotate_keeps_the_old_keys_when_the_new_one_cannot_be_written(
        run, fresh_db):
    ok(run("migrate", url=fresh_db.url))
    agent = ok_json(run("agent", "create", "--name", "r", "--json",
                        url=fresh_db.url))
    fresh_db.query(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
        " $$BEGIN RAISE EXCEPTION 'no keys today'; END$$;"
        "CREATE TRIGGER refuse BEFORE INSERT ON agent_key"
        " FOR EACH ROW EXECUTE FUNCTION refuse()")
    failed(run("key", "rotate", agent["agent_id"], url=fresh_db.url), 1,
           ["no keys today"])
    assert fresh_db.query("SELECT active, revoked_at FROM agent_key") == [
        (True, None)]


def test_key_rotate_text_says_how_many_were_revoked(run):
    agent = create_agent(run)["agent_id"]
    r = ok(run("key", "rotate", agent))
    assert re.search(r"revoked: +1 key\b", r.stdout)
    assert len(re.findall(r"agent_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}",
                          r.stdout)) == 1


# --- key revoke ----------------------------------------------------------

def test_key_revoke_by_id(run, pg):
    out = create_agent(run)
    r = ok(run("key", "revoke", out["key_id"]))
    assert "revoked" in r.stdout and out["prefix"] in r.stdout
    k = key_row(pg, out["key_id"])
    assert k["active"] is False and k["revoked_at"] is not None


def test_key_revoke_by_prefix_and_again_is_harmless(run, pg):
    out = create_agent(run)
    first = ok_json(run("key", "revoke", out["prefix"], "--json"))
    assert first == {"key_id": out["key_id"], "prefix": out["prefix"],
                     "changed": True}
    when = key_row(pg, out["key_id"])["revoked_at"]
    again = ok_json(run("key", "revoke", out["prefix"], "--json"))
    assert again["changed"] is False
    assert key_row(pg, out["key_id"])["revoked_at"] == when


def test_key_revoke_of_a_shared_prefix_asks_for_the_id(run, pg, keys):
    prefix = stack.original_prefix()
    a = keys.make(prefix=prefix)
    keys.make(prefix=prefix)
    # token_urlsafe may begin a prefix with '-': "--" ends the options.
    failed(run("key", "revoke", "--", prefix), 1, ["2 keys share prefix",
                                                    "key id"])
    assert key_row(pg, a.key_id)["active"] is True
    ok(run("key", "revoke", a.key_id))
    assert key_row(pg, a.key_id)["active"] is False


def test_key_revoke_of_a_prefix_beginning_with_a_dash(run, pg, keys):
    a = keys.make(prefix="-" + stack.new_prefix()[:10])
    failed(run("key", "revoke", a.prefix), 2, ["goes after --"])
    assert key_row(pg, a.key_id)["active"] is True
    ok(run("key", "revoke", "--", a.prefix))
    assert key_row(pg, a.key_id)["active"] is False


def test_key_revoke_of_an_unknown_key_fails(run):
    failed(run("key", "revoke", str(uuid.uuid4())), 1, ["no key with id"])
    failed(run("key", "revoke", "NoSuchPrefix"), 1, ["no key with prefix"])


def test_key_revoke_of_a_malformed_key_is_a_usage_error(run):
    failed(run("key", "revoke", "bad prefix!"), 2, ["not a key id"])


# --- key list ------------------------------------------------------------

def test_key_list_shows_states_and_never_the_hash(run, pg, keys):
    agent = create_agent(run)
    aid = agent["agent_id"]
    expired = keys.make(agent_id=aid, expires_in=-60, name="old")
    revoked = ok_json(run("key", "issue", aid, "--json", "--name", "gone"))
    ok(run("key", "revoke", revoked["key_id"]))
    listed = ok_json(run("key", "list", aid, "--json"))
    assert listed["agent_id"] == aid
    state = {k["key_id"]: k["state"] for k in listed["keys"]}
    assert state == {agent["key_id"]: "active", expired.key_id: "expired",
                     revoked["key_id"]: "revoked"}
    for k in listed["keys"]:
        assert set(k) == {"key_id", "prefix", "name", "state", "created_at",
                          "last_used_at", "expires_at", "revoked_at"}
    text = ok(run("key", "list", aid)).stdout
    assert "pbkdf2" not in text and "pbkdf2" not in json.dumps(listed)
    assert re.search(re.escape(expired.prefix) + r" +expired ", text)
    assert re.search(re.escape(revoked["prefix"]) + r" +revoked ", text)
    assert re.search(re.escape(agent["prefix"]) + r" +active ", text)


def test_key_list_shows_last_use(run, pg):
    agent = create_agent(run)
    pg.query("UPDATE agent_key SET last_used_at = '2030-01-02T03:04:05Z'"
             " WHERE id = %s", (agent["key_id"],))
    listed = ok_json(run("key", "list", agent["agent_id"], "--json"))
    assert listed["keys"][0]["last_used_at"] == "2030-01-02T03:04:05Z"


def test_key_list_of_an_unknown_agent_fails(run):
    failed(run("key", "list", str(uuid.uuid4())), 1, ["no agent"])


# --- session list --------------------------------------------------------

def insert_session(pg, agent, key_id, meta, when):
    sid = str(uuid.uuid4())
    pg.query("INSERT INTO agent_session (id, agent_id, agent_key_id,"
             " created_at, meta) VALUES (%s, %s, %s, %s, %s::jsonb)",
             (sid, agent, key_id, when, meta))
    return sid


def test_session_list_is_newest_first_with_meta_kept_exactly(run, pg):
    agent = create_agent(run)
    t0 = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
    old = insert_session(pg, agent["agent_id"], agent["key_id"],
                         '{"task": "a"}', t0)
    big = '{"n": 123456789012345678901234567890.123456789, "s": "\u00e9"}'
    new = insert_session(pg, agent["agent_id"], agent["key_id"], big,
                         t0 + datetime.timedelta(minutes=1))
    r = ok(run("session", "list", agent["agent_id"], "--json"))
    assert "123456789012345678901234567890.123456789" in r.stdout
    out = json.loads(r.stdout)
    assert [s["session_id"] for s in out["sessions"]] == [new, old]
    s = out["sessions"][0]
    assert s["key_prefix"] == agent["prefix"]
    assert s["key_id"] == agent["key_id"]
    assert s["created_at"] == "2030-01-01T00:01:00Z"
    assert s["meta"]["s"] == "\u00e9"
    text = ok(run("session", "list", agent["agent_id"])).stdout
    assert text.index(new) < text.index(old)
    assert '"task": "a"' in text


def test_session_list_limit(run, pg):
    agent = create_agent(run)
    t0 = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
    for i in range(5):
        insert_session(pg, agent["agent_id"], None, "{}",
                       t0 + datetime.timedelta(seconds=i))
    out = ok_json(run("session", "list", agent["agent_id"], "--limit", "2",
                      "--json"))
    assert [s["created_at"] for s in out["sessions"]] == [
        "2030-01-01T00:00:04Z", "2030-01-01T00:00:03Z"]
    assert out["sessions"][0]["key_prefix"] is None
    failed(run("session", "list", agent["agent_id"], "--limit", "0"), 2,
           ["--limit"])
    failed(run("session", "list", agent["agent_id"], "--limit", "x"), 2,
           ["--limit"])


def test_session_list_of_an_unknown_agent_fails(run):
    failed(run("session", "list", str(uuid.uuid4())), 1, ["no agent"])


# --- usage and help ------------------------------------------------------

def test_help_lists_every_command(run):
    r = ok(run("--help"))
    for c in ("migrate", "check", "agent create", "agent list",
              "agent disable", "agent enable", "key issue", "key rotate", "key revoke",
              "key list", "session list"):
        assert c in r.stdout


@pytest.mark.parametrize("cmd", [
    ["migrate"], ["check"], ["agent", "create"], ["agent", "list"],
    ["agent", "disable"], ["agent", "enable"], ["key", "issue"], ["key", "rotate"],
    ["key", "revoke"], ["key", "list"], ["session", "list"]])
def test_help_for_each_command_needs_no_database(run, cmd):
    r = ok(run(*cmd, "--help", url=dead_url()))
    assert r.stdout.startswith("usage: otas-admin " + " ".join(cmd))


def test_group_help_lists_its_subcommands(run):
    r = ok(run("key", "--help"))
    for c in ("issue", "rotate", "revoke", "list"):
        assert "otas-admin key " + c in r.stdout


@pytest.mark.parametrize("args,words", [
    ([], ["no command"]),
    (["frobnicate"], ["unknown command: frobnicate"]),
    (["agent"], ["missing subcommand"]),
    (["agent", "explode"], ["unknown command: agent explode"]),
    (["agent", "list", "extra"], ["unexpected argument"]),
    (["agent", "list", "--bogus"], ["unknown option --bogus"]),
    (["agent", "list", "-x"], ["unknown option -x", "goes after --"]),
    (["key", "list", str(uuid.uuid4()), str(uuid.uuid4())],
     ["unexpected argument"]),
    (["key", "issue", "--name", "a", "--name", "b", str(uuid.uuid4())],
     ["given twice"]),
])
def test_usage_errors_exit_2_with_one_line(run, args, words):
    failed(run(*args, url=dead_url()), 2, words)


def test_json_flag_may_come_first(run):
    out = ok_json(run("--json", "agent", "create", "--name", "first"))
    assert set(out) == CREATE_MEMBERS


def test_options_take_the_equals_form(run, pg):
    out = ok_json(run("agent", "create", "--name=eq", "--provider=p",
                      "--json"))
    assert pg.scalar("SELECT provider FROM agent WHERE id = %s",
                     (out["agent_id"],)) == "p"


# --- at the endpoint -----------------------------------------------------

def session_create(server, key):
    return otas_http.request(server, headers=[("X-OTAS-AGENT-KEY", key)],
                             body=b'{"meta": {"via": "otas-admin"}}')


def test_an_issued_key_works_at_the_endpoint_and_a_revoked_one_stops(
        run, lighttpd):
    out = create_agent(run)
    r = session_create(lighttpd, out["key"])
    assert r.status == 200, r
    ok(run("key", "revoke", out["key_id"]))
    r = session_create(lighttpd, out["key"])
    assert r.status == 401, r
    assert r.json() == {"status": 0, "status_description": "invalid_agent_key"}


def test_rotation_stops_the_old_key_at_the_next_request(run, lighttpd):
    out = create_agent(run)
    assert session_create(lighttpd, out["key"]).status == 200
    new = ok_json(run("key", "rotate", out["agent_id"], "--json"))
    assert session_create(lighttpd, out["key"]).status == 401
    assert session_create(lighttpd, new["key"]).status == 200


def test_a_disabled_agent_key_stops_at_the_next_request(run, lighttpd):
    out = create_agent(run)
    assert session_create(lighttpd, out["key"]).status == 200
    ok(run("agent", "disable", out["agent_id"]))
    assert session_create(lighttpd, out["key"]).status == 401


def test_an_enabled_agent_key_works_again_at_the_next_request(run, lighttpd):
    out = create_agent(run)
    ok(run("agent", "disable", out["agent_id"]))
    assert session_create(lighttpd, out["key"]).status == 401
    ok(run("agent", "enable", out["agent_id"]))
    assert session_create(lighttpd, out["key"]).status == 200


def test_session_list_shows_a_session_made_at_the_endpoint(run, lighttpd):
    out = create_agent(run)
    assert session_create(lighttpd, out["key"]).status == 200
    listed = ok_json(run("session", "list", out["agent_id"], "--json"))
    assert len(listed["sessions"]) == 1
    assert listed["sessions"][0]["meta"] == {"via": "otas-admin"}
    assert listed["sessions"][0]["key_id"] == out["key_id"]
