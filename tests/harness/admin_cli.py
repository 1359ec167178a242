"""admin_cli — running otas-admin as an operator does, for every test file
that needs it: the verdict helpers (ok, ok_json, failed) and fresh empty
databases in the session's cluster.  The fixtures built on these (run,
admin_bin, fresh_db) are in conftest.py.
"""

import json
import os
import subprocess
import uuid

from harness import processes
from harness import stack

SQL_DIR = os.path.join(stack.ROOT, "sql")


def run_admin(admin_bin, default_url, *args, url=None, env=None,
              sql_dir=SQL_DIR, user=None):
    """otas-admin with a clean environment: no OTAS_* or PG* variable of
    the caller's, OTAS_DATABASE_URL (default_url unless url), OTAS_SQL_DIR
    unless sql_dir is None, plus env.  user: run as that system user."""
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("OTAS_", "PG"))}
    e["OTAS_DATABASE_URL"] = url or default_url
    if sql_dir is not None:
        e["OTAS_SQL_DIR"] = sql_dir
    e.update(env or {})
    return subprocess.run([admin_bin] + list(args), env=e, user=user,
                          capture_output=True, text=True, timeout=60)


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r


def ok_json(r):
    ok(r)
    return json.loads(r.stdout)


def failed(r, code, words=(), quiet=True):
    """Exit status code and exactly one line on stderr, which names the
    problem; nothing on stdout (unless not quiet: migrate reports the files
    it applied before the one that failed)."""
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("otas-admin: "), lines[0]
    for w in words:
        assert w in lines[0], (w, lines[0])
    if quiet:
        assert r.stdout == ""
    return lines[0]


def dead_url():
    return "postgresql://postgres@127.0.0.1:%d/otas" % processes.free_port()


class FreshDb:
    """An empty database of the session's cluster; drop() removes it."""

    def __init__(self, pg):
        self.pg = pg
        self.name = "adm_" + uuid.uuid4().hex[:12]
        self.url = "postgresql://postgres@127.0.0.1:%d/%s" % (pg.port,
                                                              self.name)
        with pg.connect("postgres") as conn:
            conn.cursor().execute("CREATE DATABASE %s" % self.name)

    def drop(self):
        with self.pg.connect("postgres") as conn:
            conn.cursor().execute("DROP DATABASE %s WITH (FORCE)" %
                                  self.name)

    def query(self, sql, args=()):
        return self.pg.query(sql, args, self.name)

    def scalar(self, sql, args=()):
        return self.pg.scalar(sql, args, self.name)

    def exists(self, relation):
        return self.scalar("SELECT to_regclass(%s) IS NOT NULL",
                           (relation,))

    def versions(self):
        return [v for (v,) in self.query(
            "SELECT version FROM otas_schema_migrations ORDER BY version")]


class OneUserDb(FreshDb):
    """An empty database owned by a login role of its own that is no
    superuser and may create no role: what a shared host gives a customer
    (one database user).  url connects as that user; drop() removes the
    database, then the role."""

    def __init__(self, pg):
        super().__init__(pg)
        self.user = self.name + "_user"
        password = uuid.uuid4().hex
        # Loopback is trust in the suite's cluster: the password is there
        # because the URL a host gives always has one.
        self.url = "postgresql://%s:%s@127.0.0.1:%d/%s" % (
            self.user, password, pg.port, self.name)
        with pg.connect("postgres") as conn:
            cur = conn.cursor()
            cur.execute("CREATE ROLE %s LOGIN NOSUPERUSER NOCREATEROLE"
                        " NOCREATEDB PASSWORD %%s" % self.user, (password,))
            # PostgreSQL 15: the database's owner owns its public schema.
            cur.execute("ALTER DATABASE %s OWNER TO %s" % (self.name,
                                                           self.user))

    def drop(self):
        super().drop()
        with self.pg.connect("postgres") as conn:
            conn.cursor().execute("DROP ROLE IF EXISTS %s" % self.user)
