"""fault_proxy — a TCP proxy between a program and the real PostgreSQL, on
127.0.0.1, that misbehaves on demand the way a network or a sick server
does.  It understands just enough of the PostgreSQL wire protocol (each
server message is a type byte and a 4-byte length) to act at the right
moment; everything else is passed through byte for byte.

Modes (set_mode, applied at once to every connection, open or new):

  pass        forward both ways
  silent      forward until the server's first ReadyForQuery (the
              connection is authenticated and looks healthy), then answer
              nothing and forward nothing: a server that hangs right after
              a reconnect
  freeze      no byte forwarded either way, new connections accepted and
              never answered: a database that stops answering
  cut_insert  forward, but when the server confirms the statement that
              inserts sessions (the client's message named it: a Bind of
              otas_create_session..., or its SQL when unnamed), i.e. its
              CommandComplete and the ReadyForQuery after it, once the
              transaction has committed, close both sides before the
              client sees the confirmation; then back to pass (cuts times)
  hold_insert forward, but keep back the client's message that runs the
              session insert (and what follows it) until the mode changes;
              insert_held is set once one is kept back: the moment between
              a request's key check and its insert, made as long as a test
              needs

The client must not ask for TLS (url adds sslmode=disable): the proxy
reads the server's bytes as plain protocol messages.  Each connection is
served by one thread polling both sockets with a short timeout, so a mode
change or stop() takes effect within that tick; stop() closes every socket
and joins every thread.
"""

import select
import socket
import struct
import threading

TICK = 0.05
# What a client message holds when it runs the session insert.
INSERT_MARKERS = (b"otas_create_session", b"INSERT INTO agent_session")


class FaultProxy:
    def __init__(self, upstream_port, upstream_host="127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.mode = "pass"
        self.cuts_left = 0
        self.accepted = 0       # connections accepted, ever
        self.cuts_done = 0
        self.insert_held = threading.Event()
        self.generation = 0     # bumped by drop_all()
        self.stopping = threading.Event()
        self.threads = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)

    def url(self, dbname="otas", user="postgres"):
        return ("postgresql://%s@127.0.0.1:%d/%s?sslmode=disable"
                "&gssencmode=disable" % (user, self.port, dbname))

    @property
    def hostport(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        self.acceptor.start()
        return self

    def set_mode(self, mode, cuts=1):
        assert mode in ("pass", "silent", "freeze", "cut_insert",
                        "hold_insert"), mode
        with self.lock:
            if mode == "hold_insert":
                self.insert_held.clear()
            self.mode = mode
            self.cuts_left = cuts if mode == "cut_insert" else 0

    def drop_all(self):
        """Closes every open connection (the program sees it dead and
        reconnects, through the proxy, in whatever mode is set)."""
        with self.lock:
            self.generation += 1

    def stop(self):
        self.stopping.set()
        self.listener.close()
        self.acceptor.join(timeout=5)
        for t in list(self.threads):
            t.join(timeout=5)
        assert not any(t.is_alive() for t in self.threads), \
            "a proxy connection thread is stuck"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- inside -----------------------------------------------------------

    def _accept(self):
        while not self.stopping.is_set():
            r, _, _ = select.select([self.listener], [], [], TICK)
            if not r:
                continue
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
            t = threading.Thread(target=self._serve, args=(client,),
                                 daemon=True)
            self.threads = [x for x in self.threads if x.is_alive()] + [t]
            t.start()

    def _serve(self, client):
        conn = _Conn(self, client)
        try:
            conn.run()
        except OSError:
            pass        # either side reset: the connection is over
        finally:
            conn.close()

    def _take_cut(self):
        with self.lock:
            if self.mode != "cut_insert" or self.cuts_left <= 0:
                return False
            self.cuts_left -= 1
            self.cuts_done += 1
            if self.cuts_left == 0:
                self.mode = "pass"
            return True


class _Conn:
    """One proxied connection: the client socket, the server socket (made
    lazily, so a frozen proxy never reaches the server), and the parser of
    the server's stream."""

    def __init__(self, proxy, client):
        self.proxy = proxy
        self.client = client
        self.server = None
        self.generation = proxy.generation
        self.ready_seen = False     # first ReadyForQuery passed
        self.pending = b""          # server bytes not yet forwarded
        self.held = b""             # the insert's confirmation, held back
        self.armed = False          # the client ran the insert
        self.to_server = b""        # client bytes kept back (hold_insert)

    def close(self):
        for s in (self.client, self.server):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass

    def forwarding(self):
        mode = self.proxy.mode
        if mode == "freeze":
            return False
        if mode == "silent":
            return not self.ready_seen
        return True

    def holding(self):
        if self.proxy.mode != "hold_insert" or not self.armed:
            return False
        self.proxy.insert_held.set()
        return True

    def run(self):
        p = self.proxy
        while not p.stopping.is_set() and p.generation == self.generation:
            if not self.forwarding():
                # Read and drop what the client sends, so its writes never
                # block; notice when it gives up.
                r, _, _ = select.select([self.client], [], [], TICK)
                if r and not self.client.recv(65536):
                    return
                continue
            if self.server is None:
                self.server = socket.create_connection(p.upstream, 5)
            socks = [self.client, self.server]
            r, _, _ = select.select(socks, [], [], TICK)
            if not self.forwarding():
                continue        # the mode changed while we waited
            if self.client in r:
                data = self.client.recv(65536)
                if not data:
                    return
                if any(m in data for m in INSERT_MARKERS):
                    self.armed = True
                self.to_server += data
            if self.to_server and not self.holding():
                self.server.sendall(self.to_server)
                self.to_server = b""
            if self.server in r:
                data = self.server.recv(65536)
                if not data:
                    return
                if not self.from_server(data):
                    return

    def from_server(self, data):
        """Forwards whole server messages while forwarding is allowed;
        False when the connection is to be cut."""
        self.pending += data
        while len(self.pending) >= 5:
            kind = self.pending[:1]
            length = struct.unpack("!I", self.pending[1:5])[0]
            if len(self.pending) < 1 + length:
                break
            msg, self.pending = (self.pending[:1 + length],
                                 self.pending[1 + length:])
            if kind == b"C" and self.armed and \
                    self.proxy.mode == "cut_insert":
                self.held = msg
                continue
            if self.held:
                if kind == b"Z" and self.proxy._take_cut():
                    return False
                msg, self.held = self.held + msg, b""
            if kind == b"Z":
                self.armed = False
            if not self.forwarding():
                continue        # silent: swallowed
            self.client.sendall(msg)
            if kind == b"Z":
                self.ready_seen = True
        return True
