"""servers_apache_nginx — the Apache and nginx server kinds of the registry
in stack.py, each started from the top-level example file an administrator
copies (apache.conf.example, nginx.conf.example) with only its paths, port
and database settings replaced:

  apache-fcgid       Apache + mod_fcgid, which spawns otas-session
  apache-proxy-fcgi  Apache + mod_proxy_fcgi -> spawn-fcgi -n (unix socket)
  apache-cgi         Apache (prefork) + mod_cgi, one process per request
  nginx              nginx fastcgi_pass -> spawn-fcgi -n (unix socket)

The spawn-fcgi command is not invented here either: it is the block
between "spawn-fcgi command" and "(end)" in the example's comments, so the
command the documentation shows is the command that is tested.  With -n,
spawn-fcgi execs the program in place, so SpawnFcgi.proc *is* the
otas-session process: its PID and exit status are the program's.

Every process is a child started in the foreground in its own process
group, in a private directory, and stopped by PID (processes.py).
Apache gets -DFOREGROUND and -f, so nothing of /etc/apache2 is read or
changed; nginx gets -p and -c.
"""

import os

from harness import examples
from harness import processes
from harness.stack import SERVER_USER, Server, check_config

APACHE = "/usr/sbin/apache2"
NGINX = "/usr/sbin/nginx"
APACHE_MODULES = "/usr/lib/apache2/modules"
MAIN_SETTINGS = ("OTAS_DATABASE_URL", "OTAS_JWT_SECRET_FILE")


class SpawnFcgi:
    """A program under `spawn-fcgi -n`, as an example's documented command
    runs it.  With -n spawn-fcgi execs the program in place, so proc is
    the program itself.  Ready when its unix socket exists, or when its
    TCP port (port) answers."""

    def __init__(self, argv, log_path, cwd, socket_path=None, port=None):
        self.argv = argv
        self.socket = socket_path
        self.port = port
        self.log_path = log_path
        self.cwd = cwd
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid

    def ready(self):
        if self.socket is not None:
            return os.path.exists(self.socket)
        return processes.port_answers(self.port)

    def start(self, timeout=15):
        if self.socket and os.path.exists(self.socket):
            os.unlink(self.socket)
        self.proc = processes.start(self.argv, self.log_path, self.ready,
                                    timeout, what=self.argv[-1],
                                    cwd=self.cwd)
        return self

    def stop(self):
        processes.stop(self.proc)


def backend_from_example(example, server, rundir, program="otas-session",
                         socket_name="session.sock", port=None, procs=None):
    """The SpawnFcgi of an example's documented command for program, with
    the server's paths and settings; on a TCP port when the command says
    -p (port replaces the documented one), else on rundir/socket_name;
    procs copies of the program (examples.render_spawn_fcgi)."""
    argv = examples.render_spawn_fcgi(
        examples.spawn_fcgi_command(example, program), rundir,
        server.app.build, server.app.env, port, procs)
    tcp = port is not None and "-p" in argv
    return SpawnFcgi(argv, server.error_log_path, server.dir,
                     socket_path=None if tcp else
                     os.path.join(rundir, socket_name),
                     port=port if tcp else None)


# --- Apache ------------------------------------------------------------------

class Apache(Server):
    """Apache from apache.conf.example in one mode, -DFOREGROUND, with
    its ServerRoot, PidFile, mutexes and logs in our directory."""

    mode = None
    authz_port = None

    @classmethod
    def available(cls):
        return os.access(APACHE, os.X_OK)

    @property
    def error_log_path(self):
        return os.path.join(self.dir, "logs", "error.log")

    @property
    def rundir(self):
        return os.path.join(self.dir, "run")

    def config_text(self):
        settings = {
            "listen": "127.0.0.1:%d" % self.port,
            "libexec": self.app.build,
            "rundir": self.rundir,
            "logdir": os.path.join(self.dir, "logs"),
            "modules": APACHE_MODULES,
            "database_url": self.app.env["OTAS_DATABASE_URL"],
            "jwt_secret_file": self.app.env["OTAS_JWT_SECRET_FILE"],
            "metrics_file": os.path.join(self.rundir, "metrics",
                                         "otas.metrics"),
        }
        extra = {k: v for k, v in self.app.env.items()
                 if k not in MAIN_SETTINGS}
        return examples.apache(self.mode, settings, extra, self.authz_port)

    def prepare(self):
        self.app.binary("otas-session")
        for d in (self.dir, self.rundir, os.path.join(self.dir, "logs")):
            os.makedirs(d, exist_ok=True)
        # As the example asks: the metrics file's directory is the User's.
        os.makedirs(os.path.join(self.rundir, "metrics"), exist_ok=True)
        processes.give_to(os.path.join(self.rundir, "metrics"), SERVER_USER)
        # The build directory is the otas_libexec the workers (www-data)
        # must reach; the programs there are world-executable already.
        self.conf = os.path.join(self.dir, "apache.conf")
        with open(self.conf, "w") as f:
            f.write(self.config_text())
        check_config([APACHE, "-t", "-f", self.conf], "apache2 -t")

    def start_backend(self):
        pass

    def start(self):
        self.prepare()
        self.start_backend()
        self.spawn([APACHE, "-DFOREGROUND", "-f", self.conf])
        return self


class ApacheFcgid(Apache):
    kind = "apache-fcgid"
    mode = "fcgid"

    @classmethod
    def available(cls):
        return super().available() and os.path.exists(
            os.path.join(APACHE_MODULES, "mod_fcgid.so"))


class ApacheCgi(Apache):
    kind = "apache-cgi"
    mode = "cgi"


class ApacheProxyFcgi(Apache):
    """Apache + mod_proxy_fcgi; otas-session under spawn-fcgi -n.  The
    program's stderr goes to Apache's error log file (both append)."""

    kind = "apache-proxy-fcgi"
    mode = "proxy_fcgi"

    @classmethod
    def available(cls):
        return super().available() and os.access(examples.SPAWN_FCGI,
                                                 os.X_OK)

    def start_backend(self):
        self.responder = backend_from_example(examples.APACHE, self,
                                              self.rundir).start()
        self.backends.append(self.responder)


# --- nginx -------------------------------------------------------------------

class Nginx(Server):
    """nginx from nginx.conf.example (-p dir -c conf, daemon off);
    otas-session under spawn-fcgi -n as the example's comment says, procs
    copies of it under multiwatch when procs > 1."""

    kind = "nginx"

    def __init__(self, basedir, app, procs=None):
        super().__init__(basedir, app)
        self.procs = procs

    @classmethod
    def available(cls):
        return os.access(NGINX, os.X_OK) and os.access(examples.SPAWN_FCGI,
                                                       os.X_OK)

    @property
    def rundir(self):
        return os.path.join(self.dir, "run")

    @property
    def error_log_path(self):
        return os.path.join(self.dir, "logs", "otas-error.log")

    def start(self):
        self.app.binary("otas-session")
        logdir = os.path.join(self.dir, "logs")
        for d in (self.dir, self.rundir, logdir):
            os.makedirs(d, exist_ok=True)
        # As the example asks: the metrics file's directory is www-data's.
        os.makedirs(os.path.join(self.rundir, "metrics"), exist_ok=True)
        processes.give_to(os.path.join(self.rundir, "metrics"), SERVER_USER)
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(examples.nginx(self.port, self.rundir, logdir))
        argv = [NGINX, "-p", self.dir + "/", "-c", conf]
        check_config(argv + ["-t"], "nginx -t")
        self.responder = backend_from_example(examples.NGINX, self,
                                              self.rundir,
                                              procs=self.procs).start()
        self.backends.append(self.responder)
        self.spawn(argv + ["-g", "daemon off;"])
        return self

