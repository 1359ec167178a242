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
group, in a private directory, and stopped by PID (stack.stop_process).
Apache gets -DFOREGROUND and -f, so nothing of /etc/apache2 is read or
changed; nginx gets -p and -c.
"""

import os
import re
import shlex
import subprocess
import time

import stack
from stack import Server, register, stop_process

APACHE = "/usr/sbin/apache2"
NGINX = "/usr/sbin/nginx"
SPAWN_FCGI = "/usr/bin/spawn-fcgi"
APACHE_MODULES = "/usr/lib/apache2/modules"
EXAMPLE_APACHE = os.path.join(stack.ROOT, "apache.conf.example")
EXAMPLE_NGINX = os.path.join(stack.ROOT, "nginx.conf.example")

# The values the examples ship with, replaced by the tests' own.
DEFAULT_RUNDIR = "/run/otas-fcgi"
DEFAULT_LIBEXEC = "/usr/local/lib/otas-fcgi"
DEFAULT_DATABASE_URL = "postgresql://otas@127.0.0.1:5432/otas"
DEFAULT_SECRET_FILE = "/etc/otas-fcgi/jwt-secret"
DEFAULT_LISTEN = "127.0.0.1:8000"
DEFAULT_NGINX_LOGDIR = "/var/log/nginx"

MAIN_SETTINGS = ("OTAS_DATABASE_URL", "OTAS_JWT_SECRET_FILE")


def read(path):
    with open(path) as f:
        return f.read()


def replace_exactly(text, old, new, what):
    """Replaces every occurrence of old; at least one must exist, so the
    example and the tests cannot drift apart silently."""
    if old not in text:
        raise ValueError("%s: %r not found" % (what, old))
    return text.replace(old, new)


# --- the spawn-fcgi command of an example ---------------------------------

SPAWN_FCGI_BLOCK = re.compile(
    r"^[ \t]*# spawn-fcgi command\b(?: \([^)\n]*\))?:[ \t]*\n(.*?)"
    r"^[ \t]*# \(end\)[ \t]*$", re.MULTILINE | re.DOTALL)


def spawn_fcgi_commands(text):
    """Every commented command between "# spawn-fcgi command...:" and
    "# (end)", as argv lists (continuation backslashes joined)."""
    out = []
    for m in SPAWN_FCGI_BLOCK.finditer(text):
        parts = []
        for line in m.group(1).splitlines():
            line = line.strip().lstrip("#").strip()
            if line.endswith("\\"):
                line = line[:-1].rstrip()
            parts.append(line)
        out.append(shlex.split(" ".join(parts)))
    return out


def spawn_fcgi_command(text, what, program="otas-session"):
    """The documented command that runs `program`."""
    for argv in spawn_fcgi_commands(text):
        if argv and os.path.basename(argv[-1]) == program:
            return argv
    raise ValueError("%s: no spawn-fcgi command for %s" % (what, program))


def render_spawn_fcgi(argv, rundir, libexec, env):
    """The example's command with the tests' paths and settings: every
    OTAS_*=... word of `env` gets env's value, extra OTAS_* settings are
    added after them, and the default paths become ours."""
    out = []
    seen = set()
    for word in argv:
        name, eq, _ = word.partition("=")
        if eq and name in MAIN_SETTINGS:
            word = "%s=%s" % (name, env[name])
            seen.add(name)
        elif word == "spawn-fcgi":
            out.extend("%s=%s" % kv for kv in sorted(env.items())
                       if kv[0] not in MAIN_SETTINGS)
            word = SPAWN_FCGI
        else:
            word = word.replace(DEFAULT_RUNDIR, rundir)
            word = word.replace(DEFAULT_LIBEXEC, libexec)
        out.append(word)
    if seen != set(MAIN_SETTINGS):
        raise ValueError("spawn-fcgi command lacks %s" %
                         sorted(set(MAIN_SETTINGS) - seen))
    if out[:2] != ["env", "-i"] or "-n" not in out or "-s" not in out:
        raise ValueError("spawn-fcgi command is no longer "
                         "`env -i ... spawn-fcgi -n -s ...`: %r" % out)
    return out


class SpawnFcgi:
    """otas-session under `spawn-fcgi -n` on a unix socket, as the
    example's command runs it.  proc is the program itself."""

    def __init__(self, argv, socket_path, log_path, cwd):
        self.argv = argv
        self.socket = socket_path
        self.log_path = log_path
        self.cwd = cwd
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid

    def start(self, timeout=15):
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(self.argv, cwd=self.cwd,
                                         stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log,
                                         process_group=0)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None:
                raise RuntimeError("spawn-fcgi exited at start (%s):\n%s" %
                                   (self.proc.returncode,
                                    read(self.log_path)[-3000:]))
            if time.monotonic() > deadline:
                raise RuntimeError("spawn-fcgi socket %s missing after %ds"
                                   % (self.socket, timeout))
            time.sleep(0.05)
        return self

    def stop(self):
        stop_process(self.proc)


# --- Apache ------------------------------------------------------------------

APACHE_MODES = ("fcgid", "proxy_fcgi", "cgi")


def render_apache_conf(text, mode, settings, extra_env):
    """apache.conf.example with exactly the mode line `Define
    otas_mode_<mode>` active, each `Define otas_NAME "value"` line given
    settings[NAME], and extra OTAS_* settings added the way the mode
    passes settings (FcgidInitialEnv or SetEnv)."""
    for m in APACHE_MODES:
        pattern = re.compile(r"^#?Define otas_mode_%s$" % m, re.MULTILINE)
        line = ("" if m == mode else "#") + "Define otas_mode_" + m
        text, n = pattern.subn(line, text)
        if n != 1:
            raise ValueError("apache.conf.example: mode line otas_mode_%s "
                             "found %d times" % (m, n))
    for name, value in settings.items():
        if '"' in value:
            raise ValueError("apache setting %s contains a quote" % name)
        pattern = re.compile(r'^Define otas_%s\s.*$' % re.escape(name),
                             re.MULTILINE)
        text, n = pattern.subn(
            lambda _m: 'Define otas_%s "%s"' % (name, value), text)
        if n != 1:
            raise ValueError("apache.conf.example: Define otas_%s found "
                             "%d times" % (name, n))
    for directive in ("FcgidInitialEnv", "SetEnv"):
        anchor = '%s OTAS_JWT_SECRET_FILE "${otas_jwt_secret_file}"' % \
            directive
        anchor_re = re.compile(r"^(\s*)%s\s+OTAS_JWT_SECRET_FILE\s+"
                               r'"\$\{otas_jwt_secret_file\}"$' % directive,
                               re.MULTILINE)
        m = anchor_re.search(text)
        if not m:
            raise ValueError("apache.conf.example: no %s" % anchor)
        lines = "".join('\n%s%s %s "%s"' % (m.group(1), directive, k, v)
                        for k, v in sorted(extra_env.items()))
        text = text[:m.end()] + lines + text[m.end():]
    return text


class Apache(Server):
    """Apache from apache.conf.example in one mode, -DFOREGROUND, with
    its ServerRoot, PidFile, mutexes and logs in our directory."""

    mode = None

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
        }
        extra = {k: v for k, v in self.app.env.items()
                 if k not in MAIN_SETTINGS}
        return render_apache_conf(read(EXAMPLE_APACHE), self.mode, settings,
                                  extra)

    def prepare(self):
        self.app.binary("otas-session")
        for d in (self.dir, self.rundir, os.path.join(self.dir, "logs")):
            os.makedirs(d, exist_ok=True)
        # The build directory is the otas_libexec the workers (www-data)
        # must reach; the programs there are world-executable already.
        self.conf = os.path.join(self.dir, "apache.conf")
        with open(self.conf, "w") as f:
            f.write(self.config_text())
        check = subprocess.run([APACHE, "-t", "-f", self.conf],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError("apache2 -t refused the config:\n" +
                               check.stdout + check.stderr)

    def start_backend(self):
        pass

    def start(self):
        self.prepare()
        self.start_backend()
        self.spawn([APACHE, "-DFOREGROUND", "-f", self.conf])
        self.wait_ready()
        return self


@register
class ApacheFcgid(Apache):
    kind = "apache-fcgid"
    mode = "fcgid"

    @classmethod
    def available(cls):
        return super().available() and os.path.exists(
            os.path.join(APACHE_MODULES, "mod_fcgid.so"))


@register
class ApacheCgi(Apache):
    kind = "apache-cgi"
    mode = "cgi"


def backend_from_example(example, server, rundir):
    """The SpawnFcgi an example's documented command describes."""
    argv = render_spawn_fcgi(
        spawn_fcgi_command(read(example), os.path.basename(example)),
        rundir, server.app.build, server.app.env)
    return SpawnFcgi(argv, os.path.join(rundir, "session.sock"),
                     server.error_log_path, server.dir)


@register
class ApacheProxyFcgi(Apache):
    """Apache + mod_proxy_fcgi; otas-session under spawn-fcgi -n.  The
    program's stderr goes to Apache's error log file (both append)."""

    kind = "apache-proxy-fcgi"
    mode = "proxy_fcgi"
    backend = None

    @classmethod
    def available(cls):
        return super().available() and os.access(SPAWN_FCGI, os.X_OK)

    def start_backend(self):
        self.backend = backend_from_example(EXAMPLE_APACHE, self,
                                            self.rundir).start()

    @property
    def responder(self):
        return self.backend

    def stop(self):
        try:
            super().stop()
        finally:
            if self.backend is not None:
                self.backend.stop()


# --- nginx -------------------------------------------------------------------

def render_nginx_conf(text, port, rundir, logdir):
    """nginx.conf.example with its literal site values replaced."""
    what = "nginx.conf.example"
    text = replace_exactly(text, "listen %s;" % DEFAULT_LISTEN,
                           "listen 127.0.0.1:%d;" % port, what)
    text = replace_exactly(text, DEFAULT_RUNDIR + "/", rundir + "/", what)
    text = replace_exactly(text, DEFAULT_NGINX_LOGDIR + "/", logdir + "/",
                           what)
    return text


@register
class Nginx(Server):
    """nginx from nginx.conf.example (-p dir -c conf, daemon off);
    otas-session under spawn-fcgi -n as the example's comment says."""

    kind = "nginx"
    backend = None

    @classmethod
    def available(cls):
        return os.access(NGINX, os.X_OK) and os.access(SPAWN_FCGI, os.X_OK)

    @property
    def rundir(self):
        return os.path.join(self.dir, "run")

    @property
    def error_log_path(self):
        return os.path.join(self.dir, "logs", "otas-error.log")

    @property
    def responder(self):
        return self.backend

    def start(self):
        self.app.binary("otas-session")
        logdir = os.path.join(self.dir, "logs")
        for d in (self.dir, self.rundir, logdir):
            os.makedirs(d, exist_ok=True)
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(render_nginx_conf(read(EXAMPLE_NGINX), self.port,
                                      self.rundir, logdir))
        argv = [NGINX, "-p", self.dir + "/", "-c", conf]
        check = subprocess.run(argv + ["-t"], capture_output=True,
                               text=True)
        if check.returncode != 0:
            raise RuntimeError("nginx -t refused the config:\n" +
                               check.stdout + check.stderr)
        self.backend = backend_from_example(EXAMPLE_NGINX, self,
                                            self.rundir).start()
        self.spawn(argv + ["-g", "daemon off;"])
        self.wait_ready()
        return self

    def stop(self):
        try:
            super().stop()
        finally:
            if self.backend is not None:
                self.backend.stop()


def fresh(cls, basedir, app):
    """A new, private instance of a server kind (for tests that end or
    reconfigure its processes); the caller stops it."""
    os.makedirs(basedir, exist_ok=True)
    os.chmod(basedir, 0o755)
    return cls(basedir, app)

