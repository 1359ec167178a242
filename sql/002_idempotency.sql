-- 002: what an Idempotency-Key on POST /api/agent/v1/session/create/ made,
-- so that a create retried with the same key answers the same session and
-- the same token instead of storing a second session.
--
-- A table of our own, never a column on the original backend's tables: on
-- an original OTAS database this migration adds and changes nothing else.
-- The token is not stored (it is a credential): its claims are, and the
-- program signs them again, which gives the same bytes while the secret is
-- the same.  Records older than OTAS_IDEMPOTENCY_TTL are ignored by the
-- programs and deleted by `otas-admin session purge`.

CREATE TABLE IF NOT EXISTS otas_idempotency (
    agent_id        uuid NOT NULL REFERENCES agent (id) ON DELETE CASCADE,
    idempotency_key text NOT NULL
                    CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    request_hash    bytea NOT NULL,         -- SHA-256 of the request body
    session_id      uuid NOT NULL,          -- the session the key made
    iat             bigint NOT NULL,        -- that session's token claims
    exp             bigint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS otas_idempotency_created_at_idx
    ON otas_idempotency (created_at);
