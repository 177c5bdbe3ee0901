//! The embedded default: one SQLite file under the data directory.

use std::{str::FromStr, time::Duration};

use sqlx::{
    SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use super::changes::DatabaseChanges;
use super::impl_store;

pub struct SqliteStore {
    pool: SqlitePool,
    database_changes: DatabaseChanges,
}

impl SqliteStore {
    const KIND: &'static str = "sqlite";

    /// How the store's read-then-write transactions begin. A deferred
    /// transaction that read, then writes after another connection
    /// committed, fails at once with SQLITE_BUSY_SNAPSHOT (517), which no
    /// busy timeout waits out (the deploy engine met it in the end-to-end
    /// run). `IMMEDIATE` takes the write lock at the start: other writers
    /// wait for it instead.
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";

    /// Opens (creating if needed) the file a `sqlite://` URL names, with
    /// write-ahead logging, foreign keys enforced and a busy timeout so that
    /// concurrent writers wait instead of failing.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Ok(SqliteStore {
            pool,
            database_changes: DatabaseChanges::new(),
        })
    }

    /// The databases' change signal. One process owns an SQLite file, so
    /// this process's writes are all there is.
    fn subscribe_to_database_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.database_changes.subscribe()
    }

    /// The version of the newest migration compiled in.
    fn newest_migration() -> i64 {
        sqlx::migrate!("../migrations/sqlite")
            .iter()
            .map(|migration| migration.version)
            .max()
            .unwrap_or(0)
    }

    /// Every pending migration; replicas that start together take turns
    /// (sqlx holds a lock for the run: PostgreSQL's advisory lock).
    async fn run_migrations(&self) -> super::StoreResult<()> {
        sqlx::migrate!("../migrations/sqlite")
            .run(&self.pool)
            .await?;
        Ok(())
    }
}

impl_store!(SqliteStore);

impl super::deploys_sql::Db for SqliteStore {
    type Db = sqlx::Sqlite;
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, SqliteConnection};

    use super::SqliteStore;

    /// The interleaving the deploy engine met, step by step: a transaction
    /// reads, another connection writes, the transaction writes.
    #[tokio::test]
    async fn a_write_transaction_is_not_undone_by_a_commit_between_its_read_and_its_write() {
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let url = format!("sqlite://{}", dir.path().join("portal.db").display());
        let store = SqliteStore::connect(&url)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        sqlx::query("CREATE TABLE marks (value INTEGER)")
            .execute(&store.pool)
            .await
            .unwrap_or_else(|error| panic!("{error}"));

        let mut transaction = store
            .pool
            .begin_with(SqliteStore::BEGIN_WRITE)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM marks")
            .fetch_one(&mut *transaction)
            .await
            .unwrap_or_else(|error| panic!("{error}"));

        // Another writer (another replica, another engine) does not get in
        // between: with no wait it is told the database is busy.
        let options = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&url)
            .unwrap_or_else(|error| panic!("{error}"))
            .busy_timeout(std::time::Duration::ZERO);
        let mut other = SqliteConnection::connect_with(&options)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let between = sqlx::query("INSERT INTO marks (value) VALUES (2)")
            .execute(&mut other)
            .await;
        assert!(between.is_err(), "the other writer got in between");

        // So the transaction's own write stands (with a deferred BEGIN it
        // failed here: code 517, SQLITE_BUSY_SNAPSHOT).
        sqlx::query("INSERT INTO marks (value) VALUES (1)")
            .execute(&mut *transaction)
            .await
            .unwrap_or_else(|error| panic!("the write failed: {error}"));
        transaction
            .commit()
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        sqlx::query("INSERT INTO marks (value) VALUES (2)")
            .execute(&mut other)
            .await
            .unwrap_or_else(|error| panic!("after the commit the other writer goes on: {error}"));
    }
}
