//! The embedded default: one SQLite file under the data directory.

use std::{str::FromStr, time::Duration};

use sqlx::{
    SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use super::impl_store;

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    const KIND: &'static str = "sqlite";

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
        Ok(SqliteStore { pool })
    }

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
