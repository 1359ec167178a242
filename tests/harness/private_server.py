"""private_server — a lighttpd of a test's own, for tests that change what
the shared one must not: the program's environment (short timeouts, a
PgBouncer URL, a slow-hash budget), the number of FastCGI processes, or the
database it stands in front of.  It is stack.Lighttpd from the same
lighttpd.conf.example, only with those few things changed, started in its
own directory and stopped by PID.

Also here: Load, a bounded request loop in a few threads that records
every answer with its timing (fault tests).
"""

import threading
import time
from dataclasses import dataclass

from harness import stack
from harness.otas_http import create_session


def start_private(basedir, app, env=None, max_procs=None):
    """A started lighttpd with app's settings plus env, and max_procs
    otas-session processes (None: the example's); the caller stops it."""
    merged = stack.App(app.build, dict(app.env, **(env or {})))
    return stack.start_private(stack.Lighttpd, basedir, merged,
                               max_procs=max_procs)


@dataclass
class Answer:
    start: float        # time.monotonic() when the request was sent
    end: float
    status: int
    code: str           # status_description, or "" when not JSON
    retry_after: str
    token: str = ""     # the jwt_token of a 200

    @property
    def seconds(self):
        return self.end - self.start


class Load:
    """threads workers sending the key's session request back to back
    until stop() (and at most max_seconds), recording every answer."""

    def __init__(self, server, key, threads=4, max_seconds=120,
                 timeout=30):
        self.server = server
        self.key = key
        self.answers = []
        self.errors = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.deadline = time.monotonic() + max_seconds
        self.timeout = timeout
        self.threads = [threading.Thread(target=self._run, daemon=True)
                        for _ in range(threads)]

    def _one(self):
        t0 = time.monotonic()
        resp = create_session(self.server, self.key, '{"meta": {}}',
                              timeout=self.timeout)
        t1 = time.monotonic()
        try:
            body = resp.json()
        except (ValueError, AssertionError, UnicodeDecodeError):
            body = {}
        token = ""
        if resp.status == 200:
            token = body.get("response", {}).get("jwt_token", "")
        return Answer(t0, t1, resp.status, body.get("status_description", ""),
                      resp.header("Retry-After") or "", token)

    def _run(self):
        while not self.stopping.is_set() and \
                time.monotonic() < self.deadline:
            try:
                a = self._one()
            except OSError as e:     # a reset or a timeout: a failure
                with self.lock:
                    self.errors.append(repr(e))
                continue
            with self.lock:
                self.answers.append(a)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=self.timeout + 5)
        assert not any(t.is_alive() for t in self.threads), \
            "a load thread is stuck"

    def __exit__(self, *exc):
        self.stop()

    def count(self, status):
        return sum(1 for a in self.answers if a.status == status)
