"""Retention: `otas-admin session purge [--older-than DURATION] [--dry-run]
[--batch N]` deletes the sessions older than the retention in batches of
short transactions, says how many, and takes the Idempotency-Key records
that expired or whose session went with them; without --older-than it
uses OTAS_SESSION_RETENTION, and with neither it deletes no session but
still the records past their own TTL.  A role that may not delete (the
runtime role) is told what to connect as.

Most tests work on a fresh migrated database of their own, where every
row is theirs; the last purges the session database while otas-session
inserts into it through lighttpd.
"""

import uuid

import pytest

from harness import postgres
from harness.admin_cli import failed, ok, ok_json
from harness.private_server import Load


class Rows:
    """An agent, a key and sessions of a chosen age in one database."""

    def __init__(self, db):
        self.db = db
        self.agent = str(uuid.uuid4())
        self.key = str(uuid.uuid4())
        db.query("INSERT INTO agent (id, name, description, provider,"
                 " created_at, updated_at, is_active) VALUES (%s, 'purge',"
                 " '', '', now(), now(), true)", (self.agent,))
        db.query("INSERT INTO agent_key (id, prefix, hashed_key, agent_id,"
                 " name, created_at, active) VALUES (%s, %s, 'x', %s, '',"
                 " now(), true)", (self.key, uuid.uuid4().hex[:12],
                                   self.agent))

    def sessions(self, n, age):
        """n sessions created `age` ago (a PostgreSQL interval)."""
        ids = [str(uuid.uuid4()) for _ in range(n)]
        for sid in ids:
            self.db.query("INSERT INTO agent_session (id, agent_id,"
                          " agent_key_id, created_at, meta) VALUES"
                          " (%s, %s, %s, now() - %s::interval, '{}')",
                          (sid, self.agent, self.key, age))
        return set(ids)

    def record(self, age, session_id=None):
        """An Idempotency-Key record made `age` ago; returns its key."""
        k = "k-" + uuid.uuid4().hex
        self.db.query("INSERT INTO otas_idempotency (agent_id,"
                      " idempotency_key, request_hash, session_id, iat, exp,"
                      " created_at) VALUES (%s, %s, '\\x00', %s, 0, 0,"
                      " now() - %s::interval)",
                      (self.agent, k, session_id or str(uuid.uuid4()), age))
        return k

    def left(self):
        return {str(i) for (i,) in self.db.query(
            "SELECT id FROM agent_session WHERE agent_id = %s",
            (self.agent,))}

    def records_left(self):
        return {k for (k,) in self.db.query(
            "SELECT idempotency_key FROM otas_idempotency")}


@pytest.fixture
def rows(run, fresh_db):
    ok(run("migrate", url=fresh_db.url))
    return Rows(fresh_db)


@pytest.fixture
def purge(run, fresh_db):
    def _purge(*args, env=None):
        return run("session", "purge", *args, url=fresh_db.url, env=env)
    return _purge


def test_purge_deletes_the_older_sessions_and_keeps_the_newer(rows, purge):
    rows.sessions(5, "40 days")
    newer = rows.sessions(3, "10 days")
    out = ok_json(purge("--older-than", "30d", "--json"))
    assert out["sessions"] == 5 and out["dry_run"] is False
    assert out["retention_seconds"] == 30 * 86400
    assert rows.left() == newer


def test_purge_says_how_many_it_deleted(rows, purge):
    rows.sessions(2, "2 hours")
    r = ok(purge("--older-than", "1h"))
    assert r.stdout.startswith("deleted 2 sessions created before "), r.stdout


def test_dry_run_counts_and_deletes_nothing(rows, purge):
    old = rows.sessions(4, "40 days")
    newer = rows.sessions(1, "1 day")
    out = ok_json(purge("--older-than", "30d", "--dry-run", "--json"))
    assert out["sessions"] == 4 and out["dry_run"] is True
    assert rows.left() == old | newer
    assert "would delete 4 sessions" in ok(
        purge("--older-than", "30d", "--dry-run")).stdout


def test_small_batches_delete_everything_one_batch_at_a_time(rows, purge):
    rows.sessions(10, "40 days")
    out = ok_json(purge("--older-than", "30d", "--batch", "3", "--json"))
    assert out["sessions"] == 10 and out["batches"] == 4
    assert rows.left() == set()


def test_without_older_than_the_retention_setting_decides(rows, purge):
    rows.sessions(3, "100 days")
    newer = rows.sessions(2, "80 days")
    out = ok_json(purge("--json", env={"OTAS_SESSION_RETENTION": "90d"}))
    assert out["sessions"] == 3
    assert rows.left() == newer


def test_older_than_wins_over_the_retention_setting(rows, purge):
    rows.sessions(2, "100 days")
    rows.sessions(2, "20 days")
    out = ok_json(purge("--older-than", "10d", "--json",
                        env={"OTAS_SESSION_RETENTION": "90d"}))
    assert out["sessions"] == 4


def test_without_any_retention_no_session_goes_but_expired_records_do(
        rows, purge):
    # A record is some 770 bytes a key: it expires by its own TTL
    # (OTAS_IDEMPOTENCY_TTL, a day), whether sessions are kept or not.
    old = rows.sessions(3, "3650 days")
    sid = old.copy().pop()
    rows.record("400 days", session_id=sid)
    fresh = rows.record("1 hour", session_id=sid)
    r = ok(purge())
    assert "no session purged; deleted 1 expired idempotency record" in \
        r.stdout, r.stdout
    assert rows.records_left() == {fresh}
    out = ok_json(purge("--json"))
    assert out["retention_seconds"] is None and out["sessions"] == 0
    assert out["before"] is None and out["idempotency_records"] == 0
    assert rows.left() == old


def runtime_url(db):
    return "postgresql://%s@127.0.0.1:%d/%s" % (postgres.RUNTIME_ROLE,
                                                db.pg.port, db.name)


def test_the_runtime_role_expires_records_without_a_retention(
        run, rows, fresh_db):
    fresh_db.query("ALTER ROLE %s LOGIN" % postgres.RUNTIME_ROLE)
    expired = rows.record("2 days")
    kept = rows.record("1 hour")
    ok(run("session", "purge", url=runtime_url(fresh_db)))
    assert rows.records_left() == {kept} and expired not in \
        rows.records_left()


def test_the_runtime_role_purging_sessions_is_told_what_to_connect_as(
        run, rows, fresh_db):
    # The Debian package's purge unit connects as the settings file says
    # until purge.env names the owner: it must say so, not "permission
    # denied", and delete nothing.
    fresh_db.query("ALTER ROLE %s LOGIN" % postgres.RUNTIME_ROLE)
    old = rows.sessions(2, "100 days")
    record = rows.record("2 days")
    r = run("session", "purge", url=runtime_url(fresh_db),
            env={"OTAS_SESSION_RETENTION": "90d"})
    failed(r, 1, ["session purge: role %s may not delete sessions; connect "
                  "as the tables' owner" % postgres.RUNTIME_ROLE,
                  "/etc/otas-fcgi/purge.env"])
    assert rows.left() == old and record in rows.records_left()


def test_idempotency_records_go_when_expired_or_their_session_went(
        rows, purge):
    expired = rows.record("2 days")           # OTAS_IDEMPOTENCY_TTL: 1 day
    with_old_session = rows.record("40 days")
    fresh = rows.record("1 hour")
    out = ok_json(purge("--older-than", "30d", "--json"))
    assert out["idempotency_records"] == 2
    assert rows.records_left() == {fresh}
    assert expired not in rows.records_left()
    assert with_old_session not in rows.records_left()


def test_a_retention_shorter_than_the_idempotency_ttl_takes_the_records(
        rows, purge):
    """A retry must never be answered with a session that was purged."""
    sid = rows.sessions(1, "3 hours").pop()
    record = rows.record("3 hours", session_id=sid)
    kept = rows.record("10 minutes")
    ok(purge("--older-than", "1h"))
    assert rows.left() == set()
    assert rows.records_left() == {kept} and record not in rows.records_left()


@pytest.mark.parametrize("args,words", [
    (["--older-than", "90"], ["--older-than", "90d"]),
    (["--older-than", "-1d"], ["--older-than"]),
    (["--older-than", "30d", "--batch", "0"], ["--batch"]),
    (["--older-than", "30d", "--batch", "x"], ["--batch"]),
])
def test_bad_arguments_are_usage_errors(purge, args, words):
    failed(purge(*args), 2, words)


def test_a_bad_retention_setting_stops_purge(purge):
    failed(purge(env={"OTAS_SESSION_RETENTION": "ninety days"}), 1,
           ["OTAS_SESSION_RETENTION"])


def test_purge_in_batches_while_otas_session_inserts(run, pg, keys,
                                                     lighttpd):
    """The endpoint keeps answering 200 while purge deletes in small
    batches beside it; every old row goes and every new one stays."""
    old_key = keys.make()
    for _ in range(200):
        pg.query("INSERT INTO agent_session (id, agent_id, agent_key_id,"
                 " created_at, meta) VALUES (gen_random_uuid(), %s, %s,"
                 " now() - interval '400 days', '{}')",
                 (old_key.agent_id, old_key.key_id))
    live = keys.make()
    with Load(lighttpd, live, threads=2) as load:
        out = ok_json(run("session", "purge", "--older-than", "365d",
                          "--batch", "7", "--json"))
    assert out["sessions"] >= 200 and out["batches"] >= 29
    assert pg.scalar("SELECT count(*) FROM agent_session WHERE agent_id = %s",
                     (old_key.agent_id,)) == 0
    assert load.errors == [] and load.count(200) == len(load.answers) > 0
    assert pg.scalar("SELECT count(*) FROM agent_session WHERE agent_id = %s",
                     (live.agent_id,)) == load.count(200)
