-- Sessions, keyed by the SHA-256 of their token: the token itself is never stored.
--
-- Deleting a session ends it (ended_at) rather than removing its row: the ended
-- row keeps a late copy of the session (from a cache tier) from bringing it back.
-- purge_expired removes rows, ended or not, once they would have expired anyway.
-- cache_pending marks ended sessions that a cache tier may still hold: set by
-- the statement that ends a session, cleared once a tiered store has ended it
-- there too. user_* is the session's snapshot of its
-- user (NULL in sessions copied from records written before snapshots existed).
CREATE TABLE sessions (
    token_hash          bytea       PRIMARY KEY CHECK (length(token_hash) = 32),
    id                  uuid        NOT NULL,
    user_id             uuid        NOT NULL,
    created_at          timestamptz NOT NULL,
    last_seen_at        timestamptz NOT NULL,
    idle_expires_at     timestamptz NOT NULL,
    absolute_expires_at timestamptz NOT NULL,
    expires_at          timestamptz GENERATED ALWAYS AS (LEAST(idle_expires_at, absolute_expires_at)) STORED,
    ip                  text        CHECK (length(ip) <= 64),
    user_agent          text        CHECK (length(user_agent) <= 1024),
    user_email          text        CHECK (length(user_email) <= 254),
    user_verified       boolean,
    user_created_at     timestamptz,
    ended_at            timestamptz,
    cache_pending       boolean     NOT NULL DEFAULT false
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id, created_at);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
CREATE INDEX sessions_cache_pending_idx ON sessions (ended_at) WHERE cache_pending;
CREATE INDEX sessions_ended_at_idx ON sessions (ended_at) WHERE ended_at IS NOT NULL;
