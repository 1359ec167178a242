"""GET /metrics on lighttpd.conf.example as shipped (2 otas-session
processes x 8 threads, otas-authz in front of otas-echo): one scrape counts
every process of the pool, exactly; counters survive a killed process;
promtool and a real Prometheus server accept what it says; nothing in it
names an agent, a key or a token; only loopback may fetch it.
"""

import concurrent.futures
import json
import os
import re
import signal
import time
import urllib.parse
import urllib.request

import pytest

from harness import metrics_scrape as ms
from harness import processes
from harness import stack
from harness.otas_http import create_session, request

PROTECTED = "/api/some/v1/endpoint/"
TOKEN_HEADER = "X-OTAS-AGENT-SESSION-TOKEN"
BODY = '{"meta": {"task": "metrics"}}'
MONOTONIC = ("_total", "_bucket", "_count", "_sum")

pytestmark = pytest.mark.skipif(not stack.Lighttpd.available(),
                                reason="lighttpd is not installed")


@pytest.fixture(scope="module")
def pool(workdir, app):
    """A private lighttpd from the example (its processes get killed)."""
    srv = stack.start_private(stack.Lighttpd,
                              os.path.join(workdir, "metrics-pool"), app)
    try:
        wait_for_procs(srv, 2)
        yield srv
    finally:
        srv.stop()


def wait_for_procs(srv, n, old=()):
    """Until lighttpd runs n otas-session processes, none of them in old."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pids = set(srv.program_pids())
        if len(pids) == n and not pids & set(old):
            return pids
        time.sleep(0.1)
    raise AssertionError("otas-session processes: %r" % srv.program_pids())


def creates(srv, key, n, threads=16):
    """n creates over `threads` connections at once; their statuses."""
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        return list(ex.map(lambda _: create_session(srv, key, BODY).status,
                           range(n)))


def delta(before, after, name, **labels):
    return ms.value(after, name, **labels) - ms.value(before, name, **labels)


def test_every_create_of_both_processes_and_all_threads_counts_once(pool,
                                                                    keys):
    key = keys.make()
    before = ms.scrape(pool)
    statuses = creates(pool, key, 240)
    after = ms.scrape(pool)
    assert statuses == [200] * 240
    assert delta(before, after, "otas_requests_total",
                 program="otas-session", code="200") == 240
    assert delta(before, after, "otas_sessions_created_total",
                 program="otas-session") == 240
    assert delta(before, after, "otas_request_duration_seconds_count",
                 program="otas-session") == 240
    # Both processes of the pool are in the scrape, with their threads.
    assert ms.total(after, "otas_processes", program="otas-session") == 2
    assert ms.total(after, "otas_threads", program="otas-session") == 16
    assert delta(before, after, "otas_db_group_commit_rows_sum",
                 program="otas-session") == 240


def test_errors_land_under_their_codes(pool, keys):
    key = keys.make()
    before = ms.scrape(pool)
    wrong = "agent_%s_%s" % (key.prefix, stack.new_secret())
    for _ in range(3):
        assert create_session(pool, wrong, BODY).status == 401
    for _ in range(2):
        assert create_session(pool, key, "{not json").status == 400
    assert request(pool, "GET").status == 405
    after = ms.scrape(pool)
    for code, n in (("401", 3), ("400", 2), ("405", 1), ("200", 0)):
        assert delta(before, after, "otas_requests_total",
                     program="otas-session", code=code) == n, code
    assert delta(before, after, "otas_key_cache_misses_total",
                 program="otas-session") >= 3


def test_503s_of_a_database_that_is_not_there_count_with_their_errors(
        workdir, app, keys):
    """A pool whose database URL names a port nobody listens on."""
    down = stack.App(app.build, dict(
        app.env, OTAS_DATABASE_URL="postgresql://otas_runtime@127.0.0.1:%d/"
        "otas?connect_timeout=2" % processes.free_port()))
    key = keys.make()
    with stack.start_private(stack.Lighttpd,
                             os.path.join(workdir, "metrics-down"), down,
                             max_procs=1) as srv:
        before = ms.scrape(srv)
        for _ in range(3):
            assert create_session(srv, key, BODY).status == 503
        after = ms.scrape(srv)
    assert delta(before, after, "otas_requests_total",
                 program="otas-session", code="503") == 3
    assert delta(before, after, "otas_db_errors_total",
                 program="otas-session") >= 3
    assert delta(before, after, "otas_sessions_created_total",
                 program="otas-session") == 0


def test_an_idempotency_key_replay_is_no_new_session(pool, keys):
    key = keys.make()
    before = ms.scrape(pool)
    for _ in range(2):
        assert create_session(pool, key, BODY, headers=[
            ("Idempotency-Key", '"metrics-replay"')]).status == 200
    after = ms.scrape(pool)
    assert delta(before, after, "otas_sessions_created_total",
                 program="otas-session") == 1
    assert delta(before, after, "otas_idempotency_replays_total",
                 program="otas-session") == 1
    assert delta(before, after, "otas_requests_total",
                 program="otas-session", code="200") == 2


def test_authz_requests_count_under_otas_authz(pool, keys):
    key = keys.make()
    resp = create_session(pool, key, BODY)
    token = resp.json()["response"]["jwt_token"]
    before = ms.scrape(pool)
    for _ in range(5):
        assert request(pool, "POST", PROTECTED, body="{}",
                       headers=[(TOKEN_HEADER, token)]).status == 200
    assert request(pool, "POST", PROTECTED, body="{}").status == 401
    after = ms.scrape(pool)
    assert delta(before, after, "otas_requests_total", program="otas-authz",
                 code="200") == 5
    assert delta(before, after, "otas_requests_total", program="otas-authz",
                 code="401") == 1
    assert ms.total(after, "otas_processes", program="otas-authz") >= 1


def test_a_killed_process_takes_no_count_with_it(pool, keys):
    key = keys.make()
    creates(pool, key, 64)
    before = ms.scrape(pool)
    old = wait_for_procs(pool, 2)
    victim = sorted(old)[0]
    os.kill(victim, signal.SIGKILL)
    # lighttpd starts another in its place when it next needs one.
    deadline = time.monotonic() + 20
    while victim in pool.program_pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    statuses = creates(pool, key, 40, threads=4)
    assert statuses.count(200) >= 36, statuses
    wait_for_procs(pool, 2, old={victim})
    after = ms.scrape(pool)
    lower = [(n, sorted(ls), v, after.get((n, ls)))
             for (n, ls), v in before.items()
             if n.endswith(MONOTONIC) and after.get((n, ls), -1) < v]
    assert lower == []
    assert delta(before, after, "otas_requests_total",
                 program="otas-session", code="200") == statuses.count(200)
    assert ms.total(after, "otas_processes", program="otas-session") == 2


def test_a_scrape_names_no_agent_key_or_token(pool, keys):
    key = keys.make()
    resp = create_session(pool, key, BODY)
    token = resp.json()["response"]["jwt_token"]
    assert request(pool, "POST", PROTECTED, body="{}",
                   headers=[(TOKEN_HEADER, token)]).status == 200
    status, _, text = ms.fetch(pool)
    assert status == 200
    for secret in (key.full, key.prefix, key.secret, key.agent_id, key.key_id,
                   token, token.split(".")[1]):
        assert secret not in text
    labels = {l for (_, ls) in ms.parse(text) for l, _ in ls}
    assert labels <= {"program", "code", "le", "state", "version"}


class OneAddressLighttpd(stack.Lighttpd):
    """The example with its one metrics line changed to one address."""

    def config_text(self):
        text, n = re.subn(r'^(var\.otas_metrics_from\s*=).*$',
                          r'\1 "127.0.0.1"', super().config_text(),
                          flags=re.MULTILINE)
        assert n == 1
        return text


def test_only_the_configured_addresses_reach_it(pool, workdir, app):
    """The example lets 127.0.0.0/8 in; with its line naming one address
    (as for a Prometheus host), another address finds nothing there."""
    assert ms.fetch(pool)[0] == 200
    assert ms.fetch(pool, source="127.0.0.2")[0] == 200
    # Anything below or beside it is not the scrape.
    assert ms.fetch(pool, path="/metrics/x")[0] == 404
    assert ms.fetch(pool, path="/api/agent/v1/metrics")[0] == 404
    with stack.start_private(OneAddressLighttpd,
                             os.path.join(workdir, "metrics-one"), app,
                             max_procs=1) as one:
        assert ms.fetch(one)[0] == 200
        status, _, body = ms.fetch(one, source="127.0.0.2")
        assert status == 404 and "otas_" not in body


@pytest.mark.skipif(not ms.promtool_available(), reason="no promtool")
def test_promtool_accepts_a_scrape(pool, keys):
    creates(pool, keys.make(), 8)
    status, _, text = ms.fetch(pool)
    r = ms.promtool("check", "metrics", stdin=text)
    assert r.returncode == 0, r.stdout + r.stderr


# --- monitoring/ ---------------------------------------------------------------

MONITORING = os.path.join(stack.ROOT, "monitoring")
METRIC_NAME = re.compile(r"\b(otas_[a-z_]+)")


@pytest.mark.skipif(not ms.promtool_available(), reason="no promtool")
def test_promtool_accepts_the_shipped_rules():
    r = ms.promtool("check", "rules",
                    os.path.join(MONITORING, "otas-rules.yml"))
    assert r.returncode == 0, r.stdout + r.stderr


def test_rules_and_dashboard_name_only_metrics_a_scrape_has(pool):
    scraped = ms.names(ms.scrape(pool))
    for name in ("otas-rules.yml", "otas-dashboard.json"):
        with open(os.path.join(MONITORING, name)) as f:
            text = f.read()
        if name.endswith(".json"):
            json.loads(text)
        named = set(METRIC_NAME.findall(text)) - {"otas_fcgi"}
        assert named, name
        assert named - scraped == set(), name


def test_the_man_page_lists_every_metric_a_scrape_has(pool):
    """otas-session(8)'s METRICS section, both ways."""
    with open(os.path.join(stack.ROOT, "otas-session.8")) as f:
        page = f.read()
    section = page[page.index(".Sh METRICS"):page.index(".Sh FILES")]
    listed = set(METRIC_NAME.findall(section)) - {"otas_metrics_from"}
    families = {n for n in ms.names(ms.scrape(pool))
                if not re.search(r"_(bucket|sum|count)$", n)}
    assert families - listed == set()
    assert listed - families == set()


# --- a real Prometheus --------------------------------------------------------

def prometheus_query(port, query):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (
        port, urllib.parse.urlencode({"query": query}))
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


@pytest.mark.skipif(not os.access(ms.PROMETHEUS, os.X_OK),
                    reason="no prometheus server")
def test_a_real_prometheus_scrapes_the_pool_and_sees_a_rate(pool, keys,
                                                            workdir):
    d = os.path.join(workdir, "prometheus")
    os.makedirs(os.path.join(d, "data"), exist_ok=True)
    conf = os.path.join(d, "prometheus.yml")
    with open(conf, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                "scrape_configs:\n  - job_name: otas\n"
                "    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
                % pool.port)
    port = processes.free_port()
    proc = processes.start(
        [ms.PROMETHEUS, "--config.file=" + conf,
         "--storage.tsdb.path=" + os.path.join(d, "data"),
         "--web.listen-address=127.0.0.1:%d" % port],
        os.path.join(d, "prometheus.log"),
        lambda: processes.http_answers(port), 60, what="prometheus")
    try:
        key = keys.make()
        deadline = time.monotonic() + 90
        rate = 0.0
        while time.monotonic() < deadline and rate <= 0:
            creates(pool, key, 10, threads=2)
            time.sleep(1)
            res = prometheus_query(
                port, 'sum(rate(otas_requests_total[1m]))')
            assert res["status"] == "success", res
            if res["data"]["result"]:
                rate = float(res["data"]["result"][0]["value"][1])
        assert rate > 0
        up = prometheus_query(port, 'up{job="otas"}')
        assert up["data"]["result"][0]["value"][1] == "1"
    finally:
        processes.stop(proc)


# --- every example ------------------------------------------------------------

def test_every_example_routes_the_scrape_and_counts_its_creates(server, keys):
    """Each shipped web server example (mod_cgi's one process per request
    included) answers /metrics from loopback with the pool's counts."""
    key = keys.make()
    before = ms.scrape(server)
    for _ in range(3):
        assert create_session(server, key, BODY).status == 200
    assert create_session(server, "agent_%s_%s" % (
        key.prefix, stack.new_secret()), BODY).status == 401
    after = ms.scrape_until(server, lambda after: delta(
        before, after, "otas_requests_total", program="otas-session",
        code="200") >= 3 and delta(before, after, "otas_requests_total",
                                   program="otas-session", code="401") >= 1)
    assert delta(before, after, "otas_requests_total",
                 program="otas-session", code="200") == 3
    assert delta(before, after, "otas_requests_total",
                 program="otas-session", code="401") == 1
    assert ms.fetch(server, path="/metrics/x")[0] == 404
