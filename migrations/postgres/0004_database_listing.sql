-- The admins' listing of every database, newest first, reads this index
-- instead of sorting the whole table (issue 6: fast with 10,000 databases).
CREATE INDEX databases_by_created ON databases (created_at, id);
