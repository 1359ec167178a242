"""systemd_unit — runs a program exactly as the package's systemd units do,
on a machine where systemd is not PID 1.

The unit files are parsed, never restated: the .socket's ListenStream,
SocketUser, SocketGroup, SocketMode and DirectoryMode make the listening
unix socket (bound and owned as systemd would); the .service's ExecStart
runs with that socket on fd 0 (StandardInput=socket, which the service must
say), its Environment= and EnvironmentFile= settings and nothing else of
ours, as its User= and Group= with no supplementary groups, under its
UMask, with NoNewPrivileges and an empty capability bounding set when the
unit asks for them (setpriv does those), and its stdout and stderr in a log
file standing for the journal.  Paths of the installed system (the socket
directory, the settings file, the programs) are mapped to private ones by
a prefix map, so a test runs the shipped units in a private directory,
and the unit's user may be mapped to a stand-in made the same way (so
test runs on one machine do not share it).
"""

import os
import pwd
import grp
import shlex
import signal
import socket
import subprocess
import time

from harness import processes

SETPRIV = "/usr/bin/setpriv"
# What systemd's service manager puts in a system service's environment
# (systemd.exec(5), "Environment variables in spawned processes").
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Unit:
    """A unit file's settings: section -> [(key, value)] in file order."""

    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)
        self.sections = {}
        section = None
        with open(path) as f:
            lines = f.read().replace("\\\n", " ").splitlines()
        for line in lines:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                section = self.sections.setdefault(line[1:-1], [])
                continue
            key, eq, value = line.partition("=")
            if not eq or section is None:
                raise ValueError("%s: cannot parse %r" % (path, line))
            section.append((key.strip(), value.strip()))

    def all(self, section, key):
        """Every value of a key; an empty assignment resets the list, as
        systemd does for list settings."""
        out = []
        for k, v in self.sections.get(section, []):
            if k == key:
                out = [] if v == "" else out + [v]
        return out

    def get(self, section, key, default=None):
        values = [v for k, v in self.sections.get(section, []) if k == key]
        return values[-1] if values else default

    def flag(self, section, key):
        return self.get(section, key, "no").lower() in ("yes", "true", "1",
                                                        "on")


def map_path(path, path_map):
    """The private stand-in of an installed path (longest prefix wins)."""
    for prefix in sorted(path_map, key=len, reverse=True):
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            return path_map[prefix] + path[len(prefix.rstrip("/")):]
    return path


def read_environment_file(path):
    """systemd's EnvironmentFile= format: NAME=value lines, # or ;
    comments, optional quotes."""
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            name, eq, value = line.partition("=")
            if eq:
                words = shlex.split(value) if value else [""]
                env[name.strip()] = " ".join(words)
    return env


def service_environment(service, path_map, users=None):
    """The environment systemd gives the service: its own basics, then
    Environment= and EnvironmentFile= in the unit's order (file paths
    mapped; a leading '-' makes a missing file fine).  Values that are
    installed paths are mapped too, so OTAS_CONFIG names the private
    settings file."""
    user = (users or {}).get(service.get("Service", "User", "root"),
                             service.get("Service", "User", "root"))
    pw = pwd.getpwnam(user)
    env = {"PATH": SYSTEMD_PATH, "LANG": "C.UTF-8", "USER": user,
           "LOGNAME": user, "HOME": pw.pw_dir, "SHELL": pw.pw_shell}
    for key, value in service.sections.get("Service", []):
        if key == "Environment":
            for word in shlex.split(value):
                name, _, val = word.partition("=")
                env[name] = map_path(val, path_map)
        elif key == "EnvironmentFile":
            optional = value.startswith("-")
            path = map_path(value.lstrip("-"), path_map)
            if optional and not os.path.exists(path):
                continue
            env.update(read_environment_file(path))
    return env


def listen(socket_unit, path_map):
    """The socket systemd would hold: (socket object, private path)."""
    paths = socket_unit.all("Socket", "ListenStream")
    if len(paths) != 1 or not paths[0].startswith("/"):
        raise ValueError("%s: want one unix ListenStream, got %r" % (
            socket_unit.name, paths))
    if socket_unit.flag("Socket", "Accept"):
        raise ValueError("%s: Accept=yes is not what a FastCGI program "
                         "takes on fd 0" % socket_unit.name)
    path = map_path(paths[0], path_map)
    d = os.path.dirname(path)
    os.makedirs(d, mode=int(socket_unit.get("Socket", "DirectoryMode",
                                            "0755"), 8), exist_ok=True)
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    uid = pwd.getpwnam(socket_unit.get("Socket", "SocketUser",
                                       "root")).pw_uid
    gid = grp.getgrnam(socket_unit.get("Socket", "SocketGroup",
                                       "root")).gr_gid
    os.chown(path, uid, gid)
    os.chmod(path, int(socket_unit.get("Socket", "SocketMode", "0666"), 8))
    sock.listen(int(socket_unit.get("Socket", "Backlog", "4096")))
    return sock, path


def exec_argv(unit, path_map, users=None):
    """ExecStart= (its program mapped) under setpriv: the unit's User= and
    Group= without supplementary groups, NoNewPrivileges, and an empty
    capability bounding set when CapabilityBoundingSet= is empty."""
    cmd = shlex.split(unit.get("Service", "ExecStart"))
    cmd[0] = map_path(cmd[0], path_map)
    users = users or {}
    user = unit.get("Service", "User", "root")
    group = users.get(unit.get("Service", "Group", user),
                      unit.get("Service", "Group", user))
    user = users.get(user, user)
    priv = [SETPRIV, "--reuid", str(pwd.getpwnam(user).pw_uid),
            "--regid", str(grp.getgrnam(group).gr_gid), "--clear-groups"]
    if unit.flag("Service", "NoNewPrivileges"):
        priv.append("--no-new-privs")
    if unit.all("Service", "CapabilityBoundingSet") == [] and any(
            k == "CapabilityBoundingSet"
            for k, _ in unit.sections.get("Service", [])):
        priv += ["--bounding-set", "-all", "--inh-caps", "-all"]
    return priv + ["--"] + cmd


def run_oneshot(path, path_map, users=None, timeout=60):
    """A Type=oneshot service (a timer's), run to its end as the unit
    says; returns the CompletedProcess (stdout and stderr: the journal)."""
    unit = Unit(path)
    if unit.get("Service", "Type") != "oneshot":
        raise ValueError("%s: not Type=oneshot" % unit.name)
    return subprocess.run(
        exec_argv(unit, path_map, users),
        env=service_environment(unit, path_map, users),
        cwd="/", umask=int(unit.get("Service", "UMask", "0022"), 8),
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=timeout)


class Service:
    """A .service started by its .socket, run as the unit says."""

    def __init__(self, unit_dir, name, path_map, log_path, wrap=(),
                 wrap_env=None, users=None):
        self.users = dict(users or {})   # unit's user/group -> stand-in
        self.wrap = list(wrap)     # e.g. strace: runs the program itself
        self.wrap_env = dict(wrap_env or {})   # what the wrapper needs
        self.socket_unit = Unit(os.path.join(unit_dir, name + ".socket"))
        self.unit = Unit(os.path.join(unit_dir, name + ".service"))
        self.path_map = path_map
        self.log_path = log_path
        self.sock = None
        self.socket_path = None
        self.proc = None

    def start(self):
        if self.unit.get("Service", "StandardInput") != "socket":
            raise ValueError("%s: no StandardInput=socket" % self.unit.name)
        argv = exec_argv(self.unit, self.path_map, self.users)
        at = argv.index("--") + 1
        argv[at:at] = self.wrap
        env = service_environment(self.unit, self.path_map, self.users)
        env.update(self.wrap_env)
        self.runtime_directories()
        umask = int(self.unit.get("Service", "UMask", "0022"), 8)
        self.sock, self.socket_path = listen(self.socket_unit,
                                             self.path_map)
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                argv, stdin=self.sock.fileno(), stdout=log, stderr=log,
                env=env, cwd="/", umask=umask, process_group=0)
        finally:
            log.close()
            # The service holds the socket now; ours would keep it alive.
            self.sock.close()
        return self

    def runtime_directories(self):
        """RuntimeDirectory= as systemd makes it: below /run (mapped),
        the unit's user's, RuntimeDirectoryMode (0755); kept, as
        RuntimeDirectoryPreserve=yes keeps it."""
        user = self.unit.get("Service", "User", "root")
        pw = pwd.getpwnam(self.users.get(user, user))
        mode = int(self.unit.get("Service", "RuntimeDirectoryMode", "0755"),
                   8)
        for value in self.unit.all("Service", "RuntimeDirectory"):
            for word in value.split():
                d = map_path("/run/" + word, self.path_map)
                os.makedirs(d, exist_ok=True)
                os.chown(d, pw.pw_uid, pw.pw_gid)
                os.chmod(d, mode)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, text, timeout=10):
        """Waits until the service's log holds text (its start line)."""
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited (%s):\n%s" % (
                    self.unit.name, self.proc.returncode, self.log()))
            if time.monotonic() > deadline:
                raise RuntimeError("%s: no %r in its log after %ds:\n%s" % (
                    self.unit.name, text, timeout, self.log()))
            time.sleep(0.05)

    def program_pid(self):
        """The program's PID: the child of a wrapper, if there is one."""
        if not self.wrap:
            return self.proc.pid
        kids = set(processes.tree(self.proc.pid)) - {self.proc.pid}
        return min(kids) if kids else self.proc.pid

    def stop(self):
        """KillSignal= (default SIGTERM) to the program by PID, as
        systemctl stop does; a wrapper ends with it."""
        sig = signal.Signals[self.unit.get("Service", "KillSignal",
                                           "SIGTERM")]
        if self.wrap and self.proc.poll() is None:
            try:
                os.kill(self.program_pid(), sig)
            except ProcessLookupError:
                pass
        processes.stop(self.proc, sig)
        if self.socket_path and os.path.exists(self.socket_path):
            os.unlink(self.socket_path)


def syscall_group(name):
    """Every system call of a SystemCallFilter= group (@name), its nested
    groups expanded, as systemd-analyze syscall-filter lists them."""
    out = subprocess.run(["systemd-analyze", "syscall-filter", name],
                         capture_output=True, text=True, check=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        calls |= syscall_group(word) if word.startswith("@") else {word}
    return calls


def allowed_syscalls(unit):
    """The system calls the unit's SystemCallFilter= lines leave allowed
    (an allow list, then ~deny lists, in order)."""
    allowed = None
    for value in unit.all("Service", "SystemCallFilter"):
        deny = value.startswith("~")
        names = set()
        for word in value.lstrip("~").split():
            names |= syscall_group(word) if word.startswith("@") else {word}
        if deny:
            if allowed is None:
                raise ValueError("%s: a deny list with no allow list "
                                 "before it" % unit.name)
            allowed -= names
        else:
            allowed = names if allowed is None else allowed | names
    return allowed


def make_system_user(name):
    """The system user and group a package's postinst makes with
    `adduser --system --group` (no home, no login)."""
    subprocess.run(["adduser", "--system", "--group", "--quiet",
                    "--no-create-home", "--home", "/nonexistent", name],
                   check=True, capture_output=True)


def remove_system_user(name, timeout=15):
    """Removes the user and its group again; deluser refuses while a
    process of the user is still exiting, so it is retried, and a user
    that stays is an error (a later run would take it for someone
    else's)."""
    deadline = time.monotonic() + timeout
    while True:
        subprocess.run(["deluser", "--system", "--quiet", name],
                       capture_output=True)
        try:
            pwd.getpwnam(name)
        except KeyError:
            break
        if time.monotonic() > deadline:
            raise RuntimeError("cannot remove user %s" % name)
        time.sleep(0.5)
    try:
        grp.getgrnam(name)
        subprocess.run(["delgroup", "--system", "--quiet", name],
                       capture_output=True, check=True)
    except KeyError:
        pass
