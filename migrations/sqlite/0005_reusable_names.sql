-- A terminated database stays as history but gives its name back, so a
-- customer can terminate "orders" and create "orders" again. The name is
-- unique among each owner's databases that are not terminated.
--
-- SQLite cannot drop a table constraint, so the table is rebuilt. sqlx runs
-- every SQLite migration in a transaction, where `PRAGMA foreign_keys = OFF`
-- does nothing; so the table that refers to it (provisioning_steps) is
-- rebuilt too, pointing at the new table, before the old ones are dropped:
-- no row is ever without its parent, and renaming the new table rewrites
-- that reference to `databases`. All of it commits or none of it does.
CREATE TABLE databases_rebuilt (
    id                  BLOB PRIMARY KEY NOT NULL,
    owner_id            BLOB NOT NULL REFERENCES users (id),
    name                TEXT NOT NULL,
    engine              TEXT NOT NULL CHECK (engine IN ('cassandra', 'postgresql')),
    tier                TEXT NOT NULL,
    region              TEXT NOT NULL,
    status              TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    schema_name         TEXT NOT NULL DEFAULT '',
    intent              TEXT NOT NULL DEFAULT 'running'
        CHECK (intent IN ('running', 'parked', 'terminated')),
    settled             BOOLEAN NOT NULL DEFAULT FALSE,
    configured          BOOLEAN NOT NULL DEFAULT FALSE,
    deletion_protection BOOLEAN NOT NULL DEFAULT FALSE,
    status_message      TEXT,
    request_key         TEXT
);
INSERT INTO databases_rebuilt (id, owner_id, name, engine, tier, region, status,
    created_at, updated_at, schema_name, intent, settled, configured,
    deletion_protection, status_message, request_key)
SELECT id, owner_id, name, engine, tier, region, status,
    created_at, updated_at, schema_name, intent, settled, configured,
    deletion_protection, status_message, request_key
FROM databases;

CREATE TABLE provisioning_steps_rebuilt (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    database_id BLOB NOT NULL REFERENCES databases_rebuilt (id),
    step        TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT NOT NULL CHECK (outcome IN ('running', 'success', 'failure')),
    message     TEXT
);
INSERT INTO provisioning_steps_rebuilt (id, database_id, step, attempt, started_at,
    finished_at, outcome, message)
SELECT id, database_id, step, attempt, started_at, finished_at, outcome, message
FROM provisioning_steps;

DROP TABLE provisioning_steps;
DROP TABLE databases;
ALTER TABLE databases_rebuilt RENAME TO databases;
ALTER TABLE provisioning_steps_rebuilt RENAME TO provisioning_steps;

CREATE UNIQUE INDEX databases_by_live_name ON databases (owner_id, name)
    WHERE intent <> 'terminated';
CREATE INDEX databases_by_owner ON databases (owner_id, created_at);
CREATE INDEX databases_by_status ON databases (status);
CREATE UNIQUE INDEX databases_by_request ON databases (owner_id, request_key);
CREATE INDEX databases_unsettled ON databases (settled, updated_at);
CREATE INDEX databases_by_created ON databases (created_at, id);
CREATE INDEX provisioning_steps_by_database ON provisioning_steps (database_id, id);
