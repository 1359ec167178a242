"""python3 -m bench — one benchmark run (see __init__.py): set up the rig,
run every measurement in order, print the table and the targets, and stop
everything, also on ^C, SIGTERM or SIGHUP.  Exit status 1 when a run was
void (its numbers prove nothing)."""

import os
import shutil
import signal
import sys
import tempfile
import time

from harness import kinds, stack

from . import report
from .measurements import MEASUREMENTS
from .rig import Knobs, Rig

TOOLS = ("wrk", "lighttpd", "nginx", "spawn-fcgi", "multiwatch")


def run(rig):
    t0 = time.monotonic()
    rig.start()
    report.header(rig)
    # BENCH_ONLY=authz_modes,...: just those measurements (a quick check
    # that one runs; the table and targets then lack the others).
    only = [n for n in os.environ.get("BENCH_ONLY", "").split(",") if n]
    for measure in MEASUREMENTS:
        if not only or measure.__name__ in only:
            measure(rig)
    report.table(rig)
    report.targets(rig)
    rig.out("")
    rig.out("finished in %.0f s; load average at the end %s" % (
        time.monotonic() - t0, report.loadavg()))
    return 1 if any(r["res"]["void"] for r in rig.rows) else 0


def interrupted(sig, frame):
    raise KeyboardInterrupt("signal %d" % sig)


def main():
    kinds.register_all()
    build = stack.build_path()
    if os.geteuid() != 0:
        sys.exit("bench: run as root (PostgreSQL runs as postgres, the "
                 "responders as www-data)")
    for tool in TOOLS:
        if shutil.which(tool) is None:
            sys.exit("bench: %s is not installed (make deps)" % tool)
    knobs = Knobs()
    path = os.environ.get("BENCH_OUT", os.path.join(build, "bench",
                                                    "report.txt"))
    out = report.Report(path)
    workdir = tempfile.mkdtemp(prefix="otas-bench-")
    os.chmod(workdir, 0o755)
    # SIGTERM and SIGHUP end the run like ^C does: through the finally
    # below, which stops every process by PID.
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    rig = Rig(out, build, workdir, knobs)
    rc = 1
    try:
        rc = run(rig)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        rig.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
        out.close()
    print("report: %s" % path)
    return rc


sys.exit(main())
