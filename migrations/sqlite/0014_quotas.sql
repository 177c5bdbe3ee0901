-- Per-customer limits on databases: how many, and the CPU, memory and
-- storage of all of them added up (terminated ones do not count). Every
-- customer has the default unless an admin gave them their own.
CREATE TABLE quota_default (
    id          INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    databases   INTEGER NOT NULL CHECK (databases >= 0),
    cpu_millis  INTEGER NOT NULL CHECK (cpu_millis >= 0),
    memory_mib  INTEGER NOT NULL CHECK (memory_mib >= 0),
    storage_gib INTEGER NOT NULL CHECK (storage_gib >= 0)
);
-- 10 databases, 40 vCPU, 160 GiB memory, 2,000 GiB storage: two of the
-- largest size, or ten small ones.
INSERT INTO quota_default (id, databases, cpu_millis, memory_mib, storage_gib)
VALUES (1, 10, 40000, 163840, 2000);

CREATE TABLE customer_quotas (
    user_id     BLOB PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    databases   INTEGER NOT NULL CHECK (databases >= 0),
    cpu_millis  INTEGER NOT NULL CHECK (cpu_millis >= 0),
    memory_mib  INTEGER NOT NULL CHECK (memory_mib >= 0),
    storage_gib INTEGER NOT NULL CHECK (storage_gib >= 0)
);

-- Rows a transaction updates to wait for every other one of its kind: on
-- PostgreSQL two admins demoting each other at once would otherwise both
-- see the other one still an admin. (SQLite's writers take turns anyway.)
CREATE TABLE store_locks (
    name TEXT PRIMARY KEY NOT NULL
);
INSERT INTO store_locks (name) VALUES ('admins');
