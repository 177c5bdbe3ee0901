//! PostgreSQL, for production and for several portal replicas.

use std::time::Duration;

use sqlx::{PgPool, postgres::PgPoolOptions};

use super::impl_store;

pub struct PostgresStore {
    pool: PgPool,
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
        Ok(PostgresStore { pool })
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
