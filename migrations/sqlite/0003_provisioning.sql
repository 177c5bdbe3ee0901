-- The provisioning engine: each database's desired state next to what the
-- engine last reported, and a timeline of the steps it took.
ALTER TABLE databases ADD COLUMN schema_name TEXT NOT NULL DEFAULT '';
-- What the customer wants: running, parked or terminated.
ALTER TABLE databases ADD COLUMN intent TEXT NOT NULL DEFAULT 'running'
    CHECK (intent IN ('running', 'parked', 'terminated'));
-- FALSE while the engine has work to do; every change of intent or size clears it.
ALTER TABLE databases ADD COLUMN settled BOOLEAN NOT NULL DEFAULT FALSE;
-- The first keyspace/database and the application role exist.
ALTER TABLE databases ADD COLUMN configured BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE databases ADD COLUMN deletion_protection BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE databases ADD COLUMN status_message TEXT;
-- The create form's one-time key: submitting twice creates one database.
ALTER TABLE databases ADD COLUMN request_key TEXT;
CREATE UNIQUE INDEX databases_by_request ON databases (owner_id, request_key);
CREATE INDEX databases_unsettled ON databases (settled, updated_at);

CREATE TABLE provisioning_steps (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    database_id BLOB NOT NULL REFERENCES databases (id),
    step        TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT NOT NULL CHECK (outcome IN ('running', 'success', 'failure')),
    message     TEXT
);
CREATE INDEX provisioning_steps_by_database ON provisioning_steps (database_id, id);
