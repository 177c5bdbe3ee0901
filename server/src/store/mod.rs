//! The portal's database: one trait per domain, two implementations.
//!
//! SQLite is the embedded default (a file under the data directory);
//! PostgreSQL serves production and several replicas. Each domain's file
//! holds its records, its trait and its SQL, written once for both engines
//! (`$N` parameters, `RETURNING`, `LOWER`, `LIKE … ESCAPE` mean the same on
//! each); `sqlite.rs` and `postgres.rs` hold only what differs (connection
//! options, migrations). The store tests (`server/tests/store/`, one file
//! per domain) run every check on both.

mod apps;
mod apps_sql;
mod audit;
pub mod changes;
mod databases;
mod databases_sql;
mod deploys;
mod deploys_decisions_sql;
mod deploys_history_sql;
pub(crate) mod deploys_sql;
mod postgres;
mod quotas;
mod secrets;
mod secrets_sql;
mod sessions;
mod shared;
mod sqlite;
mod terms;
mod users;

use std::sync::Arc;

use async_trait::async_trait;

pub use apps::*;
pub use audit::*;
pub use databases::*;
pub use deploys::*;
pub use postgres::PostgresStore;
pub use quotas::{AppliedQuota, CustomerQuotaRecord, QuotaStore};
pub use secrets::*;
pub use sessions::*;
pub use shared::{MAX_PAGE_SIZE, Page, page_size};
pub use sqlite::SqliteStore;
pub use terms::*;
pub use users::*;

/// The domain traits, for callers that hold an `Arc<dyn Store>`.
pub mod prelude {
    pub use super::{
        AppStore, AuditStore, DatabaseStore, DeployStore, QuotaStore, SecretStore, SessionStore,
        Store, TermStore, UserStore,
    };
}

/// What can go wrong talking to the store, in terms the callers act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule or the record's current state refused the write;
    /// the text names what clashed, for people.
    #[error("{0}")]
    Conflict(String),
    /// The owner's quota has no room for the change; the text says what
    /// would be over, for people.
    #[error("{0}")]
    OverQuota(String),
    /// The change would leave no active admin; names the user it spared.
    #[error("{0:?} is the last active admin: make someone else an admin first")]
    LastAdmin(String),
    /// An engine write from a leader whose term has ended: another replica
    /// leads now and the write was not made.
    #[error("refused: a newer leader of {lease} took over (this replica's term {term} ended)")]
    Deposed { lease: String, term: i64 },
    #[error("the stored data is not valid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The schema is older than this binary's newest migration (another
    /// replica has not migrated it yet, or a migration failed).
    #[error("the database is at migration {applied}; this portal needs {needed}")]
    Behind { applied: i64, needed: i64 },
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the portal keeps: each domain's trait, plus the store's own
/// upkeep. Implemented once per database engine.
#[async_trait]
pub trait Store:
    UserStore
    + SessionStore
    + AuditStore
    + DatabaseStore
    + QuotaStore
    + AppStore
    + DeployStore
    + SecretStore
    + TermStore
    + Send
    + Sync
    + 'static
{
    /// The engine's name, for logs and `/readyz`.
    fn kind(&self) -> &'static str;
    /// Applies every pending migration.
    async fn migrate(&self) -> StoreResult<()>;
    /// Answers when the database can be reached and holds every migration
    /// this binary knows (else [`StoreError::Behind`]).
    async fn ping(&self) -> StoreResult<()>;
}

/// Opens the store a URL names: `sqlite://path` or `postgres://…`.
pub async fn connect(url: &str) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(url).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else {
        Err(StoreError::Database(sqlx::Error::Configuration(
            format!(
                "unsupported database URL {:?}: use sqlite://PATH or postgres://…",
                redact_url(url)
            )
            .into(),
        )))
    }
}

/// Implements every domain's trait and `Store` for a struct with a `pool`
/// field of an sqlx pool type, a `KIND` and a `run_migrations` method.
macro_rules! impl_store {
    ($store:ty) => {
        $crate::store::users::impl_user_store!($store);
        $crate::store::sessions::impl_session_store!($store);
        $crate::store::audit::impl_audit_store!($store);
        $crate::store::databases_sql::impl_database_store!($store);
        $crate::store::quotas::impl_quota_store!($store);
        $crate::store::apps_sql::impl_app_store!($store);
        $crate::store::deploys_sql::impl_deploy_store!($store);
        $crate::store::deploys_history_sql::impl_deploy_history!($store);
        $crate::store::deploys_decisions_sql::impl_deploy_decisions!($store);
        $crate::store::secrets_sql::impl_secret_store!($store);
        $crate::store::terms::impl_term_store!($store);

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn kind(&self) -> &'static str {
                Self::KIND
            }
            async fn migrate(&self) -> $crate::store::StoreResult<()> {
                self.run_migrations().await
            }
            async fn ping(&self) -> $crate::store::StoreResult<()> {
                let applied: Option<i64> =
                    sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                        .fetch_one(&self.pool)
                        .await?;
                let applied = applied.unwrap_or(0);
                let needed = Self::newest_migration();
                if applied < needed {
                    return Err($crate::store::StoreError::Behind { applied, needed });
                }
                Ok(())
            }
        }
    };
}
pub(crate) use impl_store;

/// A URL without its password, fit for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_reach_the_logs() {
        assert_eq!(
            redact_url("postgres://portal:s3cret@db:5432/portal"),
            "postgres://portal:***@db:5432/portal"
        );
        assert_eq!(
            redact_url("postgres://portal@db/portal"),
            "postgres://portal@db/portal"
        );
        assert_eq!(
            redact_url("sqlite://data/portal.db"),
            "sqlite://data/portal.db"
        );
    }
}
