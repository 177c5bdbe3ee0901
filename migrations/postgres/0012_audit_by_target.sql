-- A database's page reads the audit events about it (its timeline's
-- requests, who terminated it) on every live update: by target, newest
-- first, from the index instead of a scan of the whole log.
CREATE INDEX audit_events_by_target ON audit_events (target, id);
