"""processes — how the harness starts a program and gets rid of it again.

Every server, database, pooler and responder the tests and the benchmark
run goes through here, so the rules are kept in one place:

  - a program is our child, started in the foreground in its own process
    group, with its output appended to a log file in a private directory;
  - waiting for it to be ready is bounded, and a program that exits or is
    not ready in time is stopped again and reported with its log's tail;
  - it is stopped by its PID: the polite signal first, then SIGKILL to its
    whole group (what it spawned must not outlive the run).

Process is a subprocess.Popen, so callers keep .pid, .poll() and .wait().
Nothing is left to init: programs that fork more copies run under a
supervisor that stays our child (lighttpd, multiwatch), so stopping it
stops them, and tree() finds them for a measurement.
"""

import os
import pwd
import signal
import socket
import subprocess
import time


def free_port():
    """A TCP port free on 127.0.0.1 right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_answers(port, host="127.0.0.1"):
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def http_answers(port, host="127.0.0.1"):
    """Whether a web server on host:port answers HTTP at all.  More than
    port_answers: a server may listen before it has started its FastCGI
    programs (lighttpd does), but it answers only once it has."""
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(b"HEAD / HTTP/1.0\r\n\r\n")
            return s.recv(5) == b"HTTP/"
    except OSError:
        return False


def pid_alive(pid):
    """Whether pid is a running process (a zombie is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    # A zombie still answers kill(0); /proc says whether it is one.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def give_to(path, user):
    """chown path to user and that user's group."""
    pw = pwd.getpwnam(user)
    os.chown(path, pw.pw_uid, pw.pw_gid)


def tail(path, size=4000):
    """The last size characters of a log file ("" when there is none)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()[-size:]
    except OSError:
        return ""


class NotReady(RuntimeError):
    """A program exited at start or was not ready within its bound."""


class Process(subprocess.Popen):
    """One program, our child, in its own process group, its stdout and
    stderr appended to log.  Popen's other keywords (env, cwd, user,
    group) pass through."""

    def __init__(self, argv, log, what=None, **popen):
        self.log = log
        self.what = what or os.path.basename(argv[0])
        with open(log, "ab") as out:
            super().__init__(argv, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=out, process_group=0, **popen)

    def wait_ready(self, ready, timeout=20, describe=None):
        """Polls ready() until it is true; stops the program and raises
        NotReady when it exits first or timeout seconds pass.  describe()
        adds to the message (e.g. another log's tail)."""
        deadline = time.monotonic() + timeout
        while not ready():
            if self.poll() is not None:
                why = "exited at start (status %s)" % self.returncode
            elif time.monotonic() > deadline:
                why = "not ready after %ss" % timeout
            else:
                time.sleep(0.05)
                continue
            self.stop()
            extra = describe() if describe else ""
            raise NotReady("%s %s:\n%s%s" % (self.what, why, tail(self.log),
                                             extra))
        return self

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Sends sig to the program; if it is still there after timeout,
        SIGKILLs its process group.  Returns the exit status."""
        stop(self, sig, timeout)
        return self.returncode

    def running(self):
        return self.poll() is None


def start(argv, log, ready, timeout=20, what=None, describe=None, **popen):
    """A Process that is ready (see Process.wait_ready), or NotReady."""
    return Process(argv, log, what, **popen).wait_ready(ready, timeout,
                                                        describe)


def stop(proc, sig=signal.SIGTERM, timeout=15):
    """Stops a Popen child by PID: sig, then SIGKILL to its process group
    when it ignores sig, so children it spawned do not outlive it either.
    A None or already finished proc is left alone."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=timeout)
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def tree(root):
    """{pid: comm} of root and every live process below it, read from
    /proc; zombies are left out."""
    kids = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
        if state != "Z":
            kids.setdefault(int(ppid), []).append((int(entry), comm))
    found, todo = {}, [root]
    try:
        with open("/proc/%d/comm" % root) as f:
            found[root] = f.read().rstrip("\n")
    except OSError:
        return {}
    while todo:
        for pid, comm in kids.get(todo.pop(), []):
            found[pid] = comm
            todo.append(pid)
    return found
