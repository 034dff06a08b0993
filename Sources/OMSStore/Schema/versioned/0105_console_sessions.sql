-- 0105 Console sessions (issue 16): an operator signs in to the browser console
-- with an API key once and works with a session cookie from then on, so that
-- the key never sits in the page's storage.
--
-- * A session belongs to the key it was opened with: it grants that key's
--   scopes, and ends when the key is revoked (checked on every use, and
--   announced at once: oms_api_key_revoke's notification ends the key's
--   sessions and streams in every instance).
-- * Only the SHA-256 of the session's token is kept (as for keys): a copy of
--   the database opens no session. The token is 32 random bytes made by the
--   service; the CSRF token the page sends with each action is derived from it
--   by the service (never stored).
-- * A session has an absolute end (expires_at, set when it opens from the
--   service's --session-hours) and ends earlier when signed out (ended_at).
--   Ended rows stay: who was signed in, from where, until when.

CREATE TABLE oms_console_sessions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_sha256  bytea NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
    key_id        uuid NOT NULL REFERENCES oms_api_keys (id),
    client        text NOT NULL DEFAULT '' CHECK (length(client) <= 200),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    ended_at      timestamptz,
    CONSTRAINT oms_console_sessions_period_check CHECK (expires_at > created_at)
);
COMMENT ON TABLE oms_console_sessions IS
    'Browser console sessions: opened with an API key (its scopes, while it is in force), until expires_at or sign-out (ended_at). Only the token''s SHA-256 is kept.';
CREATE INDEX oms_console_sessions_key_idx ON oms_console_sessions (key_id) WHERE ended_at IS NULL;
