"""How otas-session ends a FastCGI connection the web server does not keep,
seen from the web server's side of the socket (a minimal FastCGI client on
a unix socket, the program under spawn-fcgi as in nginx.conf.example).

A request whose body the program read to its end is closed at once: the
socket is gone as soon as the answer is (writing to it fails), so no thread
waits for the web server to close first.  A request whose body it never
read (rejected before reading it) is closed carefully, as libfcgi does:
the program keeps reading what the web server sends until it closes, so
unread bytes can never turn into a reset that destroys the answer.
"""

import os
import socket
import struct

import pytest

from harness import otas_http
from harness import processes
from harness import stack

BODY = b'{"meta": {"task": "summarize"}}'
BEGIN, END, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6


def record(kind, content):
    pad = -len(content) % 8
    return (struct.pack(">BBHHBB", 1, kind, 1, len(content), pad, 0) +
            content + b"\0" * pad)


def pair(name, value):
    assert len(name) < 128 and len(value) < 128
    return bytes([len(name), len(value)]) + name + value


def request(method, key, body):
    params = b"".join(pair(n, v) for n, v in (
        (b"REQUEST_METHOD", method),
        (b"REQUEST_URI", otas_http.SESSION_PATH.encode()),
        (b"CONTENT_TYPE", b"application/json"),
        (b"CONTENT_LENGTH", str(len(body)).encode()),
        (b"HTTP_X_OTAS_AGENT_KEY", key.encode())))
    # Role responder, flags 0: the connection is not kept.
    return (record(BEGIN, struct.pack(">HB5x", 1, 0)) +
            record(PARAMS, params) + record(PARAMS, b"") +
            record(STDIN, body) + record(STDIN, b""))


def answer(sock):
    """The answer's stdout up to the end-request record."""
    buf, out = b"", b""
    while True:
        while len(buf) >= 8:
            _, kind, _, n, pad, _ = struct.unpack(">BBHHBB", buf[:8])
            if len(buf) < 8 + n + pad:
                break
            if kind == STDOUT:
                out += buf[8:8 + n]
            if kind == END:
                return out
            buf = buf[8 + n + pad:]
        data = sock.recv(65536)
        assert data, "connection closed before the end of the answer"
        buf += data


@pytest.fixture(scope="module")
def responder(workdir, app):
    d = os.path.join(workdir, "fastcgi-close")
    os.makedirs(d, exist_ok=True)
    sock = os.path.join(d, "session.sock")
    proc = processes.start(
        ["spawn-fcgi", "-n", "-s", sock, "-u", stack.SERVER_USER,
         "-g", stack.SERVER_USER, "--", app.binary("otas-session")],
        os.path.join(d, "responder.log"), ready=lambda: os.path.exists(sock),
        env=dict(app.env, PATH="/usr/bin:/bin"))
    yield sock
    proc.stop()


def exchange(path, method, key, body):
    """Sends one request, reads the answer and the end of the stream; the
    socket is returned open for the test to probe."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(path)
    s.sendall(request(method, key, body))
    out = answer(s)
    assert s.recv(1) == b"", "the program did not end its side"
    return s, out


def test_a_request_read_to_its_end_is_answered_and_its_socket_closed_at_once(
        responder, keys):
    s, out = exchange(responder, b"POST", keys.make().full, BODY)
    try:
        assert out.startswith(b"Status: 200")
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            s.sendall(b"x")
    finally:
        s.close()


def test_a_request_whose_body_was_not_read_is_closed_only_after_the_server(
        responder, keys):
    s, out = exchange(responder, b"PUT", keys.make().full, BODY)
    try:
        assert out.startswith(b"Status: 405")
        # The program still reads: what the web server sends is taken in.
        s.sendall(b"x" * 64)
    finally:
        s.close()
