"""Valgrind memcheck on otas-session serving 10 000 requests through
lighttpd (lighttpd.conf.example, as every other test), with no memory error
and no definite or indirect leak in any process.

lighttpd spawns a wrapper named otas-session that execs valgrind on the
real program, so the processes are exactly those the example runs; each
writes its own log.  Leaks are only counted when a process exits, so the
test stops lighttpd (which sends its FastCGI processes SIGTERM; serve()
finishes and returns 0) and then reads every log.

Slow (minutes): run by `make sanitize` with OTAS_VALGRIND=1, skipped
otherwise.  OTAS_VALGRIND_REQUESTS changes the count.
"""

import concurrent.futures
import glob
import os
import re
import time

import pytest

from harness import processes
from harness import stack
from harness.otas_http import create_session, request

pytestmark = pytest.mark.skipif(
    os.environ.get("OTAS_VALGRIND") != "1",
    reason="valgrind run: make sanitize (OTAS_VALGRIND=1)")

REQUESTS = int(os.environ.get("OTAS_VALGRIND_REQUESTS", "10000"))
WORKERS = 4
VALGRIND = ["valgrind", "--leak-check=full",
            "--show-leak-kinds=definite,indirect",
            "--errors-for-leak-kinds=definite,indirect",
            "--error-exitcode=99", "--num-callers=30"]


def write_wrapper(path, program, logdir):
    argv = VALGRIND + ["--log-file=%s/vg.%%p.log" % logdir, program]
    with open(path, "w") as f:
        f.write("#!/bin/sh\n# valgrind in front of %s, for lighttpd\n"
                "exec %s\n" % (program, " ".join(argv)))
    os.chmod(path, 0o755)


@pytest.fixture(scope="module")
def vg(workdir, app, build_dir):
    """(server, logdir): lighttpd whose otas-session runs under valgrind."""
    base = os.path.join(workdir, "valgrind")
    libexec = os.path.join(base, "libexec")
    logdir = os.path.join(base, "logs")
    for d in (base, libexec, logdir):
        os.makedirs(d, exist_ok=True)
    processes.give_to(logdir, stack.SERVER_USER)
    write_wrapper(os.path.join(libexec, "otas-session"),
                  app.binary("otas-session"), logdir)
    # The example also runs the other programs (the authorizer...): as is.
    for name in os.listdir(build_dir):
        path = os.path.join(build_dir, name)
        if (name.startswith("otas-") and name != "otas-session"
                and os.path.isfile(path) and os.access(path, os.X_OK)):
            os.symlink(path, os.path.join(libexec, name))
    with stack.Lighttpd(base, stack.App(libexec, dict(app.env))) as srv:
        srv.start()
        yield srv, logdir


def wait_until_served(server, key, timeout=120):
    """Valgrind takes seconds to start each process: the first answers
    may be lighttpd's own 503 while the backends come up."""
    deadline = time.monotonic() + timeout
    while True:
        resp = create_session(server, key, "{}", timeout=60)
        if resp.status == 200:
            return
        assert time.monotonic() < deadline, resp
        time.sleep(0.5)


def one(server, key, i):
    """Request i of the mix: mostly sessions, every error path sometimes.
    Returns (status, expected status)."""
    kind = i % 20
    if kind == 0:
        return create_session(server, key, '{"meta": ', timeout=60).status, 400
    if kind == 1:
        return request(server, method="GET", timeout=60).status, 405
    if kind == 2:
        return create_session(server, "agent_bad key", "{}",
                              timeout=60).status, 401
    if kind == 3:
        wrong = "agent_%s_%s" % (key.prefix, stack.new_secret())
        return create_session(server, wrong, "{}", timeout=60).status, 401
    if kind == 4:
        return create_session(server, key, '{"meta": [1]}',
                              timeout=60).status, 400
    if kind == 5:
        return create_session(server, "agent_%s_%s" % (
            stack.new_prefix(), stack.new_secret()), "{}",
            timeout=60).status, 401
    if kind == 6:
        return create_session(server, key, "{}", headers=[
            ("Idempotency-Key", "not-a-string")], timeout=60).status, 400
    body = '{"meta": {"i": %d, "s": "caf\\u00e9", "n": 1.5e300}}' % i
    if kind in (7, 8):
        # The same Idempotency-Key and body twice: a new session, then its
        # repeat (which may wait for it), answered from its record.
        body = '{"meta": {"round": %d}}' % (i // 20)
        return create_session(server, key, body, headers=[
            ("Idempotency-Key", '"vg-%d"' % (i // 20))],
            timeout=60).status, 200
    return create_session(server, key, body, timeout=60).status, 200


def summaries(logdir):
    """{log path: text} for every valgrind log."""
    out = {}
    for path in sorted(glob.glob(os.path.join(logdir, "vg.*.log"))):
        with open(path, errors="replace") as f:
            out[path] = f.read()
    return out


def test_ten_thousand_requests_leave_no_memory_error_or_leak(vg, pg, keys):
    server, logdir = vg
    key = keys.make()
    wait_until_served(server, key)
    before = pg.scalar("SELECT count(*) FROM agent_session WHERE agent_id"
                       " = %s", (key.agent_id,))
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda i: one(server, key, i),
                                range(REQUESTS)))
    wrong = [(i, got, want) for i, (got, want) in enumerate(results)
             if got != want]
    assert not wrong, "unexpected answers (first 10): %r" % wrong[:10]
    created = sum(1 for i, (got, _) in enumerate(results)
                  if got == 200 and i % 20 != 8)    # 8 repeats 7's key
    after = pg.scalar("SELECT count(*) FROM agent_session WHERE agent_id"
                      " = %s", (key.agent_id,))
    assert after - before == created

    server.stop()
    deadline = time.monotonic() + 120
    while True:
        logs = summaries(logdir)
        done = {p: t for p, t in logs.items() if "ERROR SUMMARY" in t}
        if logs and len(done) == len(logs):
            break
        assert time.monotonic() < deadline, \
            "valgrind logs without a summary: %r" % sorted(
                set(logs) - set(done))
        time.sleep(0.5)
    bad = {}
    for path, text in logs.items():
        m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        if m is None or m.group(1) != "0":
            bad[path] = text[-6000:]
    assert not bad, "valgrind found errors:\n" + "\n".join(
        "== %s\n%s" % kv for kv in bad.items())
