"""The guides of doc/ followed as written: database-roles.md, failover.md
(a synchronous standby, then PgBouncer) and web-servers.md.

Each test runs a guide's ```sh blocks in order, each by `sh -e` as root
(the guides' commands are root's on Debian 12), against the real
components: a PostgreSQL 15 cluster run as postgres, asking passwords of
every role but postgres on 127.0.0.1 as Debian's does; a real streaming
standby; real PgBouncer, lighttpd, nginx.  What differs from the guide's
host, and only that, is filled in (guide.fill): the database's port (the
guide's 5432), the guide's directories under /etc and /run (a private
directory each), the passwords, the site URL, and the key the guide's own
`agent create` printed.  Where a guide says "start the server" (its
service, or a command it leaves running), the test starts that server as
its own child, so that every process is stopped by PID however the test
ends; the psql and createdb of the guide reach the private cluster by
PGHOST/PGPORT, as they would reach Debian's own on its default socket.
`otas-admin` on PATH is the build's, finding the checkout's migrations
as an installed one finds its own.  Each walk ends with the seed's curl
answered 200 and the session's row in agent_session.
"""

import contextlib
import json
import os
import re
import secrets
import shlex
import shutil
import string
import subprocess

import pytest

from harness import examples
from harness import guide
from harness import postgres
from harness import pgbouncer_server
from harness import processes
from harness import replication
from harness import servers_apache_nginx as san
from harness import stack

pytestmark = pytest.mark.skipif(not stack.Lighttpd.available(),
                                reason="lighttpd is not installed")

GUIDE_PORT = "5432"
PASSWORDS = ("OWNER-PASSWORD", "RUNTIME-PASSWORD", "REPLICATION-PASSWORD")
# A guide's values that are the site's: each must be filled in.
GUIDE_PATHS = ("/etc/otas-fcgi", "/run/otas-fcgi", "/etc/postgresql",
               "/var/lib/postgresql", "/etc/pgbouncer", "/etc/lighttpd",
               "/var/www/", "/usr/local/", "10.0.0.", "6432", ":8000")
# One command of a block: a line and its continuation lines.
COMMAND = re.compile(r"^(?:[^\n]*\\\n)*[^\n]*$", re.MULTILINE)
# Every role but postgres gives its password on 127.0.0.1, as on Debian
# (its pg_hba.conf: scram-sha-256 for host connections); postgres, the
# test's own, is trusted on loopback and its socket.
PG_HBA = """local all all trust
host all postgres 127.0.0.1/32 trust
host replication postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
"""


def password():
    # Letters only: no run of digits in a password can pass for a port.
    return "".join(secrets.choice(string.ascii_letters) for _ in range(20))


class Site:
    """One host of a guide: a private root (standing for /etc/otas-fcgi
    and root's HOME), the values filled into the guide's blocks, and the
    environment its commands run in."""

    def __init__(self, base, build, sql_dir, pg):
        self.base = base
        self.etc = os.path.join(base, "etc-otas-fcgi")
        self.home = os.path.join(base, "root")
        self.bin = os.path.join(base, "bin")
        for d in (self.home, self.bin):
            os.makedirs(d, mode=0o700)
        os.chmod(self.bin, 0o755)
        # otas-admin as installed: finding its migrations by itself.
        admin = os.path.join(self.bin, "otas-admin")
        with open(admin, "w") as f:
            f.write('#!/bin/sh\nOTAS_SQL_DIR=%s exec %s "$@"\n' % (
                sql_dir, os.path.join(build, "otas-admin")))
        os.chmod(admin, 0o755)
        self.pg = pg
        self.values = {"/etc/otas-fcgi": self.etc}
        self.values.update({p: password() for p in PASSWORDS})
        self.outputs = []

    def env(self, pg=None):
        pg = pg or self.pg
        return {"PATH": self.bin + ":/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME": self.home, "LANG": "C.UTF-8",
                "PGHOST": "127.0.0.1", "PGPORT": str(pg.port)}

    def fill(self, block, more=None):
        """block with this site's values; no guide value left over."""
        values = dict(self.values)
        values["127.0.0.1:" + GUIDE_PORT] = "127.0.0.1:%d" % self.pg.port
        values.update(more or {})
        return guide.fill_site(block, values.items(),
                               PASSWORDS + GUIDE_PATHS, GUIDE_PORT)

    def run(self, block, more=None, pg=None, services=None, timeout=120):
        """One block, filled in, by `sh -e` as root; its output.  A
        command (a line with its continuation lines) that a pattern of
        services matches in full starts or stops a service instead: the
        pattern's function is called with the command, between the parts
        of the block before and after it.  Every `systemctl` must be one
        of them."""
        script = self.fill(block, more)
        services = dict(services or {})
        out, at = "", 0
        for m in list(COMMAND.finditer(script)) + [None]:
            if m is not None:
                cmd = m.group(0).replace("\\\n", " ")
                run = [f for pat, f in services.items()
                       if re.fullmatch(pat, cmd)]
                if not run:
                    assert not cmd.startswith("systemctl "), \
                        "guide block runs %r:\n%s" % (cmd, script)
                    continue
            part = script[at:m.start() if m else len(script)]
            out += self._sh(part, pg, timeout) if part.strip() else ""
            if m is None:
                break
            run[0](cmd)
            at = m.end()
        self.outputs.append(out)
        return out

    def _sh(self, script, pg, timeout):
        r = subprocess.run(["sh", "-e", "-c", script], env=self.env(pg),
                           cwd=self.base, capture_output=True, text=True,
                           timeout=timeout)
        assert r.returncode == 0, "guide block failed (%d):\n%s\n%s%s" % (
            r.returncode, script, r.stdout[-3000:], r.stderr[-3000:])
        return r.stdout

    def settings(self, block, more=None):
        """The NAME=value settings a block gives the programs (its
        `env -i ...` line), filled in."""
        return {k: v.strip("'") for k, v in re.findall(
            r"\b((?:OTAS|PG)[A-Z_]+)=(\S+)", self.fill(block, more))}


def key_of(output):
    """The key `agent create` printed, alone on its line."""
    m = re.search(r"^(agent_\S+)$", output, re.MULTILINE)
    assert m, output
    return m.group(1)


def site_cluster(base, pg=None):
    """A private cluster (pg, not yet made), its pg_hba.conf Debian's in
    effect; started."""
    pg = pg or postgres.Postgres(base, dbname="otas")
    pg.init()
    hba = os.path.join(pg.data, "pg_hba.conf")
    with open(hba, "w") as f:
        f.write(PG_HBA)
    processes.give_to(hba, "postgres")
    pg.start()
    return pg


@pytest.fixture
def base(workdir):
    d = os.path.join(workdir, "guide-" + secrets.token_hex(4))
    os.makedirs(d)
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def serving(base, build, settings):
    """lighttpd from its example with the guide's settings for the
    programs (web-servers.md's first server), for the with block."""
    app = stack.App(build, dict(settings))
    srv = stack.start_private(stack.Lighttpd, os.path.join(base, "web"), app)
    try:
        yield srv
    finally:
        srv.stop()


def seed(key, srv):
    """What the guide's request block is run with: the key, and the URL
    of the server it asks."""
    return {"agent_...": key, "http://localhost:8000": srv.url}


def assert_rights_ok(check_output):
    """otas-admin check found the runtime role's rights as they should."""
    assert re.search(r"^rights\s+ok \(role otas_runtime\)", check_output,
                     re.MULTILINE), check_output


def assert_session_created(site, stdout, pg=None):
    """The curl's answer is the 200 JSON with a token, and the session's
    row is in agent_session, of the key's agent."""
    assert stdout.startswith("{"), stdout
    doc = json.loads(stdout)
    assert doc["status_description"] == "agent_session_created", stdout
    rows = (pg or site.pg).query(
        "SELECT s.meta::text FROM agent_session s"
        " JOIN agent a ON a.id = s.agent_id WHERE a.name = 'my-agent'"
        " ORDER BY s.created_at")
    assert rows, "no session row for the guide's agent"
    assert '"task": "summarize"' in rows[-1][0], rows


# --- database-roles.md ------------------------------------------------------

def database_roles(base, build_dir, sql_dir, pg):
    """database-roles.md's steps on pg, up to the check that creates the
    agent: the Site, the agent's key, and the guide's check and request
    blocks."""
    site = Site(base, build_dir, sql_dir, pg)
    roles, owner, files, check, request = guide.blocks(
        guide.path("database-roles.md"), "## Steps")
    site.run(roles)
    site.run(owner)
    site.run(files)
    out = site.run(check)
    assert_rights_ok(out)
    return site, key_of(out), check, request


def test_database_roles_guide_as_written_gives_the_seed_curl_200(
        base, build_dir, sql_dir):
    pg = site_cluster(base)
    try:
        site, key, check, request = database_roles(base, build_dir,
                                                   sql_dir, pg)
        # The programs get what check was given; the runtime role logs in
        # with the password of their file (scram on 127.0.0.1).
        settings = site.settings(check.split("otas-admin check")[0])
        assert set(settings) == {"OTAS_DATABASE_URL", "PGPASSFILE",
                                 "OTAS_JWT_SECRET_FILE"}, settings
        with serving(base, build_dir, settings) as srv:
            assert_session_created(site, site.run(request, seed(key, srv)))
    finally:
        pg.destroy()


# --- failover.md --------------------------------------------------------------

def test_failover_guide_standby_promoted_as_written_gives_200_again(
        base, build_dir, sql_dir):
    """The guide's primary and synchronous standby, made as it says; the
    seed's curl gets 200; the primary crashes (-m immediate), the guide's
    promotion; the same curl gets 200 from the new primary."""
    pair = replication.Pair(base)
    primary, standby = pair.primary, pair.standby
    try:
        site_cluster(base, primary)
        site, key, _, _ = database_roles(base, build_dir, sql_dir,
                                         primary)
        (repl_role, copy, sync, web, request,
         promote) = guide.blocks(guide.path("failover.md"),
                                 "## A primary and a synchronous standby")
        machines = {
            "10.0.0.1:5432": "127.0.0.1:%d" % primary.port,
            "10.0.0.2:5432": "127.0.0.1:%d" % standby.port,
            "*:5432:": "*:*:",
            "/etc/postgresql/15/main/pg_hba.conf":
                os.path.join(primary.data, "pg_hba.conf"),
            "/var/lib/postgresql/15/main": standby.data,
            "10.0.0.1": "127.0.0.1", "10.0.0.2": "127.0.0.1",
            "10.0.0.3": "127.0.0.1"}
        site.run(repl_role, machines, pg=primary)
        os.makedirs(standby.dir)
        processes.give_to(standby.dir, "postgres")
        site.run(copy, machines, pg=standby, services={
            # This machine has no cluster of its own to stop; its start
            # is the copy's, on the standby's port (standby.start()).
            r"systemctl stop postgresql@15-main": lambda cmd: None,
            r"systemctl start postgresql@15-main":
                lambda cmd: standby.start()})
        site.run(sync, machines, pg=primary)
        pair.wait_synchronous()
        assert_rights_ok(site.run(web, machines))
        settings = site.settings(web.split("otas-admin")[0], machines)
        with serving(base, build_dir, settings) as srv:
            curl = dict(machines, **seed(key, srv))
            assert_session_created(site, site.run(request, curl), primary)

            primary.stop("immediate")
            site.run(promote, machines, pg=standby)
            assert_session_created(site, site.run(request, curl), standby)
        assert standby.scalar("SELECT count(*) FROM agent_session") == 2
    finally:
        pair.stop()


def start_pgbouncer(ini, port):
    """PgBouncer as its Debian unit runs it (as postgres, the ini as its
    argument), our child; ready when its port takes connections."""
    d = os.path.dirname(ini)
    return processes.start(
        [pgbouncer_server.PGBOUNCER, ini], os.path.join(d, "pgbouncer.out"),
        lambda: processes.port_answers(port), 20, what="pgbouncer",
        user="postgres", group="postgres", cwd=d)


@pytest.mark.skipif(not os.access(pgbouncer_server.PGBOUNCER, os.X_OK),
                    reason="pgbouncer is not installed")
def test_pgbouncer_guide_as_written_gives_the_seed_curl_200(
        base, build_dir, sql_dir):
    pg = site_cluster(base)
    bouncer = None
    try:
        site, key, _, _ = database_roles(base, build_dir, sql_dir, pg)
        conf, web, request = guide.blocks(guide.path("failover.md"),
                                          "## PgBouncer in front")
        etc = os.path.join(base, "etc-pgbouncer")
        os.makedirs(etc)
        port = processes.free_port()
        here = {"/etc/pgbouncer": etc, "6432": str(port),
                "port=5432": "port=%d" % pg.port}

        def restart(cmd):
            nonlocal bouncer
            bouncer = start_pgbouncer(os.path.join(etc, "pgbouncer.ini"),
                                      port)
        site.run(conf, here,
                 services={r"systemctl restart pgbouncer": restart})
        assert_rights_ok(site.run(web, here))
        settings = site.settings(web.split("otas-admin")[0], here)
        assert settings["OTAS_DB_UNNAMED_STATEMENTS"] == "1", settings
        with serving(base, build_dir, settings) as srv:
            assert_session_created(site, site.run(request, seed(key, srv)))
    finally:
        processes.stop(bouncer)
        pg.destroy()


# --- web-servers.md -----------------------------------------------------------

WEB_GUIDE = guide.path("web-servers.md")


class WebSite:
    """web-servers.md's host after database-roles.md: the installed
    examples (the checkout's, with this machine's site values, as every
    test of the examples has them), and the servers the guide leaves
    running, each our child."""

    def __init__(self, site, build):
        self.site = site
        self.port = processes.free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        base = site.base
        self.run_dir = os.path.join(base, "run-otas-fcgi")
        self.logs = os.path.join(base, "logs")
        self.examples = os.path.join(base, "examples")
        self.lighttpd_dir = os.path.join(base, "etc-lighttpd")
        for d in (self.logs, self.examples, self.lighttpd_dir):
            os.makedirs(d)
        processes.give_to(self.logs, stack.SERVER_USER)
        self.values = {
            "/usr/local/share/doc/otas-fcgi/examples": self.examples,
            "/usr/local/lib/otas-fcgi": build,
            "/run/otas-fcgi": self.run_dir,
            "/var/www/otas-empty": os.path.join(base, "www-empty"),
            "/etc/lighttpd": self.lighttpd_dir,
        }
        self.procs = []

    def install_example(self, name, text):
        """The installed example: text with this site's own paths."""
        text = text.replace("/etc/otas-fcgi", self.site.etc)
        with open(os.path.join(self.examples, name), "w") as f:
            f.write(text)

    def start(self, what, ready):
        """A service command of the guide, started as our child."""
        def go(cmd):
            argv = shlex.split(cmd)
            self.procs.append(processes.start(
                argv, os.path.join(self.logs, "%s.out" % what), ready, 20,
                what=what, env=self.site.env(), cwd=self.site.base))
        return go

    def stop(self):
        while self.procs:
            processes.stop(self.procs.pop())

    def example_values(self):
        """The example's site settings that are the guides' values (its
        defaults), as this machine's."""
        return {"libexec": self.values["/usr/local/lib/otas-fcgi"],
                "rundir": self.run_dir,
                "database_url": "postgresql://otas_runtime@127.0.0.1:%d/otas"
                                % self.site.pg.port,
                "jwt_secret_file": os.path.join(self.site.etc,
                                                "jwt-secret")}

    def answers(self):
        return processes.http_answers(self.port)

    def walk(self, heading, key, services):
        """The steps of the guide's section heading, then its request:
        200 and the session's row."""
        (steps,) = guide.blocks(WEB_GUIDE, heading)
        self.site.run(steps, self.values, services=services)
        (request,) = guide.blocks(WEB_GUIDE, "## The request")
        assert_session_created(self.site,
                               self.site.run(request, seed(key, self)))


@pytest.fixture
def web_site(base, build_dir, sql_dir):
    """A host after database-roles.md's steps; yields (WebSite, key)."""
    pg = site_cluster(base)
    web = None
    try:
        site, key, _, _ = database_roles(base, build_dir, sql_dir, pg)
        web = WebSite(site, build_dir)
        yield web, key
    finally:
        if web is not None:
            web.stop()
        pg.destroy()


# The web-servers guide's step sections: each function installs its
# example with this site's values and returns the section's heading and
# the guide's commands that start a service (with when it is ready).

def lighttpd_section(web):
    web.install_example("lighttpd.conf.example", examples.lighttpd(dict(
        web.example_values(), port=web.port, logdir=web.logs,
        docroot=web.values["/var/www/otas-empty"])))
    return "## lighttpd (`lighttpd.conf.example`)", {
        r"lighttpd -D -f \S+": web.start("lighttpd", web.answers)}


def nginx_section(web):
    web.install_example("nginx.conf.example", examples.nginx(
        web.port, web.run_dir, web.logs))
    sock = os.path.join(web.run_dir, "session.sock")
    return "## nginx + spawn-fcgi (`nginx.conf.example`)", {
        r"env -i .* spawn-fcgi .*": web.start(
            "spawn-fcgi", lambda: os.path.exists(sock)),
        r"nginx -c \S+ -g 'daemon off;'": web.start("nginx", web.answers)}


def install_apache_example(web):
    """apache.conf.example as shipped (mode otas_mode_fcgid), this site's
    values in its settings block; the guide's sed picks another mode."""
    web.install_example("apache.conf.example", examples.apache("fcgid", dict(
        web.example_values(), listen="127.0.0.1:%d" % web.port,
        logdir=web.logs, modules=san.APACHE_MODULES,
        metrics_file=os.path.join(web.run_dir, "metrics", "otas.metrics")),
        {}, authz_port=processes.free_port()))
    return {r"apache2 -DFOREGROUND -f \S+": web.start("apache2",
                                                      web.answers)}


def apache_fcgid_section(web):
    return ("## Apache + mod_fcgid (`apache.conf.example`, "
            "`otas_mode_fcgid`)"), install_apache_example(web)


def apache_proxy_fcgi_section(web):
    sock = os.path.join(web.run_dir, "session.sock")
    return ("## Apache + mod_proxy_fcgi + spawn-fcgi "
            "(`otas_mode_proxy_fcgi`)"), dict(install_apache_example(web), **{
                r"env -i .* spawn-fcgi .*": web.start(
                    "spawn-fcgi", lambda: os.path.exists(sock))})


def apache_cgi_section(web):
    return ("## Apache + mod_cgi (`otas_mode_cgi`)",
            install_apache_example(web))


def walk(section, server, packages):
    """One section of the guide as a test case, skipped without its
    server's packages."""
    name = section.__name__[:-len("_section")].replace("_", "-")
    return pytest.param(section, id=name,
                        marks=pytest.mark.skipif(
                            server is not None and not server.available(),
                            reason=packages + " not installed"))


@pytest.mark.parametrize("section", [
    walk(lighttpd_section, None, "lighttpd"),
    walk(nginx_section, san.Nginx, "nginx or spawn-fcgi"),
    walk(apache_fcgid_section, san.ApacheFcgid, "apache2 or mod_fcgid"),
    walk(apache_proxy_fcgi_section, san.ApacheProxyFcgi,
         "apache2 or spawn-fcgi"),
    walk(apache_cgi_section, san.ApacheCgi, "apache2"),
])
def test_web_servers_guide_as_written_gives_the_seed_curl_200(web_site,
                                                              section):
    web, key = web_site
    heading, services = section(web)
    web.walk(heading, key, services)
