-- Applications from git: one app is one repository; the portal follows its
-- tracked branch and records each new head as a release.
CREATE TABLE apps (
    id                    UUID PRIMARY KEY,
    name                  TEXT NOT NULL UNIQUE,
    repository_url        TEXT NOT NULL,
    branch                TEXT NOT NULL,
    poll_interval_seconds BIGINT NOT NULL CHECK (poll_interval_seconds BETWEEN 10 AND 86400),
    -- Sealed with the keyring (crypto::Keyring), never in plaintext.
    credentials_kind      TEXT CHECK (credentials_kind IN ('token', 'ssh-key')),
    credentials_sealed    TEXT,
    webhook_secret_sealed TEXT NOT NULL,
    webhook_secret_version BIGINT NOT NULL DEFAULT 1,
    created_by            UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL,
    -- The repository as the poller last saw it.
    head_sha              TEXT,
    last_polled_at        TIMESTAMPTZ,
    last_webhook_at       TIMESTAMPTZ,
    last_error            TEXT,
    failures              BIGINT NOT NULL DEFAULT 0,
    next_poll_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX apps_due ON apps (next_poll_at);
CREATE INDEX apps_by_name ON apps (LOWER(name));

CREATE TABLE app_maintainers (
    app_id  UUID NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (app_id, user_id)
);

-- Each new head of the tracked branch, immutable once written.
CREATE TABLE releases (
    id                BIGSERIAL PRIMARY KEY,
    app_id            UUID NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    sha               TEXT NOT NULL,
    subject           TEXT NOT NULL,
    author            TEXT NOT NULL,
    author_email      TEXT NOT NULL,
    committed_at      TEXT NOT NULL,
    previous_sha      TEXT,
    -- The head before it is not in its history (a force-push).
    force_pushed      BOOLEAN NOT NULL DEFAULT FALSE,
    commits           TEXT NOT NULL,
    commits_truncated BOOLEAN NOT NULL DEFAULT FALSE,
    dscloud_yaml      TEXT,
    accepted          BOOLEAN NOT NULL,
    problems          TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX releases_by_app ON releases (app_id, id);

-- Push deliveries already taken, so a replayed one is ignored.
CREATE TABLE webhook_deliveries (
    app_id      UUID NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    delivery_id TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (app_id, delivery_id)
);
