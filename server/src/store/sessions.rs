//! Sessions of signed-in users, and single-sign-on flows in progress.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::users::UserRow;
use super::{StoreResult, User};

#[derive(Clone, Debug)]
pub struct NewSession {
    pub token_hash: String,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionRecord {
    pub token_hash: String,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
}

/// A single-sign-on flow between the redirect to the provider and its callback.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SignInFlow {
    /// SHA-256 of the random value in the browser's flow cookie.
    pub id_hash: String,
    pub provider: String,
    pub csrf_state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// Where to go after signing in (a path of this site).
    pub next_path: String,
    pub created_at: DateTime<Utc>,
}

/// A session's row joined with its user's.
#[derive(sqlx::FromRow)]
pub(crate) struct SessionUserRow {
    session_token_hash: String,
    session_created_at: DateTime<Utc>,
    session_last_seen_at: DateTime<Utc>,
    session_expires_at: DateTime<Utc>,
    session_client_address: Option<String>,
    session_user_agent: Option<String>,
    #[sqlx(flatten)]
    user: UserRow,
}

impl SessionUserRow {
    pub(crate) fn into_parts(self) -> StoreResult<(SessionRecord, User)> {
        let user = User::try_from(self.user)?;
        let session = SessionRecord {
            token_hash: self.session_token_hash,
            user_id: user.id,
            created_at: self.session_created_at,
            last_seen_at: self.session_last_seen_at,
            expires_at: self.session_expires_at,
            client_address: self.session_client_address,
            user_agent: self.session_user_agent,
        };
        Ok((session, user))
    }
}

/// `SELECT` of a session with its user: the user's columns keep their
/// names, the session's get a `session_` prefix.
pub(crate) fn session_with_user_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let user_columns: Vec<String> = super::users::USER_COLUMNS
            .split(',')
            .map(|column| format!("u.{}", column.trim()))
            .collect();
        format!(
            "SELECT s.token_hash AS session_token_hash, s.created_at AS session_created_at, \
             s.last_seen_at AS session_last_seen_at, s.expires_at AS session_expires_at, \
             s.client_address AS session_client_address, s.user_agent AS session_user_agent, {} \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
            user_columns.join(", ")
        )
    })
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(&self, session: NewSession) -> StoreResult<()>;
    async fn session(&self, token_hash: &str) -> StoreResult<SessionRecord>;
    /// A session and its user in one query: every signed-in request needs
    /// both, and each query is a round trip to the store. `NotFound` when
    /// the session, or its user, is gone.
    async fn session_with_user(&self, token_hash: &str) -> StoreResult<(SessionRecord, User)>;
    async fn touch_session(&self, token_hash: &str, seen_at: DateTime<Utc>) -> StoreResult<()>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Ends every session of one user, with the audit event (its details
    /// get `sessions_ended`) in the same transaction; returns how many
    /// there were.
    async fn delete_sessions_of_user(
        &self,
        user_id: Uuid,
        audit: Option<&super::NewAuditEvent>,
    ) -> StoreResult<u64>;

    /// Forgets sessions past their end: expired, unused since
    /// `idle_before`, or begun before `begun_before`. Returns how many.
    async fn delete_ended_sessions(
        &self,
        now: DateTime<Utc>,
        idle_before: DateTime<Utc>,
        begun_before: DateTime<Utc>,
    ) -> StoreResult<u64>;

    async fn create_sign_in_flow(&self, flow: SignInFlow) -> StoreResult<()>;
    /// Reads and deletes a flow: a flow can finish once only.
    async fn take_sign_in_flow(&self, id_hash: &str) -> StoreResult<SignInFlow>;
    /// Forgets the flows started before `before` (abandoned sign-ins).
    async fn delete_sign_in_flows_before(&self, before: DateTime<Utc>) -> StoreResult<u64>;
}

macro_rules! impl_session_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::SessionStore for $store {
            async fn create_session(
                &self,
                session: $crate::store::NewSession,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, \
                     expires_at, client_address, user_agent) VALUES ($1, $2, $3, $3, $4, $5, $6)",
                )
                .bind(&session.token_hash)
                .bind(session.user_id)
                .bind(session.created_at)
                .bind(session.expires_at)
                .bind(&session.client_address)
                .bind(&session.user_agent)
                .execute(&self.pool)
                .await
                .map_err(|error| {
                    $crate::store::shared::conflict_or(error, || {
                        "the session exists already".to_string()
                    })
                })?;
                Ok(())
            }

            async fn session(
                &self,
                token_hash: &str,
            ) -> $crate::store::StoreResult<$crate::store::SessionRecord> {
                let row: Option<$crate::store::SessionRecord> = sqlx::query_as(
                    "SELECT token_hash, user_id, created_at, last_seen_at, expires_at, \
                     client_address, user_agent FROM sessions WHERE token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
                row.ok_or($crate::store::StoreError::NotFound)
            }

            async fn session_with_user(
                &self,
                token_hash: &str,
            ) -> $crate::store::StoreResult<($crate::store::SessionRecord, $crate::store::User)>
            {
                let row: Option<$crate::store::sessions::SessionUserRow> =
                    sqlx::query_as($crate::store::sessions::session_with_user_sql())
                        .bind(token_hash)
                        .fetch_optional(&self.pool)
                        .await?;
                row.ok_or($crate::store::StoreError::NotFound)?.into_parts()
            }

            async fn touch_session(
                &self,
                token_hash: &str,
                seen_at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                let done =
                    sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1")
                        .bind(token_hash)
                        .bind(seen_at)
                        .execute(&self.pool)
                        .await?;
                $crate::store::users::found(done.rows_affected())
            }

            async fn delete_session(&self, token_hash: &str) -> $crate::store::StoreResult<()> {
                sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_sessions_of_user(
                &self,
                user_id: uuid::Uuid,
                audit: Option<&$crate::store::NewAuditEvent>,
            ) -> $crate::store::StoreResult<u64> {
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if let Some(audit) = audit {
                    let audit = $crate::store::users::with_sessions_ended(audit, ended);
                    $crate::store::audit::append_audit_in!(tx, &audit).await?;
                }
                tx.commit().await?;
                Ok(ended)
            }

            async fn delete_ended_sessions(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                idle_before: chrono::DateTime<chrono::Utc>,
                begun_before: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<u64> {
                let done = sqlx::query(
                    "DELETE FROM sessions \
                     WHERE expires_at <= $1 OR last_seen_at < $2 OR created_at < $3",
                )
                .bind(now)
                .bind(idle_before)
                .bind(begun_before)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }

            async fn create_sign_in_flow(
                &self,
                flow: $crate::store::SignInFlow,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO sign_in_flows (id_hash, provider, csrf_state, nonce, \
                     pkce_verifier, next_path, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&flow.id_hash)
                .bind(&flow.provider)
                .bind(&flow.csrf_state)
                .bind(&flow.nonce)
                .bind(&flow.pkce_verifier)
                .bind(&flow.next_path)
                .bind(flow.created_at)
                .execute(&self.pool)
                .await
                .map_err(|error| {
                    $crate::store::shared::conflict_or(error, || {
                        "the sign-in flow exists already".to_string()
                    })
                })?;
                Ok(())
            }

            async fn take_sign_in_flow(
                &self,
                id_hash: &str,
            ) -> $crate::store::StoreResult<$crate::store::SignInFlow> {
                let row: Option<$crate::store::SignInFlow> = sqlx::query_as(
                    "DELETE FROM sign_in_flows WHERE id_hash = $1 RETURNING id_hash, provider, \
                     csrf_state, nonce, pkce_verifier, next_path, created_at",
                )
                .bind(id_hash)
                .fetch_optional(&self.pool)
                .await?;
                row.ok_or($crate::store::StoreError::NotFound)
            }

            async fn delete_sign_in_flows_before(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<u64> {
                let done = sqlx::query("DELETE FROM sign_in_flows WHERE created_at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }
        }
    };
}
pub(crate) use impl_session_store;
