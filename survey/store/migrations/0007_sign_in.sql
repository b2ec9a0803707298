-- Sign-in hardening (issue 6, item 7).
--
-- Failed sign-ins are counted here, in the database, so that the limits hold across
-- workers and processes. A row is one refused password check: the name as typed (it may
-- name no user) and the client address, never the password. Rows older than the window
-- are pruned by the sign-in itself; the audit log keeps the lasting record.
CREATE TABLE login_failure (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    username text NOT NULL,
    address text NOT NULL
);
CREATE INDEX login_failure_username_idx ON login_failure (username, at);
CREATE INDEX login_failure_address_idx ON login_failure (address, at);
CREATE INDEX login_failure_at_idx ON login_failure (at);

-- New audit actions: a refused sign-in, a sign-out and a revoked token. The allowed set
-- is the one in force plus these, so that another migration that added its own actions
-- to this constraint keeps them.
DO $$
DECLARE
    allowed text[];
BEGIN
    SELECT array_agg(DISTINCT value ORDER BY value) INTO allowed
    FROM (
        SELECT (regexp_matches(pg_get_constraintdef(c.oid), '''([a-z_]+)''', 'g'))[1] AS value
        FROM pg_constraint c
        WHERE c.conrelid = 'audit_log'::regclass AND c.conname = 'audit_log_action_check'
        UNION
        SELECT unnest(ARRAY['login_failed', 'logout', 'revoke'])
    ) AS actions;
    ALTER TABLE audit_log DROP CONSTRAINT IF EXISTS audit_log_action_check;
    EXECUTE format('ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check '
                   'CHECK (action = ANY (%L::text[]))', allowed);
END
$$;
