"""otas_http — a raw HTTP/1.1 client for the contract tests.

Built on http.client's low-level calls (putrequest/putheader/endheaders) so
a test can send what a well-behaved client library would refuse to: a
header twice, bytes outside ASCII, a Content-Length that disagrees with
the body, a body that is not JSON.  One connection per request, so no test
depends on another's connection state.
"""

import http.client
import json

from harness.stack import SESSION_PATH

ERROR_HEADERS = ("Content-Type", "Cache-Control", "X-Content-Type-Options")


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers          # [(name, value)] as received
        self.body = body                # bytes

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def header(self, name):
        """The header's value; fails the test if it came more than once."""
        values = self.header_all(name)
        assert len(values) <= 1, "%s sent %d times" % (name, len(values))
        return values[0] if values else None

    def json(self):
        """The body as JSON, strictly: duplicate members or NaN fail."""
        def pairs(items):
            keys = [k for k, _ in items]
            assert len(keys) == len(set(keys)), "duplicate member: %r" % keys
            return dict(items)

        def constant(name):
            raise AssertionError("non-JSON constant %s in body" % name)

        return json.loads(self.body.decode("utf-8"),
                          object_pairs_hook=pairs, parse_constant=constant)

    def __repr__(self):
        return "<%d %r>" % (self.status, self.body[:300])


def request(server, method="POST", path=SESSION_PATH, headers=(),
            body=None, content_length=None, timeout=15):
    """Sends one request and reads the whole answer.

    headers: (name, value) pairs sent in order, repeats allowed; values may
    be str or bytes.  body: bytes/str or None.  Content-Length is the body's
    length unless content_length is given (an int, or False for none); a
    POST without a body still says Content-Length: 0, as curl does with
    --data '' (curl -X POST without --data sends none, which lighttpd
    answers 411 itself: content_length=False)."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    conn = http.client.HTTPConnection(server.host, server.port,
                                      timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        if content_length is None:
            if body is not None:
                content_length = len(body)
            elif method in ("POST", "PUT", "PATCH"):
                content_length = 0
        if content_length is not None and content_length is not False:
            conn.putheader("Content-Length", str(content_length))
        conn.putheader("Connection", "close")
        conn.endheaders()
        if body:
            conn.send(body)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, resp.reason, resp.getheaders(), data)
    finally:
        conn.close()


def create_session(server, key=None, body=None, headers=(), **kw):
    """POST to the session endpoint with the key (a Key or a str) once."""
    hdrs = []
    if key is not None:
        hdrs.append(("X-OTAS-AGENT-KEY", getattr(key, "full", key)))
    if body is not None:
        hdrs.append(("Content-Type", "application/json"))
    hdrs.extend(headers)
    return request(server, headers=hdrs, body=body, **kw)


def assert_common_headers(resp):
    """Every answer, success or error (README, The endpoint)."""
    ctype = resp.header("Content-Type") or ""
    assert ctype.split(";")[0].strip().lower() == "application/json", \
        "Content-Type %r" % ctype
    assert resp.header("Cache-Control") == "no-store", \
        "Cache-Control %r" % resp.header("Cache-Control")
    assert resp.header("X-Content-Type-Options") == "nosniff", \
        "X-Content-Type-Options %r" % resp.header("X-Content-Type-Options")


def assert_error(resp, status, code):
    """An error answer: the status, the three headers, and a body of
    exactly {"status": 0, "status_description": code} and a newline."""
    assert resp.status == status, "expected %d %s, got %r" % (status, code,
                                                               resp)
    assert_common_headers(resp)
    assert resp.json() == {"status": 0, "status_description": code}, resp
    # A terminal prints the next prompt on a line of its own (a HEAD
    # answer has no body at all).
    assert resp.body == b"" or resp.body.endswith(b"}\n"), resp


UNROUTED_PATH = "/no/such/path/"


def assert_unrouted(server, resp):
    """resp is the server's answer to a path no example routes: what it
    answers /no/such/path/ (404; Apache's example 403, its <Directory />
    is Require all denied), never a redirect or an answer of a program."""
    other = request(server, method="GET", path=UNROUTED_PATH)
    assert other.status in (403, 404), other
    assert resp.status == other.status, "%r, where %s answers %r" % (
        resp, UNROUTED_PATH, other)
