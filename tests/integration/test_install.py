"""`make install` and `make uninstall`, staged with DESTDIR so
nothing outside a temporary directory is touched: every file lands where
the README and the example configurations say, otas-admin looks for its
migrations where they were installed, and uninstall removes all of it.
"""

import os
import subprocess

from harness import stack

PREFIX = "/usr/local"       # the default: the build is not relinked


def make(build_dir, target, destdir):
    r = subprocess.run(["make", "--no-print-directory", "BUILD=" + build_dir,
                        "PREFIX=" + PREFIX, "DESTDIR=" + destdir, target],
                       cwd=stack.ROOT, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr


def files_under(root):
    out = set()
    for d, _, names in os.walk(root):
        for n in names:
            out.add(os.path.relpath(os.path.join(d, n), root))
    return out


def test_install_puts_each_file_where_documented_and_uninstall_removes_it(
        tmp_path):
    build_dir = stack.build_path()      # make's own, not a copy for www-data
    stage = str(tmp_path / "stage")
    make(build_dir, "install", stage)
    got = files_under(stage)
    p = PREFIX.lstrip("/")
    programs = sorted(n[:-2] for n in os.listdir(
        os.path.join(stack.ROOT, "cgi-bin")) if n.endswith(".c"))
    assert "otas-session" in programs
    expected = {"%s/lib/otas-fcgi/%s" % (p, n) for n in programs}
    expected |= {p + "/bin/otas-admin",
                 p + "/share/man/man1/otas-admin.1",
                 p + "/share/man/man5/otas.conf.5",
                 p + "/share/man/man8/otas-session.8",
                 p + "/share/man/man8/otas-authz.8",
                 p + "/share/man/man8/otas-echo.8"}
    expected |= {p + "/share/doc/otas-fcgi/examples/" + n
                 for n in os.listdir(stack.ROOT)
                 if n.endswith(".conf.example")}
    # The guides, and the alert rules and dashboard of doc/monitoring.md.
    expected |= {p + "/share/doc/otas-fcgi/" + n
                 for n in os.listdir(os.path.join(stack.ROOT, "doc"))
                 if n.endswith(".md")}
    expected |= {p + "/share/doc/otas-fcgi/monitoring/" + n
                 for n in os.listdir(os.path.join(stack.ROOT, "monitoring"))}
    assert p + "/share/doc/otas-fcgi/api.md" in expected
    expected |= {p + "/share/otas-fcgi/sql/" + n
                 for n in os.listdir(os.path.join(stack.ROOT, "sql"))
                 if n.endswith(".sql")}
    assert got == expected
    for n in programs:
        assert os.access(os.path.join(stage, p, "lib/otas-fcgi", n),
                         os.X_OK)
    # The installed otas-admin names the installed migrations directory.
    with open(os.path.join(stage, p, "bin/otas-admin"), "rb") as f:
        assert (PREFIX + "/share/otas-fcgi/sql").encode() in f.read()

    make(build_dir, "uninstall", stage)
    assert files_under(stage) == set()
    assert not os.path.exists(os.path.join(stage, p, "lib/otas-fcgi"))
    assert not os.path.exists(os.path.join(stage, p, "share/doc/otas-fcgi"))
