-- A terminated database stays as history but gives its name back, so a
-- customer can terminate "orders" and create "orders" again. The name is
-- unique among each owner's databases that are not terminated.
ALTER TABLE databases DROP CONSTRAINT databases_owner_id_name_key;
CREATE UNIQUE INDEX databases_by_live_name ON databases (owner_id, name)
    WHERE intent <> 'terminated';
