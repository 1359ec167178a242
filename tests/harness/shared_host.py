"""shared_host — a simulated shared host, for real: a private Apache
(prefork, mod_cgi, optionally mod_fcgid and suEXEC, AllowOverride All)
running as an Apache user of its own, and a customer account whose web
space /home/USER/public_html (below the test's directory) holds what the
customer uploaded.  Nothing of the host is invented by the customer's
side: the web space gets the programs, otas.conf and a .htaccess copied
from htaccess.example, as the README tells a user to.

suEXEC is Debian's apache2-suexec-custom, the setuid wrapper Apache runs
the customer's programs through.  It reads its settings from
/etc/apache2/suexec/<the Apache user>, so the host runs as a user of its
own and the test creates and removes exactly that one file; it appends
to /var/log/apache2/suexec.log, which is put back as it was.  The two
accounts (the Apache user, a member of www-data so it may run the
wrapper, and the customer) are made with useradd and removed with
userdel; stop() checks that no line of /etc/passwd, group, shadow,
gshadow, subuid or subgid names them any more (other helpers' tests may
add and remove users of their own meanwhile, so the files as a whole are
not compared).

Every process is stopped by PID: Apache (our child, in its own process
group), then any process still running as the customer.
"""

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time

from harness import processes
from harness import stack

APACHE = "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"
SUEXEC = "/usr/lib/apache2/suexec"
SUEXEC_CONF_DIR = "/etc/apache2/suexec"
SUEXEC_LOG = "/var/log/apache2/suexec.log"
ACCOUNT_FILES = ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow",
                 "/etc/subuid", "/etc/subgid")
HTACCESS_EXAMPLE = os.path.join(stack.ROOT, "htaccess.example")
# The one line of htaccess.example a user edits: the web space's path.
HTACCESS_PLACEHOLDER = "/home/USER/public_html"


def available():
    return (os.access(APACHE, os.X_OK) and os.path.exists(SUEXEC) and
            os.path.exists(os.path.join(MODULES, "mod_fcgid.so")) and
            os.path.exists(os.path.join(MODULES, "mod_suexec.so")))


def lines_of(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def account_tool(argv):
    """useradd/userdel, again after a moment while another program (a
    package test, say) holds the lock on the account files."""
    for _ in range(20):
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode == 0 or "lock" not in r.stderr:
            return r
        time.sleep(0.5)
    return r


def kill_user_processes(uid, timeout=10):
    """SIGKILL, by PID, every process running as uid (the customer's
    programs outliving Apache would keep userdel from working)."""
    deadline = time.monotonic() + timeout
    while True:
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.stat("/proc/" + entry).st_uid == uid:
                        pids.append(int(entry))
                except FileNotFoundError:
                    pass
        if not pids or time.monotonic() > deadline:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


class SuexecLog:
    """suEXEC's log, put back as it was when the last host using it stops
    (a module may run two hosts at once)."""

    users = 0
    size = None         # None: there was no log

    @classmethod
    def hold(cls):
        if cls.users == 0:
            try:
                cls.size = os.path.getsize(SUEXEC_LOG)
            except FileNotFoundError:
                cls.size = None
        cls.users += 1

    @classmethod
    def release(cls):
        cls.users -= 1
        if cls.users > 0:
            return
        if cls.size is None:
            if os.path.exists(SUEXEC_LOG):
                os.unlink(SUEXEC_LOG)
        elif os.path.exists(SUEXEC_LOG):
            os.truncate(SUEXEC_LOG, cls.size)


class SharedHost:
    """One host: Apache with mod_cgi and, as asked, mod_fcgid and suEXEC.

    basedir/home is what the host calls its customers' area (suEXEC's
    document root); the customer's home is basedir/home/USER and the web
    space, the site's DocumentRoot, basedir/home/USER/public_html."""

    def __init__(self, basedir, fcgid=True, suexec=True):
        self.fcgid = fcgid
        self.suexec = suexec
        tag = secrets.token_hex(3)
        self.apache_user = "otasweb" + tag
        self.user = "otasusr" + tag
        self.dir = os.path.join(basedir, "host-" + tag)
        self.homes = os.path.join(self.dir, "home")
        self.home = os.path.join(self.homes, self.user)
        self.webspace = os.path.join(self.home, "public_html")
        self.port = processes.free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = None
        self.made_users = []
        self.suexec_conf = os.path.join(SUEXEC_CONF_DIR, self.apache_user)
        self.names = (self.apache_user, self.user)
        self.holds_log = False

    # --- setting up -------------------------------------------------------

    def useradd(self, name, home, groups=()):
        argv = ["useradd", "--system", "--user-group", "--no-create-home",
                "--home-dir", home, "--shell", "/bin/sh"]
        if groups:
            argv += ["--groups", ",".join(groups)]
        r = account_tool(argv + [name])
        if r.returncode != 0:
            raise RuntimeError("useradd %s: %s" % (name, r.stderr.strip()))
        self.made_users.append(name)
        return pwd.getpwnam(name)

    def make_accounts(self):
        self.apache_pw = self.useradd(self.apache_user, "/nonexistent",
                                      groups=["www-data"])
        self.user_pw = self.useradd(self.user, self.home)

    def make_dirs(self):
        for d in (self.dir, os.path.join(self.dir, "run"),
                  os.path.join(self.dir, "logs"), self.homes):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        for d in (self.home, self.webspace):
            os.makedirs(d)
            os.chmod(d, 0o755)
            os.chown(d, self.user_pw.pw_uid, self.user_pw.pw_gid)
        if self.fcgid:
            ipc = os.path.join(self.dir, "run", "fcgid")
            os.makedirs(ipc)
            os.chown(ipc, self.apache_pw.pw_uid, self.apache_pw.pw_gid)

    def write_suexec_conf(self):
        if os.path.exists(self.suexec_conf):
            raise RuntimeError("%s exists already" % self.suexec_conf)
        SuexecLog.hold()
        self.holds_log = True
        with open(self.suexec_conf, "w") as f:
            # Document root; the userdir line commented out: refused.
            f.write("%s\n# no userdir\n" % self.homes)

    def config_text(self):
        mod = lambda name, so: "LoadModule %s %s/%s\n" % (name, MODULES, so)
        text = (
            'ServerRoot "{d}"\nPidFile "{d}/run/apache.pid"\n'
            'DefaultRuntimeDir "{d}/run"\nErrorLog "{d}/logs/error.log"\n'
            "LogLevel info\nListen 127.0.0.1:{port}\nServerName localhost\n"
            "User {u}\nGroup {u}\n").format(d=self.dir, port=self.port,
                                             u=self.apache_user)
        text += mod("mpm_prefork_module", "mod_mpm_prefork.so")
        text += ("StartServers 2\nMinSpareServers 1\nMaxSpareServers 4\n"
                 "MaxRequestWorkers 16\n")
        for name in ("authz_core", "mime", "rewrite", "headers", "cgi"):
            text += mod(name + "_module", "mod_%s.so" % name)
        text += "TypesConfig /etc/mime.types\n"
        if self.fcgid:
            text += mod("fcgid_module", "mod_fcgid.so")
            text += ('FcgidIPCDir "{d}/run/fcgid"\n'
                     'FcgidProcessTableFile "{d}/run/fcgid/shm"\n'
                     ).format(d=self.dir)
        if self.suexec:
            text += mod("suexec_module", "mod_suexec.so")
        # What a shared host grants its customers: their directories,
        # anything a .htaccess may say, nothing else.
        text += ('<Directory />\n\tAllowOverride None\n'
                 '\tRequire all denied\n</Directory>\n'
                 '<Directory "{h}">\n\tAllowOverride All\n\tOptions None\n'
                 '\tRequire all granted\n</Directory>\n'
                 'DocumentRoot "{w}"\n').format(h=self.homes, w=self.webspace)
        if self.suexec:
            text += "SuexecUserGroup %s %s\n" % (self.user, self.user)
        return text

    def start(self):
        try:
            self.make_accounts()
            self.make_dirs()
            if self.suexec:
                self.write_suexec_conf()
            conf = os.path.join(self.dir, "apache.conf")
            with open(conf, "w") as f:
                f.write(self.config_text())
            check = subprocess.run([APACHE, "-t", "-f", conf],
                                   capture_output=True, text=True)
            if check.returncode != 0:
                raise RuntimeError("apache2 -t: " + check.stderr)
            self.proc = processes.start(
                [APACHE, "-DFOREGROUND", "-f", conf],
                os.path.join(self.dir, "server.out"),
                lambda: processes.port_answers(self.port), cwd=self.dir,
                describe=lambda: processes.tail(self.error_log_path))
        except BaseException:
            self.stop()
            raise
        return self

    # --- what the customer uploads ------------------------------------------

    def upload(self, src, name, mode=0o755, where=None):
        """A file of the customer's, owned by them (as FTP would leave
        it); where: a directory of theirs, default the web space."""
        dst = os.path.join(where or self.webspace, name)
        shutil.copyfile(src, dst)
        self.own(dst, mode)
        return dst

    def write(self, name, text, mode=0o644, where=None):
        dst = os.path.join(where or self.webspace, name)
        with open(dst, "w") as f:
            f.write(text)
        self.own(dst, mode)
        return dst

    def own(self, path, mode):
        os.chown(path, self.user_pw.pw_uid, self.user_pw.pw_gid)
        os.chmod(path, mode)

    def htaccess_text(self):
        with open(HTACCESS_EXAMPLE) as f:
            text = f.read()
        if text.count(HTACCESS_PLACEHOLDER) != 1:
            raise ValueError("htaccess.example: %s not found exactly once"
                             % HTACCESS_PLACEHOLDER)
        return text.replace(HTACCESS_PLACEHOLDER, self.webspace)

    def as_user(self, argv, cwd=None, env=None, user=None):
        """argv run as the customer (or user), with that user's own group
        and no other, and only env."""
        pw = pwd.getpwnam(user or self.user)
        return subprocess.run(argv, cwd=cwd or self.webspace,
                              env=env or {"PATH": "/usr/bin:/bin"},
                              user=pw.pw_uid, group=pw.pw_gid,
                              extra_groups=[], capture_output=True,
                              text=True, timeout=60)

    # --- looking at it ------------------------------------------------------

    def program_uids(self, name):
        """uids of this host's running processes called name."""
        out = set()
        for pid, comm in processes.tree(self.proc.pid).items():
            if comm == name[:15]:
                try:
                    out.add(os.stat("/proc/%d" % pid).st_uid)
                except FileNotFoundError:
                    pass
        return out

    @property
    def error_log_path(self):
        return os.path.join(self.dir, "logs", "error.log")

    def error_log(self):
        try:
            with open(self.error_log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # --- taking it down -----------------------------------------------------

    def stop(self):
        try:
            processes.stop(self.proc)
            self.proc = None
            for name in self.made_users:
                try:
                    kill_user_processes(pwd.getpwnam(name).pw_uid)
                except KeyError:
                    pass
        finally:
            self.undo()

    def undo(self):
        """Every step is tried, whatever failed before it."""
        errors = []
        if self.suexec and os.path.exists(self.suexec_conf):
            os.unlink(self.suexec_conf)
        if self.holds_log:
            self.holds_log = False
            try:
                SuexecLog.release()
            except OSError as e:
                errors.append("suexec.log: %s" % e)
        for name in reversed(self.made_users):
            r = account_tool(["userdel", name])
            if r.returncode != 0:
                errors.append("userdel %s: %s" % (name, r.stderr.strip()))
        self.made_users = []
        shutil.rmtree(self.dir, ignore_errors=True)
        for path in ACCOUNT_FILES:
            left = [line for line in lines_of(path)
                    if any(n in line for n in self.names)]
            if left:
                errors.append("%s still has %s" % (path, left))
        if errors:
            raise RuntimeError("shared host teardown: " + "; ".join(errors))
