//! The portal's database: one interface, two implementations.
//!
//! SQLite is the embedded default (a file under the data directory); PostgreSQL
//! serves production and several replicas. Both run the same SQL (see `sql.rs`)
//! and the same test suite (`server/tests/store.rs`), so they behave alike.

mod postgres;
mod records;
mod sql;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

pub use postgres::PostgresStore;
pub use records::*;
pub use sqlite::SqliteStore;

/// What can go wrong talking to the store, in terms the callers act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule refused the write; the text names what clashed.
    #[error("{0}")]
    Conflict(String),
    #[error("the stored data is not valid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the portal keeps. Implemented once per database engine.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The engine's name, for logs and `/readyz`.
    fn kind(&self) -> &'static str;
    /// Applies every pending migration.
    async fn migrate(&self) -> StoreResult<()>;
    /// Answers when the database can be reached.
    async fn ping(&self) -> StoreResult<()>;

    async fn create_user(&self, user: NewUser) -> StoreResult<User>;
    async fn user_by_id(&self, id: Uuid) -> StoreResult<User>;
    /// Usernames match regardless of case.
    async fn user_by_username(&self, username: &str) -> StoreResult<User>;
    async fn list_users(&self, query: &UserQuery) -> StoreResult<Page<User>>;
    async fn count_users(&self) -> StoreResult<u64>;
    /// Replaces a user's password hash (an argon2id PHC string).
    async fn set_password_hash(&self, user_id: Uuid, password_hash: &str) -> StoreResult<()>;
    /// Changes role and disabled state in one write; returns the user after it.
    async fn update_user_access(
        &self,
        user_id: Uuid,
        role: app::roles::Role,
        disabled: bool,
    ) -> StoreResult<User>;
    /// How many enabled admins there are (the last one may not be demoted or disabled).
    async fn count_active_admins(&self) -> StoreResult<u64>;
    /// The single-sign-on user with this issuer and subject.
    async fn user_by_oidc_identity(&self, identity: &OidcIdentity) -> StoreResult<User>;
    /// Brings a single-sign-on user's name, email and role up to date.
    async fn update_user_profile(
        &self,
        user_id: Uuid,
        display_name: &str,
        email: Option<&str>,
        role: app::roles::Role,
    ) -> StoreResult<User>;
    /// Deletes a user and their sessions; `Conflict` while they own databases.
    async fn delete_user(&self, user_id: Uuid) -> StoreResult<()>;
    /// Notes a successful sign-in.
    async fn record_sign_in(
        &self,
        user_id: Uuid,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()>;

    async fn create_session(&self, session: NewSession) -> StoreResult<()>;
    async fn session(&self, token_hash: &str) -> StoreResult<SessionRecord>;
    async fn touch_session(
        &self,
        token_hash: &str,
        seen_at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Ends every session of one user; returns how many there were.
    async fn delete_sessions_of_user(&self, user_id: Uuid) -> StoreResult<u64>;
    /// Ends every session of one user but the one with `keep_token_hash`.
    async fn delete_other_sessions_of_user(
        &self,
        user_id: Uuid,
        keep_token_hash: &str,
    ) -> StoreResult<u64>;

    async fn create_sign_in_flow(&self, flow: SignInFlow) -> StoreResult<()>;
    /// Reads and deletes a flow: a flow can finish once only.
    async fn take_sign_in_flow(&self, id_hash: &str) -> StoreResult<SignInFlow>;
    /// Forgets the flows started before `before` (abandoned sign-ins).
    async fn delete_sign_in_flows_before(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<u64>;

    /// Appends to the audit log, which can never be edited or deleted.
    async fn append_audit(&self, event: NewAuditEvent) -> StoreResult<AuditEvent>;
    /// Newest first, keyset-paginated by `before_id`.
    async fn list_audit(&self, query: &AuditQuery) -> StoreResult<AuditPage>;

    async fn create_database(&self, database: NewDatabase) -> StoreResult<DatabaseRecord>;
    async fn database(&self, id: Uuid) -> StoreResult<DatabaseRecord>;
    async fn list_databases(&self, query: &DatabaseQuery) -> StoreResult<Page<DatabaseRecord>>;
    /// Records what the engine found; `settled` says it has nothing left to do.
    async fn update_database_state(&self, id: Uuid, state: DatabaseState) -> StoreResult<()>;
    /// A new desired state (intent and tier); the engine picks it up.
    async fn set_database_intent(
        &self,
        id: Uuid,
        intent: &str,
        tier: &str,
    ) -> StoreResult<DatabaseRecord>;
    async fn set_deletion_protection(&self, id: Uuid, enabled: bool) -> StoreResult<()>;
    /// Asks the engine to run the configuration again (new credentials to
    /// set inside the database).
    async fn request_reconfigure(&self, id: Uuid) -> StoreResult<()>;
    /// How long the latest provisions of an engine took, in seconds, from
    /// their first step to configured; newest first.
    async fn provisioning_durations(&self, engine: &str, limit: u32) -> StoreResult<Vec<f64>>;
    /// The databases the engine has work to do for, least recently touched first.
    async fn unsettled_databases(&self, limit: u32) -> StoreResult<Vec<DatabaseRecord>>;
    /// Starts a step of a database's timeline; returns its id.
    async fn start_step(&self, database_id: Uuid, step: &str, attempt: i32) -> StoreResult<i64>;
    async fn finish_step(
        &self,
        step_id: i64,
        outcome: &str,
        message: Option<&str>,
    ) -> StoreResult<()>;
    /// A database's steps, oldest first.
    async fn steps(&self, database_id: Uuid) -> StoreResult<Vec<ProvisioningStep>>;
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
