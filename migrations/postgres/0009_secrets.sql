-- Secrets developers set: every version of every value, sealed (see
-- server/src/crypto). Rows are never updated but for re-wrapping under a
-- new master key and the time they reached the cluster.

CREATE TABLE secret_values (
    id              BIGSERIAL PRIMARY KEY,
    app_id          UUID NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    environment     TEXT NOT NULL,
    -- '' for the app's own Secret (`secretValues`), else an integration-test
    -- secret group's name.
    secret_group    TEXT NOT NULL DEFAULT '',
    name            TEXT NOT NULL,
    version         BIGINT NOT NULL,
    -- NULL: the value was deleted at this version.
    sealed          TEXT,
    created_by      UUID REFERENCES users (id) ON DELETE SET NULL,
    created_by_name TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    -- When the engine wrote the Secret holding this version (or, for a
    -- deletion, the Secret without it).
    synced_at       TIMESTAMPTZ,
    UNIQUE (app_id, environment, secret_group, name, version)
);
-- What the engine has still to write into the cluster.
CREATE INDEX secret_values_unsynced ON secret_values (app_id, environment) WHERE synced_at IS NULL;

-- The versions of the secrets a deployment wrote (JSON), so a later change
-- is seen and the history says which values a deploy used.
ALTER TABLE deployments ADD COLUMN secret_versions TEXT;
