"""replication — a primary and a synchronous standby, as an operator sets
them up for failover: the standby is a pg_basebackup -R copy of the
primary (standby.signal and primary_conninfo written by pg_basebackup),
and the primary waits for it at every commit (synchronous_standby_names
set once the standby streams, synchronous_commit on), so a session acknowledged by the primary is on the
standby too.  The schema is migrated on the primary before the copy.

The standby does not name a synchronous standby of its own: once promoted
it commits alone, as a promoted standby must until a new one follows it.
"""

import time

from harness import postgres

# Commits wait for the standby (the suite's FAST settings turn that off).
SYNCHRONOUS = {"synchronous_commit": "on", "wal_level": "replica",
               "max_wal_senders": "4", "hot_standby": "on"}


class Pair:
    """primary and standby: postgres.Postgres clusters in basedir."""

    def __init__(self, basedir):
        self.primary = postgres.Postgres(basedir, name="primary",
                                         settings=SYNCHRONOUS)
        self.standby = postgres.Postgres(basedir, name="standby",
                                         settings=SYNCHRONOUS)

    def start(self, build):
        self.primary.init()
        self.primary.start()
        self.primary.create_database()
        self.primary.migrate(build)
        self.primary.allow_runtime_login()
        # pg_basebackup starts with a checkpoint, spread over minutes
        # unless there is nothing left to write.
        self.primary.query("CHECKPOINT")
        self.standby.init_standby(self.primary)
        self.standby.start()
        # Only now: with no standby yet, every commit would wait forever.
        self.primary.query("ALTER SYSTEM SET synchronous_standby_names"
                           " = '*'")
        self.primary.query("SELECT pg_reload_conf()")
        self.wait_synchronous()
        return self

    def stop(self):
        try:
            self.standby.destroy()
        finally:
            self.primary.destroy()

    def url(self, *, attrs="read-write", first="primary",
            user=postgres.RUNTIME_ROLE):
        """A libpq multi-host URL naming both servers, first one first,
        for the programs' role."""
        order = [self.primary, self.standby]
        if first == "standby":
            order.reverse()
        hosts = ",".join("127.0.0.1:%d" % pg.port for pg in order)
        return "postgresql://%s@%s/%s?target_session_attrs=%s" % (
            user, hosts, self.primary.dbname, attrs)

    def wait_synchronous(self, timeout=30):
        """Until the primary reports the standby as its synchronous one."""
        deadline = time.monotonic() + timeout
        while self.primary.scalar(
                "SELECT count(*) FROM pg_stat_replication"
                " WHERE sync_state = 'sync'") != 1:
            if time.monotonic() > deadline:
                raise RuntimeError("standby not synchronous after %ds:\n%s"
                                   % (timeout, self.standby.log_tail()))
            time.sleep(0.1)

    def promote(self, timeout=30):
        """Makes the standby the primary and waits until it takes writes."""
        self.standby.query("SELECT pg_promote(true, %s)", (timeout,))
        deadline = time.monotonic() + timeout
        while self.standby.scalar("SELECT pg_is_in_recovery()"):
            if time.monotonic() > deadline:
                raise RuntimeError("standby not promoted after %ds"
                                   % timeout)
            time.sleep(0.1)

    def pause_replay(self):
        self.standby.query("SELECT pg_wal_replay_pause()")

    def resume_replay(self):
        self.standby.query("SELECT pg_wal_replay_resume()")
