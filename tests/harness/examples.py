"""examples — the shipped example configurations, with a site's values.

The test suite, the benchmark and `make run` (scripts/dev-stack) run the
very files an administrator copies (lighttpd.conf.example,
apache.conf.example, nginx.conf.example), changing only what the files
say is the site's to change: paths, port, database URL, secret file, the
number of processes.  Each of those edits is made here and nowhere else,
and each must find its place in the file exactly as expected: a renamed
setting is an error, so the examples and their users cannot drift apart
silently.

The spawn-fcgi commands are not invented either: they are the examples'
own comment blocks between "# spawn-fcgi command ...:" and "# (end)", so
the command the documentation shows is the command that runs.

Run as a program (by scripts/dev-stack) it prints lighttpd.conf.example
rendered, or the programs it spawns; see USAGE.
"""

import os
import re
import shlex
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
LIGHTTPD = os.path.join(ROOT, "lighttpd.conf.example")
APACHE = os.path.join(ROOT, "apache.conf.example")
NGINX = os.path.join(ROOT, "nginx.conf.example")
SESSION_PATH = "/api/agent/v1/session/create/"

# The values the examples ship with, replaced by a site's own.
DEFAULT_RUNDIR = "/run/otas-fcgi"
DEFAULT_LIBEXEC = "/usr/local/lib/otas-fcgi"
DEFAULT_LISTEN = "127.0.0.1:8000"
DEFAULT_NGINX_LOGDIR = "/var/log/nginx"
DEFAULT_AUTHZ_PORT = "8001"

SPAWN_FCGI = "/usr/bin/spawn-fcgi"
MULTIWATCH = "/usr/bin/multiwatch"
SPAWN_FCGI_BLOCK = re.compile(
    r"^[ \t]*# spawn-fcgi command\b(?: \([^)\n]*\))?:[ \t]*\n(.*?)"
    r"^[ \t]*# \(end\)[ \t]*$", re.MULTILINE | re.DOTALL)
MAX_PROCS = re.compile(r'("max-procs"\s*=>\s*)\d+')


def read(path):
    with open(path) as f:
        return f.read()


def replace_all(text, old, new, what):
    """Replaces every occurrence of old, of which there must be one."""
    if old not in text:
        raise ValueError("%s: %r not found" % (what, old))
    return text.replace(old, new)


# --- lighttpd ------------------------------------------------------------

def lighttpd_literal(old, value):
    """value as a lighttpd literal of the type the example gives the
    setting (a number stays a number, anything else is a string)."""
    if re.fullmatch(r"\d+", old.strip()):
        return str(int(value))
    return '"%s"' % str(value).replace("\\", "\\\\").replace('"', '\\"')


def lighttpd(settings, extra_env=None, max_procs=None):
    """lighttpd.conf.example with each `var.otas_NAME = ...` line given
    settings[NAME]; extra_env: OTAS_* lines added to every program's
    bin-environment; max_procs: the session endpoint's process count."""
    text = read(LIGHTTPD)
    for name, value in settings.items():
        pattern = re.compile(r"^(var\.otas_%s\s*=)(.*)$" % re.escape(name),
                             re.MULTILINE)
        text, n = pattern.subn(lambda m: "%s %s" % (
            m.group(1), lighttpd_literal(m.group(2), value)), text)
        if n != 1:
            raise ValueError("lighttpd.conf.example: var.otas_%s found %d "
                             "times" % (name, n))
    extra_env = dict(extra_env or {})
    for name in list(extra_env):
        # A setting the example already gives takes the new value.
        pattern = re.compile(r'^(\s*"%s"\s*=>\s*)"[^"\n]*",$'
                             % re.escape(name), re.MULTILINE)
        text, n = pattern.subn(lambda m: '%s"%s",' % (
            m.group(1), extra_env[name]), text)
        if n:
            del extra_env[name]
    if extra_env:
        anchor = '"OTAS_JWT_SECRET_FILE" => var.otas_jwt_secret_file,'
        lines = "".join('\n\t\t\t"%s" => "%s",' % kv
                        for kv in sorted(extra_env.items()))
        text = replace_all(text, anchor, anchor + lines,
                           "lighttpd.conf.example")
    if max_procs is not None:
        # The first max-procs after otas-session's bin-path is its own
        # (the other programs have theirs).
        at = text.find('/otas-session"')
        m = MAX_PROCS.search(text, max(at, 0))
        if at < 0 or m is None:
            raise ValueError("lighttpd.conf.example: no max-procs for "
                             "otas-session")
        text = text[:m.start()] + m.group(1) + str(max_procs) + \
            text[m.end():]
    return text


def lighttpd_session_procs():
    """The session endpoint's max-procs in lighttpd.conf.example."""
    text = read(LIGHTTPD)
    m = MAX_PROCS.search(text, max(text.find('/otas-session"'), 0))
    if m is None:
        raise ValueError("lighttpd.conf.example: no max-procs for "
                         "otas-session")
    return int(m.group(0)[len(m.group(1)):])


def lighttpd_programs():
    """The programs lighttpd.conf.example spawns (its bin-path lines)."""
    return re.findall(r'var\.otas_libexec\s*\+\s*"/([A-Za-z0-9_-]+)"',
                      read(LIGHTTPD))


# --- Apache --------------------------------------------------------------

APACHE_MODES = ("fcgid", "proxy_fcgi", "cgi")


def apache(mode, settings, extra_env, authz_port=None):
    """apache.conf.example with exactly `Define otas_mode_<mode>` active,
    each `Define otas_NAME "value"` given settings[NAME] (authz_port is
    otas_authz_port's), and extra OTAS_* settings added the way each mode
    passes settings (FcgidInitialEnv or SetEnv)."""
    text = read(APACHE)
    for m in APACHE_MODES:
        pattern = re.compile(r"^#?Define otas_mode_%s$" % m, re.MULTILINE)
        line = ("" if m == mode else "#") + "Define otas_mode_" + m
        text, n = pattern.subn(line, text)
        if n != 1:
            raise ValueError("apache.conf.example: mode line otas_mode_%s "
                             "found %d times" % (m, n))
    settings = dict(settings)
    if authz_port is not None:
        settings["authz_port"] = str(authz_port)
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
        anchor = re.compile(r"^(\s*)%s\s+OTAS_JWT_SECRET_FILE\s+"
                            r'"\$\{otas_jwt_secret_file\}"$' % directive,
                            re.MULTILINE)
        m = anchor.search(text)
        if not m:
            raise ValueError("apache.conf.example: no %s "
                             "OTAS_JWT_SECRET_FILE line" % directive)
        lines = "".join('\n%s%s %s "%s"' % (m.group(1), directive, k, v)
                        for k, v in sorted(extra_env.items()))
        text = text[:m.end()] + lines + text[m.end():]
    return text


# --- nginx ---------------------------------------------------------------

def nginx(port, rundir, logdir, text=None):
    """nginx.conf.example (or text, a copy of it) with its literal site
    values replaced."""
    what = "nginx.conf.example"
    text = read(NGINX) if text is None else text
    text = replace_all(text, "listen %s;" % DEFAULT_LISTEN,
                       "listen 127.0.0.1:%d;" % port, what)
    text = replace_all(text, DEFAULT_RUNDIR + "/", rundir + "/", what)
    text = replace_all(text, DEFAULT_NGINX_LOGDIR + "/", logdir + "/", what)
    return text


# --- spawn-fcgi commands -------------------------------------------------

def spawn_fcgi_commands(example):
    """argv of every documented spawn-fcgi command of an example
    (continuation backslashes joined, comment marks removed)."""
    out = []
    for m in SPAWN_FCGI_BLOCK.finditer(read(example)):
        words = []
        for line in m.group(1).splitlines():
            line = line.strip().lstrip("#").strip()
            if line.endswith("\\"):
                line = line[:-1].rstrip()
            words.append(line)
        out.append(shlex.split(" ".join(words)))
    return out


def spawn_fcgi_command(example, program):
    """The example's documented command that runs program."""
    for argv in spawn_fcgi_commands(example):
        if argv and os.path.basename(argv[-1]) == program:
            return argv
    raise ValueError("%s: no spawn-fcgi command for %s"
                     % (os.path.basename(example), program))


def render_spawn_fcgi(argv, rundir, libexec, env, port=None, procs=None):
    """The documented command with a site's values: each OTAS_*=... word
    gets env's value (OTAS_THREADS and OTAS_METRICS_FILE keep the
    documented one, below rundir, when env has none); a command that takes settings also gets env's other
    OTAS_* settings, before spawn-fcgi; the default paths become rundir
    and libexec; port replaces the documented TCP port.  procs > 1 runs
    that many copies under `multiwatch -f procs --`, the way the nginx
    example says to run more than one."""
    named = {w.partition("=")[0] for w in argv
             if w.startswith("OTAS_") and "=" in w}
    env = dict(env)
    for word in argv:
        name, _, value = word.partition("=")
        if name in ("OTAS_THREADS", "OTAS_METRICS_FILE"):
            env.setdefault(name, value.replace(DEFAULT_RUNDIR, rundir))
    missing = named - set(env)
    if missing:
        raise ValueError("no value for %s" % ", ".join(sorted(missing)))
    out = []
    for word in argv:
        name, eq, _ = word.partition("=")
        if eq and name in named:
            word = "%s=%s" % (name, env[name])
        elif word == "spawn-fcgi":
            if named:
                out.extend("%s=%s" % kv for kv in sorted(env.items())
                           if kv[0] not in named)
            word = SPAWN_FCGI
        else:
            word = word.replace(DEFAULT_RUNDIR, rundir)
            word = word.replace(DEFAULT_LIBEXEC, libexec)
            if port is not None and word == DEFAULT_AUTHZ_PORT:
                word = str(port)
        out.append(word)
    if out[:2] != ["env", "-i"] or "-n" not in out or out[-2] != "--":
        raise ValueError("not `env -i ... spawn-fcgi -n ... -- program`: "
                         "%r" % out)
    if procs is not None and procs > 1:
        out[-1:] = [MULTIWATCH, "-f", str(procs), "--", out[-1]]
    return out


USAGE = """usage: examples.py lighttpd NAME=VALUE... [ENV:OTAS_NAME=VALUE...]
       examples.py programs"""


def main(args):
    """`lighttpd`: lighttpd.conf.example with var.otas_NAME = VALUE (and
    OTAS_NAME=VALUE in bin-environment), on stdout; `programs`: the
    programs it spawns, one line."""
    if args[:1] == ["programs"] and len(args) == 1:
        print(" ".join(lighttpd_programs()))
        return
    if args[:1] != ["lighttpd"]:
        sys.exit(USAGE)
    settings, env = {}, {}
    for arg in args[1:]:
        name, eq, value = arg.partition("=")
        if not eq:
            sys.exit("examples.py: %r is not NAME=VALUE" % arg)
        if name.startswith("ENV:"):
            env[name[4:]] = value
        else:
            settings[name] = value
    try:
        sys.stdout.write(lighttpd(settings, env))
    except ValueError as e:
        sys.exit("examples.py: %s" % e)


if __name__ == "__main__":
    main(sys.argv[1:])
