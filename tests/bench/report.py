"""report — how the benchmark writes what it found.

Every line goes to stdout as it is measured and to the report file
($BUILD/bench/report.txt unless BENCH_OUT): a header naming the machine,
the commit and the tools, each measurement's section, the results table
and the targets, each with the number that decides it.
"""

import datetime
import os
import subprocess

from harness.examples import ROOT


def verdict(ok, *rows, void=False):
    """met / MISSED, or undecided when a run it rests on was void."""
    if void or any(r is not None and r["res"]["void"] for r in rows):
        return "VOID run, not decided"
    return "met" if ok else "MISSED"


class Report:
    """Everything printed goes to stdout and to the report file."""

    def __init__(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.path = path
        self.f = open(path, "w")

    def __call__(self, line=""):
        print(line, flush=True)
        self.f.write(line + "\n")
        self.f.flush()

    def close(self):
        self.f.close()

    def progress(self, label, c, res, base=None):
        """One run, as soon as it is done."""
        ratio = " x%.2f of pgbench" % (res["rps"] / base["rps"]) if base \
            else ""
        extra = ""
        if "resp_us_req" in res:
            extra = ", responder %.0f us/req" % res["resp_us_req"]
        void = ""
        if res["void"]:
            void = "  VOID (non-200 %d, errors %d)" % (
                res.get("non200", res.get("failed", 0)),
                res.get("errors", 0))
        self("  %-8s c=%-3d %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms%s%s%s"
             % (label, c, res["rps"], res["p50_us"] / 1000.0,
                res["p99_us"] / 1000.0, ratio, extra, void))


def first_line(argv):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    return (r.stdout + r.stderr).strip().splitlines()[0]


def header(rig):
    out = rig.out
    with open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f
                      if line.startswith("model name")), "?")
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    git = subprocess.run(["git", "-C", ROOT, "log", "-1", "--format=%h %s"],
                         capture_output=True, text=True,
                         timeout=30).stdout.strip()
    out("otas-fcgi benchmark — %s" % datetime.datetime.now(
        datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    out("machine: %d CPU(s), %s, %.1f GiB memory; load average at start %s"
        % (os.cpu_count(), model, mem_kib / 1048576.0, loadavg()))
    out("commit: %s" % git)
    out("PostgreSQL %s, durable (%s)" % (rig.pg_version, ", ".join(
        "%s=%s" % kv for kv in sorted(rig.pg.settings.items()))))
    for tool in (["wrk", "-v"], ["lighttpd", "-v"], ["nginx", "-v"]):
        out("%s: %s" % (tool[0], first_line(tool)))
    out("pgbench statement (from tests/bench/hot-sql):")
    with open(rig.script) as f:
        out("  " + f.read().strip())


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def table(rig):
    out = rig.out
    out("")
    out("== results (%d s per run; pgbench runs the responder's own "
        "statement; CPU in microseconds per request) ==" % rig.knobs.seconds)
    hdr = ("%-34s %-8s %5s %9s %8s %8s %7s %8s %6s %6s %6s %6s" %
           ("mode", "server", "conns", "req/s", "p50 ms", "p99 ms",
            "non200", "xpgbench", "resp", "web", "pg", "wrk"))
    out(hdr)
    out("-" * len(hdr))
    for r in rig.rows:
        x = r["res"]
        bad = x.get("non200", x.get("failed", 0))
        if "resp_us_req" in x:
            cpu = "%6.0f %6.0f %6.0f %6.0f" % (
                x["resp_us_req"], x["web_us_req"], x["pg_us_req"],
                x["wrk_us_req"])
        else:
            cpu = "%6s %6s %6s %6s" % ("-", "-", "-", "-")
        out("%-34s %-8s %5d %9.0f %8.2f %8.2f %7d %8s %s%s" % (
            r["mode"], r["server"], r["conns"], x["rps"],
            x["p50_us"] / 1000.0, x["p99_us"] / 1000.0, bad,
            "%.2f" % r["ratio"] if r["ratio"] is not None else "-",
            cpu, "  VOID" if x["void"] else ""))


def targets(rig):
    out = rig.out
    out("")
    out("== targets ==")
    for line in rig.targets:
        out(line)
    voids = [r for r in rig.rows if r["res"]["void"]]
    out("  void runs (non-200, socket errors or stalled): %d" % len(voids))
