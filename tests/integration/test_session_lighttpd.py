"""lighttpd.conf.example as deployed: what the file promises an
administrator about the program's process — it runs unprivileged, sees only
the environment the file gives it (never lighttpd's own), holds the JWT
secret as a path rather than a value, and listens on a unix socket only.
"""

import os
import pwd
import time

from harness import examples
from harness import stack


def environ(pid):
    with open("/proc/%d/environ" % pid, "rb") as f:
        items = [e for e in f.read().split(b"\0") if e]
    return dict(e.decode("utf-8", "replace").split("=", 1) for e in items)


def status_field(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split()[1:]
    return None


def test_example_spawns_the_configured_number_of_processes(lighttpd):
    """The example's max-procs, for the two paths that share them.
    lighttpd may still be spawning them for a moment after it starts
    listening."""
    procs = examples.lighttpd_session_procs()
    deadline = time.monotonic() + 10
    while (len(lighttpd.program_pids()) < procs and
           time.monotonic() < deadline):
        time.sleep(0.1)
    assert len(lighttpd.program_pids()) == procs


def test_program_runs_as_www_data_not_root(lighttpd):
    uid = str(pwd.getpwnam("www-data").pw_uid)
    for pid in lighttpd.program_pids():
        assert status_field(pid, "Uid") == [uid] * 4


def test_program_environment_is_only_what_the_example_gives(lighttpd, app,
                                                             secret):
    for pid in lighttpd.program_pids():
        env = environ(pid)
        for name in stack.Server.CANARY_ENV:
            assert name not in env, "%s leaked from lighttpd's env" % name
        assert env["OTAS_DATABASE_URL"] == app.env["OTAS_DATABASE_URL"]
        assert env["OTAS_JWT_SECRET_FILE"] == secret.path
        assert "OTAS_JWT_SECRET" not in env
        assert secret.value.decode("latin-1") not in "".join(env.values())
        unexpected = set(env) - {"PATH", "PHP_FCGI_CHILDREN"} - {
            k for k in env if k.startswith("OTAS_")}
        assert not unexpected, unexpected


def test_program_listens_on_a_unix_socket_only(lighttpd):
    rundir = os.path.join(lighttpd.dir, "run")
    socks = sorted(n for n in os.listdir(rundir) if n.startswith("session"))
    assert socks == ["session.sock-%d" % i for i in
                     range(examples.lighttpd_session_procs())], socks
    # No TCP listener of the program's own: every inet socket it holds is
    # a client connection (to PostgreSQL).
    for pid in lighttpd.program_pids():
        inodes = set()
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                for line in f.readlines()[1:]:
                    cols = line.split()
                    if cols[9] in inodes:
                        assert cols[3] != "0A", "program listens on TCP"
