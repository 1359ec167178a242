"""authz_servers — the web servers test_authz.py runs otas-authz behind,
each from the top-level example an administrator copies:

  lighttpd        mod_fastcgi "mode" => "authorizer" (the shared instance)
  apache-fcgid    FcgidAccessChecker (the shared instance); a denial's
                  body is Apache's own 401 page (authz_denial_body False)
  apache-authnz   mod_authnz_fcgi + mod_proxy_fcgi: apache.conf.example
                  in otas_mode_proxy_fcgi, with otas-authz (TCP,
                  127.0.0.1) and otas-echo (unix socket) under spawn-fcgi
  nginx           auth_request to otas-authz as a responder, otas-echo
                  behind it, both under spawn-fcgi

The spawn-fcgi commands are the example's own "spawn-fcgi command
(otas-authz):" / "(otas-echo):" comment blocks, with only the paths, the
port and the settings replaced, so the documented commands are the tested
ones.  Every process is stopped by PID (stack.stop_process).
"""

import os
import re
import shlex
import subprocess
import time

import stack

try:
    import servers_apache_nginx as san
except ImportError:             # Apache/nginx kinds not in this tree
    san = None

DEFAULT_AUTHZ_PORT = "8001"
MAIN_SETTINGS = ("OTAS_DATABASE_URL", "OTAS_JWT_SECRET_FILE")


def documented_command(example, program):
    """argv of the example's "# spawn-fcgi command (program):" block."""
    with open(example) as f:
        text = f.read()
    m = re.search(r"^\s*# spawn-fcgi command \(%s\):\n(.*?)^\s*# \(end\)$"
                  % re.escape(program), text, re.MULTILINE | re.DOTALL)
    if not m:
        raise ValueError("%s: no spawn-fcgi command block for %s"
                         % (example, program))
    words = []
    for line in m.group(1).splitlines():
        line = line.strip().lstrip("#").strip()
        if line.endswith("\\"):
            line = line[:-1].rstrip()
        words.append(line)
    return shlex.split(" ".join(words))


def render_command(argv, rundir, build, env, port=None):
    """The documented command with our paths, port and settings; OTAS_*
    settings the command does not name are added before spawn-fcgi."""
    out = []
    for word in argv:
        name, eq, _ = word.partition("=")
        if eq and name.startswith("OTAS_"):
            if name not in env:
                raise ValueError("no value for %s" % name)
            word = "%s=%s" % (name, env[name])
        elif word == "spawn-fcgi":
            named = {w.partition("=")[0] for w in argv if "=" in w}
            if "OTAS_JWT_SECRET_FILE" in named:
                out.extend("%s=%s" % kv for kv in sorted(env.items())
                           if kv[0] not in named)
            word = "/usr/bin/spawn-fcgi"
        else:
            word = word.replace("/run/otas-fcgi", rundir)
            word = word.replace("/usr/local/lib/otas-fcgi", build)
            if port is not None and word == DEFAULT_AUTHZ_PORT:
                word = str(port)
        out.append(word)
    if out[:2] != ["env", "-i"] or "-n" not in out:
        raise ValueError("not `env -i ... spawn-fcgi -n ...`: %r" % out)
    return out


class Backend:
    """One program under spawn-fcgi -n: proc is the program itself.
    Ready when its unix socket exists or its TCP port answers."""

    def __init__(self, argv, log_path, cwd, socket_path=None, port=None):
        self.argv, self.log_path, self.cwd = argv, log_path, cwd
        self.socket_path, self.port = socket_path, port
        self.proc = None

    def ready(self):
        if self.socket_path is not None:
            return os.path.exists(self.socket_path)
        return stack.port_answers(self.port)

    def start(self, timeout=15):
        if self.socket_path and os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(self.argv, cwd=self.cwd,
                                         stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log,
                                         process_group=0)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.proc.poll() is not None:
                with open(self.log_path, errors="replace") as f:
                    tail = f.read()[-3000:]
                raise RuntimeError("%s exited at start (%s):\n%s" % (
                    self.argv[-1], self.proc.returncode, tail))
            if time.monotonic() > deadline:
                raise RuntimeError("%s not ready after %ds" % (
                    self.argv[-1], timeout))
            time.sleep(0.05)
        return self

    def stop(self):
        stack.stop_process(self.proc)


def start_backends(example, server, rundir, authz_port=None):
    """otas-authz and otas-echo as the example documents them."""
    started = []
    try:
        for program, sock in (("otas-authz", "authz.sock"),
                              ("otas-echo", "echo.sock")):
            port = authz_port if program == "otas-authz" else None
            argv = render_command(documented_command(example, program),
                                  rundir, server.app.build, server.app.env,
                                  port)
            tcp = port is not None and "-p" in argv
            started.append(Backend(
                argv, server.error_log_path, server.dir,
                socket_path=None if tcp else os.path.join(rundir, sock),
                port=port if tcp else None).start())
    except BaseException:
        for b in started:
            b.stop()
        raise
    return started


if san is not None:
    class ApacheAuthnz(san.ApacheProxyFcgi):
        """apache.conf.example in otas_mode_proxy_fcgi: mod_authnz_fcgi
        in front of otas-echo; the denial body is otas-authz's JSON."""

        kind = "apache-authnz"
        mode = "proxy_fcgi"
        authz_denial_body = True

        def __init__(self, basedir, app):
            super().__init__(basedir, app)
            self.authz_port = stack.free_port()
            self.authz_backends = []

        def config_text(self):
            text = super().config_text()
            text, n = re.subn(r'^Define otas_authz_port .*$',
                              'Define otas_authz_port "%d"' %
                              self.authz_port, text, flags=re.MULTILINE)
            if n != 1:
                raise ValueError("apache.conf.example: Define "
                                 "otas_authz_port found %d times" % n)
            return text

        def start_backend(self):
            super().start_backend()
            self.authz_backends = start_backends(
                san.EXAMPLE_APACHE, self, self.rundir, self.authz_port)

        def stop(self):
            try:
                super().stop()
            finally:
                for b in self.authz_backends:
                    b.stop()

    class NginxAuthz(san.Nginx):
        """nginx.conf.example with otas-authz and otas-echo started from
        its documented commands before nginx."""

        kind = "nginx"
        authz_denial_body = True

        def __init__(self, basedir, app):
            super().__init__(basedir, app)
            self.authz_backends = []

        def start(self):
            for d in (self.dir, self.rundir,
                      os.path.join(self.dir, "logs")):
                os.makedirs(d, exist_ok=True)
            self.authz_backends = start_backends(san.EXAMPLE_NGINX, self,
                                                 self.rundir)
            return super().start()

        def stop(self):
            try:
                super().stop()
            finally:
                for b in self.authz_backends:
                    b.stop()


def kinds():
    """The kinds test_authz runs against, as far as this machine has
    them (OTAS_TEST_SERVERS narrows the list as for every test)."""
    wanted = stack.server_kinds()
    out = ["lighttpd"] if "lighttpd" in wanted else []
    if san is None:
        return out
    if "apache-fcgid" in wanted:
        out.append("apache-fcgid")
    if "apache-proxy-fcgi" in wanted:
        out.append("apache-authnz")
    if "nginx" in wanted:
        out.append("nginx")
    return out


def start_private(kind, basedir, app):
    """A private instance of a kind: for kinds that need more than the
    shared server (authorizer and echo backends), or for settings of a
    test's own (app.env).  The caller stops it."""
    classes = {"lighttpd": stack.Lighttpd}
    if san is not None:
        classes.update({"apache-fcgid": san.ApacheFcgid,
                        "apache-authnz": ApacheAuthnz, "nginx": NginxAuthz})
    cls = classes[kind]
    os.makedirs(basedir, exist_ok=True)
    os.chmod(basedir, 0o755)
    srv = cls(basedir, app)
    try:
        srv.start()
    except BaseException:
        srv.stop()
        raise
    return srv
