"""The runtime role: otas-session and otas-authz connect as a PostgreSQL
role that may do only their job (sql/grants.sql), made or granted by
`otas-admin migrate` run as the tables' owner.

The whole suite's programs connect as that role (conftest's app fixture
uses pg.runtime_url), so every contract test is also a test that the role
has enough rights; this file shows they are the ones it uses and that it
has no more.
"""

import uuid

import psycopg2
import psycopg2.errors
import pytest

from harness import postgres
from harness.admin_cli import failed, ok, ok_json
from harness.otas_http import create_session


def as_runtime(pg, dbname=None, role=postgres.RUNTIME_ROLE):
    return psycopg2.connect(host="127.0.0.1", port=pg.port, user=role,
                            dbname=dbname or pg.dbname, connect_timeout=5)


def refused(pg, sql, args=()):
    """The statement, as the runtime role, is refused for lack of rights."""
    conn = as_runtime(pg)
    try:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            conn.cursor().execute(sql, args)
    finally:
        conn.close()


@pytest.fixture
def role_name(pg, fresh_db):
    """A runtime role name of a test's own (tests migrate fresh_db with
    it); dropped afterwards with the rights it was given there."""
    name = "otas_rt_" + uuid.uuid4().hex[:10]
    yield name
    if pg.scalar("SELECT to_regrole(%s) IS NOT NULL", (name,)):
        fresh_db.query("DROP OWNED BY %s" % name)
        pg.query("DROP ROLE %s" % name)


def test_the_programs_connect_as_the_runtime_role(lighttpd, pg, keys):
    assert create_session(lighttpd, keys.make(), "{}").status == 200
    users = {u for (u,) in pg.query(
        "SELECT usename FROM pg_stat_activity"
        " WHERE application_name = 'otas-session'")}
    assert users == {postgres.RUNTIME_ROLE}


def test_the_runtime_role_can_create_a_session_with_its_row(lighttpd, pg,
                                                            keys):
    key = keys.make()
    assert create_session(lighttpd, key, '{"meta": {"r": 1}}').status == 200
    assert pg.query("SELECT meta FROM agent_session WHERE agent_key_id = %s",
                    (key.key_id,)) == [({"r": 1},)]
    assert pg.scalar("SELECT last_used_at IS NOT NULL FROM agent_key"
                     " WHERE id = %s", (key.key_id,))


def test_the_runtime_role_cannot_delete_or_change_sessions(pg):
    refused(pg, "DELETE FROM agent_session")
    refused(pg, "UPDATE agent_session SET meta = '{}'")
    refused(pg, "TRUNCATE agent_session")


def test_the_runtime_role_cannot_read_session_meta(pg):
    refused(pg, "SELECT meta FROM agent_session")


def test_the_runtime_role_may_delete_idempotency_records_only(pg):
    # session purge expires them as this role, too (no owner needed).
    conn = as_runtime(pg)
    try:
        conn.cursor().execute("DELETE FROM otas_idempotency WHERE false")
    finally:
        conn.close()
    refused(pg, "TRUNCATE otas_idempotency")


def test_the_runtime_role_reads_limits_but_cannot_set_them_or_forget_counts(
        pg):
    refused(pg, "UPDATE otas_rate_limit SET quota = 0")
    refused(pg, "INSERT INTO otas_rate_limit (agent_id, quota,"
            " window_seconds, burst) SELECT id, 0, 1, 1 FROM agent LIMIT 1")
    refused(pg, "DELETE FROM otas_rate_limit")
    refused(pg, "DELETE FROM otas_rate_state")
    refused(pg, "TRUNCATE otas_rate_state")


def test_the_runtime_role_cannot_change_agents_or_keys_beyond_their_use(
        pg, keys):
    key = keys.make()
    refused(pg, "UPDATE agent SET is_active = true")
    refused(pg, "UPDATE agent_key SET revoked_at = NULL WHERE id = %s",
            (key.key_id,))
    refused(pg, "UPDATE agent_key SET active = true WHERE id = %s",
            (key.key_id,))
    refused(pg, "DELETE FROM agent_key")
    refused(pg, "INSERT INTO agent (id, name) VALUES (gen_random_uuid(),"
            " 'x')")
    refused(pg, "INSERT INTO otas_schema_migrations (version, name)"
            " VALUES (999999, 'x')")


def test_the_runtime_role_cannot_read_a_table_it_has_no_business_with(pg):
    """A table of the original backend the programs never use."""
    pg.query("CREATE TABLE IF NOT EXISTS auth_user (id bigint PRIMARY KEY,"
             " password text)")
    refused(pg, "SELECT * FROM auth_user")
    refused(pg, "CREATE TABLE runtime_made (id int)")


def test_migrate_creates_a_missing_runtime_role_without_login(
        run, fresh_db, pg, role_name):
    out = ok_json(run("migrate", "--json", url=fresh_db.url,
                      env={"OTAS_RUNTIME_ROLE": role_name}))
    assert out["runtime_role"] == role_name
    assert pg.scalar("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s",
                     (role_name,)) is False
    assert fresh_db.scalar("SELECT has_table_privilege(%s, 'agent_session',"
                           " 'INSERT')", (role_name,))


def test_migrate_runtime_login_creates_the_role_with_login(
        run, fresh_db, pg, role_name):
    r = ok(run("migrate", "--runtime-login", url=fresh_db.url,
               env={"OTAS_RUNTIME_ROLE": role_name}))
    assert "runtime role %s" % role_name in r.stdout
    assert pg.scalar("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s",
                     (role_name,)) is True


def test_migrate_grants_an_existing_role_and_leaves_its_login_alone(
        run, fresh_db, pg, role_name):
    pg.query("CREATE ROLE %s LOGIN" % role_name)
    ok(run("migrate", url=fresh_db.url, env={"OTAS_RUNTIME_ROLE": role_name}))
    assert pg.scalar("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s",
                     (role_name,)) is True
    conn = as_runtime(pg, fresh_db.name, role_name)
    try:
        cur = conn.cursor()
        cur.execute("SELECT count(*) FROM agent_key")
        assert cur.fetchone() == (0,)
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("DELETE FROM agent_session")
    finally:
        conn.close()


def test_migrate_gives_a_role_created_after_the_schema_its_rights(
        run, fresh_db, pg, role_name):
    """grants.sql runs on every migrate, not once with a migration."""
    ok(run("migrate", url=fresh_db.url))
    assert not fresh_db.scalar("SELECT to_regrole(%s) IS NOT NULL",
                               (role_name,))
    r = ok(run("migrate", url=fresh_db.url,
               env={"OTAS_RUNTIME_ROLE": role_name}))
    assert "up to date" in r.stdout
    assert fresh_db.scalar("SELECT has_table_privilege(%s, 'agent_key',"
                           " 'SELECT')", (role_name,))


def test_migrate_by_an_owner_who_may_not_create_roles_names_the_role(
        run, pg, role_name):
    owner = role_name + "_owner"
    pg.query("CREATE ROLE %s LOGIN" % owner)
    db = "adm_" + uuid.uuid4().hex[:12]
    try:
        with pg.connect("postgres") as conn:
            conn.cursor().execute("CREATE DATABASE %s OWNER %s" % (db, owner))
        url = "postgresql://%s@127.0.0.1:%d/%s" % (owner, pg.port, db)
        line = failed(run("migrate", url=url,
                          env={"OTAS_RUNTIME_ROLE": role_name}), 1,
                      [role_name, "createuser"], quiet=False)
        assert "grants.sql" in line
    finally:
        with pg.connect("postgres") as conn:
            conn.cursor().execute("DROP DATABASE IF EXISTS %s WITH (FORCE)"
                                  % db)
        pg.query("DROP ROLE IF EXISTS %s" % owner)


def test_a_bad_runtime_role_name_stops_migrate_before_the_database(run):
    failed(run("migrate", env={"OTAS_RUNTIME_ROLE": "Bad-Name"}), 1,
           ["OTAS_RUNTIME_ROLE"])
