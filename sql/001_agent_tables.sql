-- 001: the three tables of the original OTAS backend, named and shaped as
-- its Django models made them, so otas-fcgi runs on an existing OTAS
-- database unchanged.  IF NOT EXISTS: on such a database this migration
-- finds the tables already there and only records itself as applied.
--
-- Defaults below are conveniences for hand-written SQL; the programs always
-- supply every value, because an original database has no defaults.

CREATE TABLE IF NOT EXISTS agent (
    id              uuid PRIMARY KEY,
    name            varchar(255) NOT NULL,
    description     text NOT NULL DEFAULT '',
    provider        varchar(255) NOT NULL DEFAULT '',
    project_id      uuid NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    created_by_id   bigint NULL,
    is_active       boolean NOT NULL DEFAULT true
);

CREATE TABLE IF NOT EXISTS agent_key (
    id              uuid PRIMARY KEY,
    prefix          varchar(255) NOT NULL,
    hashed_key      text NOT NULL,
    agent_id        uuid NOT NULL REFERENCES agent (id) ON DELETE CASCADE,
    name            varchar(255) NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz NULL,
    revoked_at      timestamptz NULL,
    expires_at      timestamptz NULL,
    active          boolean NOT NULL DEFAULT true
);
CREATE INDEX IF NOT EXISTS agent_key_prefix_idx ON agent_key (prefix);
CREATE INDEX IF NOT EXISTS agent_key_agent_id_idx ON agent_key (agent_id);

CREATE TABLE IF NOT EXISTS agent_session (
    id              uuid PRIMARY KEY,
    agent_id        uuid NOT NULL REFERENCES agent (id) ON DELETE CASCADE,
    agent_key_id    uuid NULL REFERENCES agent_key (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    meta            jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS agent_session_agent_id_idx
    ON agent_session (agent_id);
