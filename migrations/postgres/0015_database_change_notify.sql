-- Pages open on any replica learn at once that a database changed: a write
-- to a database's row or its provisioning steps notifies the channel when
-- it commits (a transaction's identical notifications arrive once). Each
-- replica's change feed listens and then reads what changed.
CREATE FUNCTION dscloud_notify_database_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('dscloud_database_changes', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER databases_notify_change
    AFTER INSERT OR UPDATE OR DELETE ON databases
    FOR EACH STATEMENT EXECUTE FUNCTION dscloud_notify_database_change();

CREATE TRIGGER provisioning_steps_notify_change
    AFTER INSERT OR UPDATE OR DELETE ON provisioning_steps
    FOR EACH STATEMENT EXECUTE FUNCTION dscloud_notify_database_change();
