-- The engines' guarantees: a desired-state change made while an engine works
-- is never overwritten, and a deposed leader's writes are refused.
--
-- Every write of desired state (intent, size, a password rotation) bumps
-- `generation`; the engine's report applies only while the generation it
-- read is still current.
ALTER TABLE databases ADD COLUMN generation INTEGER NOT NULL DEFAULT 1;
-- Password rotation is desired state: the credentials version the customer
-- asked for, and the one the configuration job last set inside the database.
ALTER TABLE databases ADD COLUMN credentials_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE databases ADD COLUMN configured_version INTEGER NOT NULL DEFAULT 0;
UPDATE databases SET configured_version = 1 WHERE configured = TRUE;

-- One row per engine lease (an engine in a region): the term of its current
-- leader. A new leader takes the next term; an engine write carries the term
-- it was decided under and is refused once another term began.
CREATE TABLE engine_terms (
    lease       TEXT PRIMARY KEY NOT NULL,
    term        INTEGER NOT NULL,
    holder      TEXT NOT NULL,
    acquired_at TEXT NOT NULL
);
