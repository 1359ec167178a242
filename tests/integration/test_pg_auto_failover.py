"""High availability on pg_auto_failover, end to end, by the guide
(doc/failover-pg-auto-failover.md): its shell blocks, run as written with
the site's values filled in (autofailover.py), make a monitor, a primary
(node1) and its synchronous secondary (node2) under pg_autoctl, as
postgres, on loopback; otas-session and otas-authz run behind lighttpd
with the URLs of the guide's otas.conf block, which must be what
`pg_autoctl show uri --formation default` printed plus the role.

Under steady session creates, node1's machine is lost: its pg_autoctl,
PostgreSQL and backends are SIGKILLed together (PostgreSQL alone would be
restarted by its pg_autoctl, with no failover: a lost machine is what the
monitor is for).  The monitor promotes node2 by itself.  Every answer is
200 or 503 (a 503 with Retry-After), every session acknowledged with a
200 is on node2, and 200s come back within 30 s of the loss (the 50 s of
pg_auto_failover's defaults would not: the guide's monitor settings are
what this bound checks).  While node1 is down and node2 not yet promoted,
otas-authz in database mode answers 200 from node2 for a session made
before the loss.  Then node1 rejoins as the secondary with `pg_autoctl
run`, and the authorizer's reads, on node2 since it was promoted, return
to node1 by themselves; node2's machine is lost in turn, node1 takes over, and again no
acknowledged session is missing.
"""

import os
import time

import jwt
import pytest

from harness import autofailover
from harness import processes
from harness import stack
from harness.otas_http import create_session, request
from harness.private_server import Load, start_private
from test_authz import PROTECTED, TOKEN_HEADER

pytestmark = pytest.mark.skipif(
    not autofailover.available(),
    reason="pg_auto_failover missing (scripts/install-deps.sh installs "
    "postgresql-15-auto-failover and pg-auto-failover-cli)")

THREADS = 2
CLIENT_TIMEOUT = 20
# The bound: 200s again within this many seconds of the loss.
BACK_WITHIN = 30


@pytest.fixture(scope="module")
def formation(workdir, build_dir, sql_dir):
    """The guide's steps 1 to 4: monitor, node1, node2 running, the schema
    migrated through the formation's URL by the web machine's block."""
    f = autofailover.Formation(os.path.join(workdir, "pg-auto-failover"))
    os.makedirs(f.sockdir)
    os.chmod(f.dir, 0o755)
    processes.give_to(f.sockdir, "postgres")
    for node in f.nodes.values():
        node.make_dirs()
    try:
        create_monitor, monitor_settings, show_uri = f.blocks("monitor")
        f.run_block(create_monitor, "monitor")
        f.start_service("monitor")
        f.run_block(monitor_settings, "monitor")
        create_node1, node1_roles = f.blocks("node1")
        f.run_block(create_node1, "node1")
        f.start_service("node1")
        f.wait_states({"node1": "single"})
        f.run_block(node1_roles, "node1")
        (create_node2,) = f.blocks("node2")
        f.run_block(create_node2, "node2")
        f.start_service("node2")
        f.wait_states({"node1": "primary", "node2": "secondary"})
        f.uri = f.run_block(show_uri, "monitor").strip()
        (migrate,) = f.blocks("web")
        f.run_block(migrate, "web", env={
            "PATH": build_dir + ":/usr/bin:/bin", "OTAS_SQL_DIR": sql_dir})
        yield f
    finally:
        f.destroy()


def guide_settings(f):
    """The guide's otas.conf block, filled in: {NAME: value}."""
    (conf,) = autofailover.guide_blocks("conf")
    conf = f.fill(conf, "web")
    return dict(line.split("=", 1) for line in conf.splitlines()
                if line and not line.startswith("#"))


@pytest.fixture(scope="module")
def served(workdir, build_dir, secret, formation):
    settings = guide_settings(formation)
    env = dict(settings, OTAS_JWT_SECRET_FILE=secret.path,
               OTAS_CONNECT_TIMEOUT="1", OTAS_AUTHZ_CACHE_SECONDS="0")
    app = stack.App(build_dir, env)
    with start_private(os.path.join(workdir, "pg-auto-failover-web"),
                       app) as srv:
        yield srv


def session_id(token):
    return jwt.decode(token, options={"verify_signature": False})[
        "agent_session_id"]


def new_token(server, key):
    resp = create_session(server, key, "{}", timeout=CLIENT_TIMEOUT)
    assert resp.status == 200, resp
    return resp.json()["response"]["jwt_token"]


def check(server, token):
    return request(server, path=PROTECTED, body="{}", timeout=CLIENT_TIMEOUT,
                   headers=[(TOKEN_HEADER, token)])


def wait_until_back(load, at, settle=3):
    """Until 200s have come back after the loss at `at`: a 200 to a request
    sent after the last 503, followed by `settle` seconds with no 503.
    That first 200, or None when there is none by the bound (plus the
    client's timeout)."""
    deadline = at + BACK_WITHIN + CLIENT_TIMEOUT
    while time.monotonic() < deadline:
        with load.lock:
            after = [a for a in load.answers if a.start > at]
        last_503 = max((a.end for a in after if a.status == 503),
                       default=at)
        back = [a for a in after if a.status == 200 and a.start > last_503]
        if back:
            first = min(back, key=lambda a: a.end)
            if time.monotonic() - first.end >= settle:
                return first
        time.sleep(0.2)
    return None


def lose_under_load(f, served, key, lost, during=None):
    """Loses the machine `lost` under load; returns (answers, lost_at,
    first 200 after it, what during() returned right after the loss)."""
    with Load(served, key, THREADS, max_seconds=150,
              timeout=CLIENT_TIMEOUT) as load:
        time.sleep(2)
        lost_at = f.lose(lost)
        seen = during() if during else None
        back = wait_until_back(load, lost_at)
    assert not load.errors, load.errors[:5]
    return load.answers, lost_at, back, seen


def assert_failover(answers, lost_at, back):
    statuses = {a.status for a in answers}
    assert statuses <= {200, 503}, \
        [a for a in answers if a.status not in (200, 503)][:5]
    assert any(a.status == 200 and a.end < lost_at for a in answers)
    after = [a for a in answers if a.start > lost_at]
    assert any(a.status == 503 for a in after), "no 503: nothing was lost"
    assert all(a.retry_after == "1" for a in answers if a.status == 503), \
        [a for a in answers if a.status == 503 and a.retry_after != "1"][:3]
    assert back is not None and back.end - lost_at <= BACK_WITHIN, \
        "no 200 within %d s of the loss" % BACK_WITHIN
    # Requests sent once 200s were back: all 200.
    late = [a for a in answers if a.start >= back.end]
    assert late and all(a.status == 200 for a in late), (
        "back", round(back.start - lost_at, 2), round(back.end - lost_at, 2),
        "then", [(round(a.start - lost_at, 2), round(a.end - lost_at, 2),
                  a.status) for a in late if a.status != 200][:10])


def authz_connections(node):
    return node.scalar("SELECT count(*) FROM pg_stat_activity WHERE "
                       "application_name = 'otas-authz'")


def reads_move_to(standby, primary, served, token, seconds=60):
    """Whether otas-authz, asked again and again, comes to hold a
    connection to standby and none to primary within seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert check(served, token).status == 200
        if authz_connections(standby) and not authz_connections(primary):
            return True
        time.sleep(0.5)
    return False


def missing_on(node, key, answers, lost_at):
    """Acknowledged sessions node does not hold, each with when it was
    asked for and answered relative to the loss."""
    stored = {r[0] for r in node.query(
        "SELECT id::text FROM agent_session WHERE agent_id = %s",
        (key.agent_id,))}
    return [(a.start - lost_at, a.end - lost_at, session_id(a.token))
            for a in answers if a.status == 200 and
            session_id(a.token) not in stored]


def test_guide_url_is_what_pg_autoctl_shows_plus_the_role(formation):
    settings = guide_settings(formation)
    assert formation.uri.startswith("postgres://127.0.0.1:%d,127.0.0.1:%d/"
                                    % (formation["node1"].port,
                                       formation["node2"].port))
    assert "target_session_attrs=read-write" in formation.uri
    assert settings["OTAS_DATABASE_URL"] == \
        formation.uri + "&user=otas_runtime"
    assert settings["OTAS_AUTHZ_DATABASE_URL"] == formation.uri.replace(
        "read-write", "prefer-standby") + "&user=otas_runtime"
    # The monitor listens on the address it was given only.
    mon = formation["monitor"]
    assert mon.scalar("SHOW listen_addresses", dbname="postgres") == \
        "127.0.0.1"
    # node2 got the web server's pg_hba.conf line with node1's copy.
    with open(os.path.join(formation["node2"].pgdata, "pg_hba.conf")) as fh:
        assert "otas,otas_runtime 127.0.0.1/32 scram-sha-256" in fh.read()


def test_lost_primary_then_lost_new_primary_lose_no_acknowledged_session(
        formation, served):
    f = formation
    node1, node2 = f["node1"], f["node2"]
    key = stack.KeyFactory(node1).make()
    before = new_token(served, key)
    assert node1.scalar("SHOW synchronous_standby_names") != ""

    def authz_from_the_secondary():
        resp = check(served, before)
        return resp.status, node2.scalar("SELECT pg_is_in_recovery()"), \
            node2.scalar("SELECT count(*) FROM pg_stat_activity WHERE "
                         "application_name = 'otas-authz'")

    # node1's machine is lost: node2 takes over.
    answers1, lost1, back1, authz = lose_under_load(
        f, served, key, "node1", during=authz_from_the_secondary)
    assert authz[1], "node2 promoted before the authorizer was asked"
    assert authz[0] == 200, "authorizer refused while the primary was down"
    assert authz[2] >= 1, "otas-authz holds no connection to the secondary"
    assert_failover(answers1, lost1, back1)
    assert not node2.scalar("SELECT pg_is_in_recovery()")
    lost = missing_on(node2, key, answers1, lost1)
    assert not lost, ("acknowledged, then lost", lost)
    print("node1 lost: %d answers, %d x 503, 200 again %.1f s after the loss"
          % (len(answers1), sum(a.status == 503 for a in answers1),
             back1.end - lost1))

    # node1 comes back: it rejoins as the secondary by itself.
    f.start_service("node1")
    f.wait_states({"node1": "secondary", "node2": "primary"})
    assert node1.scalar("SELECT pg_is_in_recovery()")
    # The authorizer's reads, on node2 since its promotion, go back to
    # the secondary by themselves.
    assert authz_connections(node2), "otas-authz was not on node2"
    assert reads_move_to(node1, node2, served, before), \
        "otas-authz still reads from the primary only"

    # node2's machine is lost: node1 takes over again.
    answers2, lost2, back2, _ = lose_under_load(f, served, key, "node2")
    assert_failover(answers2, lost2, back2)
    lost = missing_on(node1, key, answers1 + answers2, lost2)
    assert not lost, ("acknowledged, then lost", lost)
    print("node2 lost: %d answers, %d x 503, 200 again %.1f s after the loss"
          % (len(answers2), sum(a.status == 503 for a in answers2),
             back2.end - lost2))
