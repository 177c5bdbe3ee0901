-- The deploy history filtered by environment or status and a date range:
-- with the creation time in the index, the count and the page are read
-- from the index alone instead of one table row per match (100,000 rows,
-- prod + a date range matching 33,000: the count 79 ms -> 17 ms on SQLite).
DROP INDEX deployments_by_environment;
CREATE INDEX deployments_by_environment ON deployments (environment, id, created_at);
DROP INDEX deployments_by_status;
CREATE INDEX deployments_by_status ON deployments (status, id, created_at);
