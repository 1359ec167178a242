-- grants: everything the programs' runtime role may do, and nothing more.
-- otas-session and otas-authz connect as this role (OTAS_RUNTIME_ROLE,
-- default otas_runtime); the tables belong to the owner, who runs
-- `otas-admin migrate`.  migrate runs this file after the numbered
-- migrations, every time, in one transaction, with otas.runtime_role and
-- otas.runtime_login set, so it must stay idempotent.  A migration that
-- adds something the programs use adds its GRANT here.
--
-- Not numbered on purpose: it is no step of the schema's history but its
-- current statement of rights, applied again on every run (so a role
-- created or renamed later gets its rights from the next migrate).

DO $grants$
DECLARE
    r text := current_setting('otas.runtime_role');
    login boolean := current_setting('otas.runtime_login')::boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user
                       AND (rolcreaterole OR rolsuper)) THEN
            RAISE EXCEPTION 'runtime role % does not exist and % may not '
                'create roles; create it first (createuser %)',
                r, current_user, r;
        END IF;
        -- NOLOGIN unless asked: a role nobody set a password for must
        -- not be a way in.
        EXECUTE format('CREATE ROLE %I %s', r,
                       CASE WHEN login THEN 'LOGIN' ELSE 'NOLOGIN' END);
    END IF;

    -- otas-session: look keys up, re-check them and their agent.
    EXECUTE format('GRANT SELECT ON agent, agent_key TO %I', r);
    -- otas-session keeps last_used_at current, and replaces a legacy slow
    -- hash by a fast one on its first use; no other column.
    EXECUTE format('GRANT UPDATE (last_used_at, hashed_key) ON agent_key'
                   ' TO %I', r);
    -- otas-session inserts sessions (RETURNING reads id and agent_id;
    -- the retry after a lost answer finds its row by id and key);
    -- otas-authz's database mode asks whether one exists and runs.  meta
    -- is not readable, and no session can be deleted.
    EXECUTE format('GRANT INSERT ON agent_session TO %I', r);
    EXECUTE format('GRANT SELECT (id, agent_id, agent_key_id)'
                   ' ON agent_session TO %I', r);
    -- 005: POST .../session/end/ sets ended_at (its only change to a
    -- session); the authorizer reads it.  A schema before 005 has no
    -- such column: nothing to grant.
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_name = 'agent_session'
               AND column_name = 'ended_at'
               AND table_schema = current_schema()) THEN
        EXECUTE format('GRANT SELECT (ended_at), UPDATE (ended_at)'
                       ' ON agent_session TO %I', r);
    END IF;
    -- Idempotency-Key: otas-session records what a key made and answers
    -- a retry from it.  otas-admin session purge expires records past
    -- their TTL also as this role (the Debian package's daily purge, with
    -- no owner's credentials): a record deleted early only lets a retry
    -- make a second session, which this role may make anyway.
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON otas_idempotency'
                   ' TO %I', r);
    -- rate limits: otas-session reads the agents' own limits (set by
    -- otas-admin agent limit) and keeps each limited agent's count, in
    -- the statement that inserts the session; it never deletes one.
    EXECUTE format('GRANT SELECT ON otas_rate_limit TO %I', r);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON otas_rate_state TO %I',
                   r);
    -- the readiness check compares the schema version (the table is
    -- otas-admin's: a schema applied by hand may lack it).
    IF to_regclass('otas_schema_migrations') IS NOT NULL THEN
        EXECUTE format('GRANT SELECT ON otas_schema_migrations TO %I', r);
    END IF;
END
$grants$;
