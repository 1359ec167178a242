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
ones.  Every process is stopped by PID (processes.py).
"""

import os

from harness import examples
from harness import processes
from harness import stack

from harness import servers_apache_nginx as san


def start_backends(example, server, rundir, authz_port=None):
    """otas-authz and otas-echo as the example documents them, added to
    the server's backends (so its stop() stops them)."""
    for program, sock in (("otas-authz", "authz.sock"),
                          ("otas-echo", "echo.sock")):
        port = authz_port if program == "otas-authz" else None
        server.backends.append(san.backend_from_example(
            example, server, rundir, program, sock, port).start())


class ApacheAuthnz(san.ApacheProxyFcgi):
    """apache.conf.example in otas_mode_proxy_fcgi: mod_authnz_fcgi
    in front of otas-echo; the denial body is otas-authz's JSON."""

    kind = "apache-authnz"
    mode = "proxy_fcgi"
    authz_denial_body = True

    def __init__(self, basedir, app):
        super().__init__(basedir, app)
        self.authz_port = processes.free_port()

    def start_backend(self):
        super().start_backend()
        start_backends(examples.APACHE, self, self.rundir, self.authz_port)


class NginxAuthz(san.Nginx):
    """nginx.conf.example with otas-authz and otas-echo started from
    its documented commands before nginx."""

    kind = "nginx"
    authz_denial_body = True

    def start(self):
        for d in (self.dir, self.rundir,
                  os.path.join(self.dir, "logs")):
            os.makedirs(d, exist_ok=True)
        start_backends(examples.NGINX, self, self.rundir)
        return super().start()


def kinds():
    """The kinds test_authz runs against, as far as this machine has
    them (OTAS_TEST_SERVERS narrows the list as for every test)."""
    wanted = stack.server_kinds()
    out = ["lighttpd"] if "lighttpd" in wanted else []
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
    classes = {"lighttpd": stack.Lighttpd, "apache-fcgid": san.ApacheFcgid,
               "apache-authnz": ApacheAuthnz, "nginx": NginxAuthz}
    return stack.start_private(classes[kind], basedir, app)
