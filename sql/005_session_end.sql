-- 005: sessions can end before their token expires, and every authorizer
-- in database mode learns of it at once.
--
-- ended_at: when the session was ended (POST .../session/end/, otas-admin
-- session end, key revoke --end-sessions); NULL while it runs.  Nullable
-- and without a default, so the original backend's code, which knows
-- nothing of it, inserts and reads agent_session as before.
--
-- agent_session_agent_key_id_idx: key revoke --end-sessions finds a key's
-- open sessions by agent_key_id.  On a large table this CREATE INDEX
-- blocks inserts while it is built; build it beforehand with
--     CREATE INDEX CONCURRENTLY agent_session_agent_key_id_idx
--         ON agent_session (agent_key_id) WHERE ended_at IS NULL;
-- after adding the column, and this migration then finds it.
--
-- The triggers send NOTIFY otas_revoke in the transaction that ends a
-- session or disables (or deletes) an agent, whoever makes the change —
-- otas-fcgi or the original backend — so otas-authz processes, which
-- LISTEN, drop what their cache remembers of it when the change commits.
-- The payload names what changed: "s:<session id>" or "a:<agent id>".
-- NOTIFY is only delivered by the primary, to listeners connected to it.

ALTER TABLE agent_session ADD COLUMN IF NOT EXISTS ended_at timestamptz NULL;

CREATE INDEX IF NOT EXISTS agent_session_agent_key_id_idx
    ON agent_session (agent_key_id) WHERE ended_at IS NULL;

CREATE OR REPLACE FUNCTION otas_notify_session_end() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('otas_revoke', 's:' || NEW.id::text);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION otas_notify_agent_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('otas_revoke', 'a:' || OLD.id::text);
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS otas_session_end_notify ON agent_session;
CREATE TRIGGER otas_session_end_notify
    AFTER UPDATE OF ended_at ON agent_session
    FOR EACH ROW WHEN (NEW.ended_at IS DISTINCT FROM OLD.ended_at)
    EXECUTE FUNCTION otas_notify_session_end();

-- Only a change that can shut sessions out: enabling an agent needs no
-- notice, since a refusal is never remembered.
DROP TRIGGER IF EXISTS otas_agent_disable_notify ON agent;
CREATE TRIGGER otas_agent_disable_notify
    AFTER UPDATE OF is_active ON agent
    FOR EACH ROW WHEN (OLD.is_active AND NOT NEW.is_active)
    EXECUTE FUNCTION otas_notify_agent_change();

DROP TRIGGER IF EXISTS otas_agent_delete_notify ON agent;
CREATE TRIGGER otas_agent_delete_notify
    AFTER DELETE ON agent
    FOR EACH ROW EXECUTE FUNCTION otas_notify_agent_change();
