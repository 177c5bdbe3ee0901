-- Single sign-on: the sign-in flows in progress. A flow binds the state,
-- nonce and PKCE verifier of one authorization request to the browser that
-- started it (through a short-lived cookie whose SHA-256 is the key); it is
-- read once, at the callback, and deleted then or when it expires.
CREATE TABLE sign_in_flows (
    id_hash       TEXT PRIMARY KEY,
    provider      TEXT NOT NULL,
    csrf_state    TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    next_path     TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX sign_in_flows_by_age ON sign_in_flows (created_at);
