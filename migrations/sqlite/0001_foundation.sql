-- Users, sessions, the audit log and databases: the foundation the features build on.
-- Identifiers are UUIDs (16-byte blobs here); times are UTC RFC 3339 text.

CREATE TABLE users (
    id              BLOB PRIMARY KEY NOT NULL,
    username        TEXT NOT NULL COLLATE NOCASE UNIQUE,
    display_name    TEXT NOT NULL,
    email           TEXT,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'developer', 'customer')),
    -- argon2id PHC string; NULL for users who only sign in through SSO.
    password_hash   TEXT,
    oidc_issuer     TEXT,
    oidc_subject    TEXT,
    disabled        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    last_sign_in_at TEXT,
    UNIQUE (oidc_issuer, oidc_subject)
);

-- Sessions are looked up by the SHA-256 of their token: the token itself is never stored.
CREATE TABLE sessions (
    token_hash     TEXT PRIMARY KEY NOT NULL,
    user_id        BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     TEXT NOT NULL,
    last_seen_at   TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    client_address TEXT,
    user_agent     TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE audit_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             TEXT NOT NULL,
    actor_id       BLOB,
    actor_name     TEXT NOT NULL,
    client_address TEXT,
    action         TEXT NOT NULL,
    target         TEXT NOT NULL,
    outcome        TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    -- A small JSON object: before/after summaries, never a secret.
    details        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_by_actor ON audit_events (actor_name, id);
CREATE INDEX audit_events_by_action ON audit_events (action, id);
CREATE INDEX audit_events_by_at ON audit_events (at);

-- The audit log is append-only, enforced by the database itself.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;

CREATE TABLE databases (
    id         BLOB PRIMARY KEY NOT NULL,
    owner_id   BLOB NOT NULL REFERENCES users (id),
    name       TEXT NOT NULL,
    engine     TEXT NOT NULL CHECK (engine IN ('cassandra', 'postgresql')),
    tier       TEXT NOT NULL,
    region     TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (owner_id, name)
);
CREATE INDEX databases_by_owner ON databases (owner_id, created_at);
CREATE INDEX databases_by_status ON databases (status);
