-- Users, sessions, the audit log and databases: the foundation the features build on.

CREATE TABLE users (
    id              UUID PRIMARY KEY,
    username        TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    email           TEXT,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'developer', 'customer')),
    -- argon2id PHC string; NULL for users who only sign in through SSO.
    password_hash   TEXT,
    oidc_issuer     TEXT,
    oidc_subject    TEXT,
    disabled        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    last_sign_in_at TIMESTAMPTZ,
    UNIQUE (oidc_issuer, oidc_subject)
);
-- Usernames are unique regardless of case, as on SQLite (COLLATE NOCASE).
CREATE UNIQUE INDEX users_username_key ON users (LOWER(username));

-- Sessions are looked up by the SHA-256 of their token: the token itself is never stored.
CREATE TABLE sessions (
    token_hash     TEXT PRIMARY KEY,
    user_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     TIMESTAMPTZ NOT NULL,
    last_seen_at   TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    client_address TEXT,
    user_agent     TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE audit_events (
    id             BIGSERIAL PRIMARY KEY,
    at             TIMESTAMPTZ NOT NULL,
    actor_id       UUID,
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
CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

CREATE TABLE databases (
    id         UUID PRIMARY KEY,
    owner_id   UUID NOT NULL REFERENCES users (id),
    name       TEXT NOT NULL,
    engine     TEXT NOT NULL CHECK (engine IN ('cassandra', 'postgresql')),
    tier       TEXT NOT NULL,
    region     TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (owner_id, name)
);
CREATE INDEX databases_by_owner ON databases (owner_id, created_at);
CREATE INDEX databases_by_status ON databases (status);
