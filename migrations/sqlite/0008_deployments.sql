-- The deploy engine: every attempt to put a release into an environment is
-- a row (failures, rollbacks, supersessions and approvals included); the
-- images built for a release; per app and environment, approval rules and
-- a person's hold.

-- How a push was found: the poll, or a webhook that made the poll happen now.
ALTER TABLE releases ADD COLUMN found_by TEXT NOT NULL DEFAULT 'poll'
    CHECK (found_by IN ('poll', 'webhook'));

-- One image per component of a release, by digest, once built.
CREATE TABLE release_images (
    release_id INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    component  TEXT NOT NULL,
    image      TEXT NOT NULL,
    built_at   TEXT NOT NULL,
    PRIMARY KEY (release_id, component)
);

CREATE TABLE deploy_environments (
    app_id               BLOB NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    environment          TEXT NOT NULL,
    requires_approval    BOOLEAN NOT NULL DEFAULT FALSE,
    forbid_self_approval BOOLEAN NOT NULL DEFAULT FALSE,
    -- A person's rollback holds the environment: no automatic promotion
    -- into it until someone lifts the hold.
    held_by              BLOB REFERENCES users (id) ON DELETE SET NULL,
    held_by_name         TEXT,
    hold_reason          TEXT,
    held_at              TEXT,
    PRIMARY KEY (app_id, environment)
);

CREATE TABLE deployments (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id            BLOB NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    release_id        INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    environment       TEXT NOT NULL,
    trigger           TEXT NOT NULL
        CHECK (trigger IN ('poll', 'webhook', 'promotion', 'rollback', 'redeploy', 'auto-rollback')),
    -- What the trigger names: the environment promoted from, the release
    -- whose failure an automatic rollback undoes.
    trigger_detail    TEXT,
    triggered_by      BLOB REFERENCES users (id) ON DELETE SET NULL,
    triggered_by_name TEXT,
    -- The failed deployment an automatic rollback undoes.
    rollback_of       INTEGER,
    -- The rollback that undid this one.
    rolled_back_by    INTEGER,
    status            TEXT NOT NULL,
    -- Not finished: at most one per app and environment.
    active            BOOLEAN NOT NULL,
    reason            TEXT,
    approval          TEXT CHECK (approval IN ('required', 'approved', 'rejected')),
    approval_by       BLOB REFERENCES users (id) ON DELETE SET NULL,
    approval_by_name  TEXT,
    approval_comment  TEXT,
    approval_at       TEXT,
    -- JSON: the step timeline (builds, apply, rollout, jobs, tests).
    steps             TEXT NOT NULL DEFAULT '[]',
    tests_passed      INTEGER NOT NULL DEFAULT 0,
    tests_failed      INTEGER NOT NULL DEFAULT 0,
    -- Bumped by every write: the engine writes only over what it read.
    revision          INTEGER NOT NULL DEFAULT 1,
    created_at        TEXT NOT NULL,
    started_at        TEXT,
    finished_at       TEXT
);
CREATE UNIQUE INDEX deployments_one_active ON deployments (app_id, environment) WHERE active;
CREATE INDEX deployments_by_app ON deployments (app_id, environment, id);
CREATE INDEX deployments_by_status ON deployments (status, id);
CREATE INDEX deployments_by_release ON deployments (release_id, environment);
-- One environment's history, newest first.
CREATE INDEX deployments_by_environment ON deployments (environment, id);
