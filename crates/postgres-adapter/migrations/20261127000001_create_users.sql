-- Users. Emails are stored normalised (trimmed, lower-cased) by the domain; the
-- unique index on lower(email) keeps them unique case-insensitively even for rows
-- written by hand.
CREATE TABLE users (
    id            uuid        PRIMARY KEY,
    email         text        NOT NULL CHECK (length(email) <= 254),
    password_hash text        NOT NULL,
    is_verified   boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
