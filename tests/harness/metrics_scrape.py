"""metrics_scrape — GET /metrics read back as numbers, for the tests.

A scrape is parsed strictly enough for the tests' questions (every sample
line is NAME{LABELS} VALUE; the labels' values are plain, as ours are):
samples are keyed by (name, frozenset of (label, value)).
"""

import http.client
import re
import shutil
import subprocess
import time

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"\\]*)"')
PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"


def fetch(server, source=None, path="/metrics"):
    """(status, content type, body text) of GET /metrics; source: the
    local address to send from (e.g. 127.0.0.2)."""
    conn = http.client.HTTPConnection(
        getattr(server, "host", "127.0.0.1"), server.port, timeout=15,
        source_address=(source, 0) if source else None)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        return (resp.status, resp.getheader("Content-Type"),
                resp.read().decode("utf-8"))
    finally:
        conn.close()


def parse(text):
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def scrape(server):
    status, ctype, body = fetch(server)
    assert status == 200, body[:300]
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    return parse(body)


def scrape_until(server, ready, timeout=10):
    """Scrapes until ready(samples) holds (bounded).  A plain CGI process
    folds its count into the file as it exits, which may be just after
    its answer reached the client."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(server)
        if ready(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.1)


def value(samples, name, **labels):
    """One sample's value (0 when absent)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples, name, **labels):
    """The sum of every sample of name whose labels include labels."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items()
               if n == name and want <= ls)


def names(samples):
    """Metric family names: a histogram's _bucket/_sum/_count under its
    own name too."""
    out = set()
    for n, _ in samples:
        out.add(n)
        out.add(re.sub(r"_(bucket|sum|count)$", "", n))
    return out


def promtool_available():
    return shutil.which(PROMTOOL) is not None


def promtool(*args, stdin=None):
    return subprocess.run([PROMTOOL] + list(args), input=stdin,
                          capture_output=True, text=True, timeout=60)
