-- 004: per-agent limits on session creation (see otas-session(8), RATE
-- LIMITS).  Two tables of our own, never columns on the original backend's
-- tables: on an original OTAS database this migration changes nothing
-- else, and the Django backend keeps working beside it.
--
-- otas_rate_limit is what `otas-admin agent limit` sets: an agent's own
-- limit (quota 0: none at all, whatever OTAS_SESSION_RATE says).  An agent
-- without a row gets OTAS_SESSION_RATE.  Read-only for the programs.
--
-- otas_rate_state is the limiter's state, written only by otas-session in
-- the statement that inserts the session (GCRA: tat is the theoretical
-- arrival time, admitted what that statement let through).  One row per
-- agent that has been limited; the row is its lock, so every process on
-- every host counts exactly.  Updated on every limited request: fillfactor
-- leaves room for HOT updates.  Logged on purpose: a crash or a failover
-- does not hand every agent a fresh burst.

CREATE TABLE IF NOT EXISTS otas_rate_limit (
    agent_id        uuid PRIMARY KEY REFERENCES agent (id) ON DELETE CASCADE,
    quota           integer NOT NULL CHECK (quota >= 0),  -- per window; 0: off
    window_seconds  integer NOT NULL CHECK (window_seconds > 0),
    burst           integer NOT NULL CHECK (burst >= 1),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS otas_rate_state (
    agent_id        uuid PRIMARY KEY REFERENCES agent (id) ON DELETE CASCADE,
    tat             timestamptz NOT NULL,
    admitted        integer NOT NULL DEFAULT 0
) WITH (fillfactor = 70);
