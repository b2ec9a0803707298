-- Accounts (issue 8, item 3) and reading the audit log (item 5).
--
-- A long-lived token for a field device or a script carries a name ("tablet 7"), so that
-- an admin can tell which one to revoke; a session token from a sign-in has none. Both
-- are kept as the SHA-256 of the token only, as before.
ALTER TABLE api_token ADD COLUMN name text
    CHECK (name IS NULL OR (length(name) BETWEEN 1 AND 100 AND name !~ '[[:cntrl:]]'));
CREATE INDEX api_token_named_idx ON api_token (user_id, created_at) WHERE name IS NOT NULL;

-- The audit log is read newest first in pages keyed on its id: a coordinator reads its
-- programme's rows, anyone may filter on the actor. (entity, entity_id) and at are
-- indexed already.
CREATE INDEX audit_log_programme_id_idx ON audit_log (programme_id, id);
CREATE INDEX audit_log_actor_id_idx ON audit_log (actor, id);
