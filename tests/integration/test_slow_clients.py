"""Slow clients (slowloris) against the shipped lighttpd and nginx
examples: 1 500 connections from 127.0.0.1, each sending its request
header and then one body byte every few seconds, are held open while
another client, 127.0.0.2, still gets its 200s from the session endpoint.

nginx caps one address's requests (limit_conn), so most of the 1 500 are
answered 429 at once and only that many stay; lighttpd 1.4 as Debian
ships it has no per-address limit, so its example makes room for them
(server.max-connections) and all stay.  Each server is a private one,
started from the example, so the shared servers of the suite never see
the flood.  Every loop is bounded in count and in time.
"""

import http.client
import json
import os
import re
import resource
import select
import socket
import time

import pytest

from harness import servers_apache_nginx as san
from harness import stack

ATTACKER = "127.0.0.1"
OTHER = "127.0.0.2"
CONNECTIONS = 1500
BODY_LENGTH = 1000           # announced; never sent in full
DRIP_SECONDS = 3             # one body byte on each connection this often
HOLD_SECONDS = 15            # the flood is held this long at least
OPEN_DEADLINE = 120          # seconds to open all CONNECTIONS

with open(os.path.join(stack.ROOT, "nginx.conf.example")) as _f:
    # limit_conn of nginx.conf.example: what one address may hold.
    NGINX_PER_ADDRESS = int(re.search(r"^\s*limit_conn otas_per_addr (\d+);",
                                      _f.read(), re.MULTILINE).group(1))


@pytest.fixture(autouse=True)
def enough_descriptors():
    """The test's own process holds every attacking socket."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = CONNECTIONS + 512
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            hard = want     # root may raise it
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class Flood:
    """CONNECTIONS slow requests from ATTACKER to one server."""

    def __init__(self, server, key):
        self.server = server
        self.head = ("POST %s HTTP/1.1\r\nHost: localhost\r\n"
                     "X-OTAS-AGENT-KEY: %s\r\n"
                     "Content-Type: application/json\r\n"
                     "Content-Length: %d\r\n\r\n{" % (
                         stack.SESSION_PATH, key, BODY_LENGTH)).encode()
        self.open = []          # sockets the server still holds
        self.answered = 0       # refused with an answer, or closed
        self.failed = 0         # could not connect at all

    def start(self):
        deadline = time.monotonic() + OPEN_DEADLINE
        for _ in range(CONNECTIONS):
            if time.monotonic() > deadline:
                break
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(5)
            try:
                s.bind((ATTACKER, 0))
                s.connect((self.server.host, self.server.port))
                s.sendall(self.head)
            except OSError:
                s.close()
                self.failed += 1
                continue
            s.setblocking(False)
            self.open.append(s)
        self.sweep()

    def sweep(self):
        """Drops the connections the server answered or closed."""
        poller = select.poll()      # select() stops at fd 1024
        for s in self.open:
            poller.register(s, select.POLLIN)
        done = {fd for fd, _ in poller.poll(0)}
        kept = []
        for s in self.open:
            if s.fileno() in done:
                try:
                    s.recv(4096)
                except OSError:
                    pass
                s.close()
                self.answered += 1
            else:
                kept.append(s)
        self.open = kept

    def drip(self):
        """One more body byte on every connection still held."""
        for s in self.open:
            try:
                s.send(b" ")
            except OSError:
                pass        # the sweep counts it
        self.sweep()

    def close(self):
        for s in self.open:
            s.close()
        self.open = []


def create_from_other_address(server, key):
    """One session request from OTHER: (status, body)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10,
                                      source_address=(OTHER, 0))
    try:
        conn.request("POST", stack.SESSION_PATH, body=b"{}", headers={
            "X-OTAS-AGENT-KEY": key, "Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def hold_and_serve_the_other(server, keys):
    """Floods server, holds the flood HOLD_SECONDS while OTHER asks for a
    session now and then; returns (flood, answers to OTHER)."""
    flood = Flood(server, keys.make().full)
    answers = []
    try:
        flood.start()
        end = time.monotonic() + HOLD_SECONDS
        while time.monotonic() < end:
            time.sleep(DRIP_SECONDS)
            flood.drip()
            answers.append(create_from_other_address(server,
                                                     keys.make().full))
        flood.drip()
        held = len(flood.open)
    finally:
        flood.close()
    return flood, held, answers


def assert_all_created(answers):
    assert len(answers) >= 3
    for status, body in answers:
        assert status == 200, body
        assert json.loads(body)["status_description"] == \
            "agent_session_created"


@pytest.fixture
def private(workdir, app):
    started = []

    def _start(cls, name):
        srv = stack.start_private(cls, os.path.join(workdir, name), app)
        started.append(srv)
        return srv
    yield _start
    for srv in started:
        srv.stop()


@pytest.mark.skipif(not stack.Lighttpd.available(), reason="no lighttpd")
def test_lighttpd_example_serves_another_client_through_1500_slow_ones(
        private, keys):
    srv = private(stack.Lighttpd, "slow-lighttpd")
    flood, held, answers = hold_and_serve_the_other(srv, keys)
    # The flood is real: (nearly) every connection is still held...
    assert held >= CONNECTIONS - 50, (held, flood.answered, flood.failed)
    # ...and the other client is served all the same.
    assert_all_created(answers)


@pytest.mark.skipif(not san.Nginx.available(), reason="no nginx")
def test_nginx_example_caps_one_address_and_serves_another(private, keys):
    srv = private(san.Nginx, "slow-nginx")
    flood, held, answers = hold_and_serve_the_other(srv, keys)
    # One address holds at most its share; the rest were answered.
    assert 0 < held <= NGINX_PER_ADDRESS, (held, flood.answered,
                                           flood.failed)
    assert flood.answered >= CONNECTIONS - NGINX_PER_ADDRESS - flood.failed
    assert_all_created(answers)
