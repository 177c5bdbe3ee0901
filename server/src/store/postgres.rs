//! PostgreSQL, for production and for several portal replicas.

use std::sync::Arc;
use std::time::Duration;

use sqlx::{PgPool, postgres::PgPoolOptions};
use tokio::sync::watch;

use super::changes::DatabaseChanges;
use super::impl_store;

pub struct PostgresStore {
    pool: PgPool,
    database_changes: Arc<DatabaseChanges>,
}

impl PostgresStore {
    const KIND: &'static str = "postgres";

    /// How the store's read-then-write transactions begin (SQLite needs
    /// `IMMEDIATE`; PostgreSQL's row locks and checks do the work).
    const BEGIN_WRITE: &'static str = "BEGIN";

    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok(PostgresStore {
            pool,
            database_changes: Arc::new(DatabaseChanges::new()),
        })
    }

    /// The databases' change signal, with other replicas' writes in it
    /// (their NOTIFYs, listened for from the first subscriber on).
    fn subscribe_to_database_changes(&self) -> watch::Receiver<u64> {
        self.database_changes.listen_for_other_replicas(&self.pool);
        self.database_changes.subscribe()
    }

    /// The version of the newest migration compiled in.
    fn newest_migration() -> i64 {
        sqlx::migrate!("../migrations/postgres")
            .iter()
            .map(|migration| migration.version)
            .max()
            .unwrap_or(0)
    }

    /// Every pending migration; replicas that start together take turns
    /// (sqlx holds a lock for the run: PostgreSQL's advisory lock).
    async fn run_migrations(&self) -> super::StoreResult<()> {
        sqlx::migrate!("../migrations/postgres")
            .run(&self.pool)
            .await?;
        Ok(())
    }
}

impl_store!(PostgresStore);

impl super::deploys_sql::Db for PostgresStore {
    type Db = sqlx::Postgres;
}
