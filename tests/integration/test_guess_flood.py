"""Wrong guesses for a legacy key's prefix (260 000 PBKDF2 iterations, a
short secret that keeps its slow hash) against the shipped pools: a flood
from one address leaves the owner, from another, his 200 while it goes on
(the budget is shared by address, not first come first served); and many
processes started for waiting guesses (mod_fcgid, one thread each) draw on
one budget per host, not one each (counted by the pool's metrics, not by
timing).
"""

import http.client
import os
import threading
import time

import pytest

from harness import metrics_scrape as ms
from harness import servers_apache_nginx
from harness import stack

LEGACY = 260000
FLOOD_CONNECTIONS = 16
BODY = "{}"


def create_from(server, source, key, timeout=30):
    """One create sent from the local address source; its status."""
    conn = http.client.HTTPConnection(server.host, server.port,
                                      timeout=timeout,
                                      source_address=(source, 0))
    try:
        conn.request("POST", stack.SESSION_PATH, body=BODY, headers={
            "X-OTAS-AGENT-KEY": key, "Content-Type": "application/json",
            "Connection": "close"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def wrong(key, i):
    return "agent_%s_wrong%06dXXXXXXXXXXXXXXXXXXXXXXXXXXXX" % (key.prefix, i)


class Flood:
    """FLOOD_CONNECTIONS keep-alive connections sending wrong secrets from
    source as fast as they are answered, until stopped, for at most
    `seconds` (bounded either way)."""

    def __init__(self, server, key, source="127.0.0.1", seconds=60):
        self.server, self.key, self.source = server, key, source
        self.deadline = time.monotonic() + seconds
        self.stop = threading.Event()
        self.statuses = []
        self.threads = [threading.Thread(target=self.run, args=(t,))
                        for t in range(FLOOD_CONNECTIONS)]

    def connect(self):
        return http.client.HTTPConnection(
            self.server.host, self.server.port, timeout=30,
            source_address=(self.source, 0))

    def run(self, t):
        conn = self.connect()
        i = 0
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            i += 1
            try:
                conn.request("POST", stack.SESSION_PATH, body=BODY, headers={
                    "X-OTAS-AGENT-KEY": wrong(self.key, t * 100000 + i),
                    "Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                self.statuses.append(resp.status)
            except (OSError, http.client.HTTPException):
                self.statuses.append(None)
                conn.close()
                conn = self.connect()
        conn.close()

    def __enter__(self):
        for th in self.threads:
            th.start()
        return self

    def running(self):
        return any(th.is_alive() for th in self.threads)

    def __exit__(self, *exc):
        self.stop.set()
        for th in self.threads:
            th.join(timeout=120)


def wait_for(check, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.skipif(not stack.Lighttpd.available(),
                    reason="lighttpd is not installed")
def test_a_flood_from_one_address_leaves_the_owner_from_another_his_200(
        workdir, app, keys):
    """The dev stack's pool (lighttpd.conf.example: 2 x 8), with a budget
    of 300 000 iterations a second so that this machine's cores, not the
    budget, are never what holds the flood back: a guess then costs 0.87 s
    of the budget, and a few of them fill the queue."""
    key = keys.make(iterations=LEGACY, secret="legacy-password")
    flood_app = stack.App(app.build, dict(app.env,
                                          OTAS_SLOW_HASH_RATE="300000"))
    with stack.start_private(stack.Lighttpd,
                             os.path.join(workdir, "flood"),
                             flood_app) as srv:
        with Flood(srv, key) as flood:
            # The flood is under way: its guesses are being hashed.
            assert wait_for(lambda: ms.total(
                ms.scrape(srv), "otas_slow_hashes_total") >= 4)
            owner = []
            for _ in range(5):
                owner.append(create_from(srv, "127.0.0.2", key.full))
                if owner[-1] != 503:
                    break
                time.sleep(1)       # Retry-After: 1
            still_flooding = flood.running()
        assert owner[-1] == 200, owner
        assert still_flooding
        assert set(flood.statuses) <= {401, 503}, set(flood.statuses)
        assert 401 in flood.statuses and 503 in flood.statuses


@pytest.mark.skipif(not servers_apache_nginx.ApacheFcgid.available(),
                    reason="no Apache with mod_fcgid")
def test_processes_mod_fcgid_starts_for_guesses_share_one_budget(
        workdir, app, keys):
    """apache.conf.example with mod_fcgid (a thread per process, up to 8
    processes) and a budget of 300 000 iterations a second: sixteen
    guessers at once start no more slow-hash iterations in T seconds than
    the host's budget allows, rate * (T + 1) plus the one in hand, however
    many processes mod_fcgid starts."""
    rate = 300000
    key = keys.make(iterations=LEGACY, secret="legacy-password")
    fcgid_app = stack.App(app.build, dict(
        app.env, OTAS_SLOW_HASH_RATE=str(rate)))
    with stack.start_private(servers_apache_nginx.ApacheFcgid,
                             os.path.join(workdir, "flood-fcgid"),
                             fcgid_app) as srv:
        before = ms.scrape(srv)
        t0 = time.monotonic()
        with Flood(srv, key, seconds=30):
            time.sleep(8)
        after = ms.scrape(srv)
        elapsed = time.monotonic() - t0
    work = (ms.total(after, "otas_slow_hash_iterations_total") -
            ms.total(before, "otas_slow_hash_iterations_total"))
    started = (ms.total(after, "otas_processes_started_total",
                        program="otas-session") -
               ms.total(before, "otas_processes_started_total",
                        program="otas-session"))
    assert started >= 2, "mod_fcgid started one process: nothing shown"
    assert work >= LEGACY, "no slow hash at all"
    assert work <= rate * (elapsed + 1) + LEGACY, (work, elapsed, started)
