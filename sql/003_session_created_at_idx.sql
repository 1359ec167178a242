-- 003: an index on agent_session.created_at, so `otas-admin session purge`
-- finds the sessions past their retention in small batches instead of
-- scanning the whole table for each one.  Sessions arrive in time order,
-- so the index grows at its right edge only: one cheap insert per session.
--
-- On a large existing table this CREATE INDEX blocks inserts while it is
-- built.  Build it beforehand without blocking, under the same name, and
-- this migration then finds it and does nothing:
--     CREATE INDEX CONCURRENTLY agent_session_created_at_idx
--         ON agent_session (created_at);

CREATE INDEX IF NOT EXISTS agent_session_created_at_idx
    ON agent_session (created_at);
