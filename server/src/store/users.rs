//! Users: local accounts and single-sign-on identities, their roles.

use app::roles::Role;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{NewAuditEvent, Page, StoreError, StoreResult};

#[derive(Clone, Debug)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: Role,
    /// An argon2id PHC string, never a password.
    pub password_hash: Option<String>,
    pub oidc_identity: Option<OidcIdentity>,
    /// Written in the transaction that creates the user.
    pub audit: Option<NewAuditEvent>,
}

/// How a single-sign-on user is known: the issuer and its subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcIdentity {
    pub issuer: String,
    pub subject: String,
}

#[derive(Clone, Debug)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: Role,
    pub password_hash: Option<String>,
    pub oidc_identity: Option<OidcIdentity>,
    pub disabled: bool,
    /// The password was generated and shown to someone: its owner must
    /// choose their own before doing anything else.
    pub must_change_password: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Default)]
pub struct UserQuery {
    /// Matches username, display name or email, case-insensitively.
    pub search: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    async fn create_user(&self, user: NewUser) -> StoreResult<User>;
    async fn user_by_id(&self, id: Uuid) -> StoreResult<User>;
    /// Usernames match regardless of case.
    async fn user_by_username(&self, username: &str) -> StoreResult<User>;
    async fn list_users(&self, query: &UserQuery) -> StoreResult<Page<User>>;
    async fn count_users(&self) -> StoreResult<u64>;
    /// Replaces a user's password hash (an argon2id PHC string), and says
    /// whether they must change it at their next sign-in.
    async fn set_password_hash(
        &self,
        user_id: Uuid,
        password_hash: &str,
        must_change: bool,
    ) -> StoreResult<()>;
    /// Replaces a user's password and ends their sessions but `keep` (the
    /// hash of the caller's own, when they change their own password),
    /// with the audit event (its details get `sessions_ended`), in one
    /// transaction. Returns how many sessions ended.
    async fn replace_password(
        &self,
        user_id: Uuid,
        password_hash: &str,
        must_change: bool,
        keep_session: Option<&str>,
        audit: Option<&NewAuditEvent>,
    ) -> StoreResult<u64>;
    /// Changes role and disabled state and ends the user's sessions (they
    /// carry the access they were opened with), with the audit event (its
    /// details get `sessions_ended`), in one transaction. `LastAdmin` when
    /// it would leave no active admin, checked under the admins' lock.
    async fn update_user_access(
        &self,
        user_id: Uuid,
        role: Role,
        disabled: bool,
        audit: Option<&NewAuditEvent>,
    ) -> StoreResult<AccessChange>;
    /// How many enabled admins there are (the last one may not be demoted or disabled).
    async fn count_active_admins(&self) -> StoreResult<u64>;
    /// The single-sign-on user with this issuer and subject.
    async fn user_by_oidc_identity(&self, identity: &OidcIdentity) -> StoreResult<User>;
    /// Brings a single-sign-on user's name, email and role up to date, with
    /// the audit event; `LastAdmin` when it would leave no active admin.
    async fn update_user_profile(
        &self,
        user_id: Uuid,
        display_name: &str,
        email: Option<&str>,
        role: Role,
        audit: Option<&NewAuditEvent>,
    ) -> StoreResult<User>;
    /// Deletes a user and their sessions, with the audit event; `Conflict`
    /// while they own databases, `LastAdmin` for the last active admin.
    async fn delete_user(&self, user_id: Uuid, audit: Option<&NewAuditEvent>) -> StoreResult<()>;
    /// Notes a successful sign-in.
    async fn record_sign_in(&self, user_id: Uuid, at: DateTime<Utc>) -> StoreResult<()>;
}

/// A user's access after a change, and how many sessions it ended.
#[derive(Clone, Debug)]
pub struct AccessChange {
    pub user: User,
    pub sessions_ended: u64,
}

/// The event with how many sessions its change ended.
pub(crate) fn with_sessions_ended(event: &NewAuditEvent, ended: u64) -> NewAuditEvent {
    let mut event = event.clone();
    if let Some(details) = event.details.as_object_mut() {
        details.insert("sessions_ended".to_string(), ended.into());
    }
    event
}

/// Inside a write transaction `tx`: takes the admins' lock and refuses
/// (`LastAdmin`) when user `id`, now an active admin, would no longer be one
/// (`stays_admin` false) and no other active admin is left. Taking the lock
/// first makes two admins demoting each other at once take turns, the
/// second seeing the first's change. Evaluates to a future of
/// `StoreResult<()>`; `NotFound` for an unknown user.
macro_rules! guard_last_admin {
    ($tx:expr, $id:expr, $stays_admin:expr) => {
        async {
            let id: uuid::Uuid = $id;
            let stays_admin: bool = $stays_admin;
            sqlx::query("UPDATE store_locks SET name = name WHERE name = 'admins'")
                .execute(&mut *$tx)
                .await?;
            let current: Option<(String, String, bool)> =
                sqlx::query_as("SELECT username, role, disabled FROM users WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *$tx)
                    .await?;
            let (username, role, disabled) = current.ok_or($crate::store::StoreError::NotFound)?;
            if role == "admin" && !disabled && !stays_admin {
                let others: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = FALSE \
                     AND id <> $1",
                )
                .bind(id)
                .fetch_one(&mut *$tx)
                .await?;
                if others == 0 {
                    return Err($crate::store::StoreError::LastAdmin(username));
                }
            }
            Ok::<(), $crate::store::StoreError>(())
        }
    };
}
pub(crate) use guard_last_admin;

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: Uuid,
    username: String,
    display_name: String,
    email: Option<String>,
    role: String,
    password_hash: Option<String>,
    oidc_issuer: Option<String>,
    oidc_subject: Option<String>,
    disabled: bool,
    must_change_password: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_sign_in_at: Option<DateTime<Utc>>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> StoreResult<User> {
        let role: Role = row
            .role
            .parse()
            .map_err(|error| StoreError::Corrupt(format!("user {}: {error}", row.id)))?;
        let oidc_identity = match (row.oidc_issuer, row.oidc_subject) {
            (Some(issuer), Some(subject)) => Some(OidcIdentity { issuer, subject }),
            _ => None,
        };
        Ok(User {
            id: row.id,
            username: row.username,
            display_name: row.display_name,
            email: row.email,
            role,
            password_hash: row.password_hash,
            oidc_identity,
            disabled: row.disabled,
            must_change_password: row.must_change_password,
            created_at: row.created_at,
            updated_at: row.updated_at,
            last_sign_in_at: row.last_sign_in_at,
        })
    }
}

pub(crate) const USER_COLUMNS: &str = "id, username, display_name, email, role, password_hash, \
     oidc_issuer, oidc_subject, disabled, must_change_password, created_at, updated_at, \
     last_sign_in_at";

/// A change to one row that must find it, else `NotFound`.
pub(crate) fn found(rows_affected: u64) -> StoreResult<()> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

macro_rules! impl_user_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::UserStore for $store {
            async fn create_user(&self, user: $crate::store::NewUser) -> $crate::store::StoreResult<$crate::store::User> {
                let now = chrono::Utc::now();
                let id = uuid::Uuid::now_v7();
                let (issuer, subject) = match &user.oidc_identity {
                    Some(identity) => (Some(identity.issuer.clone()), Some(identity.subject.clone())),
                    None => (None, None),
                };
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                sqlx::query(
                    "INSERT INTO users (id, username, display_name, email, role, password_hash, \
                     oidc_issuer, oidc_subject, disabled, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, FALSE, $9, $9)",
                )
                .bind(id)
                .bind(&user.username)
                .bind(&user.display_name)
                .bind(&user.email)
                .bind(user.role.as_str())
                .bind(&user.password_hash)
                .bind(&issuer)
                .bind(&subject)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|error| {
                    $crate::store::shared::conflict_or(error, || {
                        format!("a user named {:?} already exists", user.username)
                    })
                })?;
                if let Some(audit) = &user.audit {
                    $crate::store::audit::append_audit_in!(tx, audit).await?;
                }
                tx.commit().await?;
                self.user_by_id(id).await
            }

            async fn user_by_id(&self, id: uuid::Uuid) -> $crate::store::StoreResult<$crate::store::User> {
                let sql = format!("SELECT {} FROM users WHERE id = $1", $crate::store::users::USER_COLUMNS);
                let row: Option<$crate::store::users::UserRow> =
                    sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?;
                row.ok_or($crate::store::StoreError::NotFound)?.try_into()
            }

            async fn user_by_username(&self, username: &str) -> $crate::store::StoreResult<$crate::store::User> {
                let sql = format!(
                    "SELECT {} FROM users WHERE LOWER(username) = LOWER($1)",
                    $crate::store::users::USER_COLUMNS
                );
                let row: Option<$crate::store::users::UserRow> =
                    sqlx::query_as(&sql).bind(username).fetch_optional(&self.pool).await?;
                row.ok_or($crate::store::StoreError::NotFound)?.try_into()
            }

            async fn list_users(
                &self,
                query: &$crate::store::UserQuery,
            ) -> $crate::store::StoreResult<$crate::store::Page<$crate::store::User>> {
                let pattern = query.search.as_deref().map($crate::store::shared::contains_pattern);
                let filter = "($1 IS NULL OR LOWER(username) LIKE $1 ESCAPE '\\' \
                     OR LOWER(display_name) LIKE $1 ESCAPE '\\' \
                     OR LOWER(COALESCE(email, '')) LIKE $1 ESCAPE '\\')";
                let sql = format!(
                    "SELECT {} FROM users WHERE {filter} \
                     ORDER BY LOWER(username), id LIMIT $2 OFFSET $3",
                    $crate::store::users::USER_COLUMNS
                );
                let rows: Vec<$crate::store::users::UserRow> = sqlx::query_as(&sql)
                    .bind(&pattern)
                    .bind($crate::store::page_size(query.limit))
                    .bind(i64::from(query.offset))
                    .fetch_all(&self.pool)
                    .await?;
                let count_sql = format!("SELECT COUNT(*) FROM users WHERE {filter}");
                let total = $crate::store::shared::page_total(
                    query.offset,
                    query.limit,
                    rows.len(),
                    sqlx::query_scalar(&count_sql).bind(&pattern).fetch_one(&self.pool),
                )
                .await?;
                Ok($crate::store::Page {
                    items: rows
                        .into_iter()
                        .map($crate::store::User::try_from)
                        .collect::<$crate::store::StoreResult<_>>()?,
                    total,
                })
            }

            async fn count_users(&self) -> $crate::store::StoreResult<u64> {
                let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
                    .fetch_one(&self.pool)
                    .await?;
                Ok($crate::store::shared::count(total))
            }

            async fn set_password_hash(
                &self,
                user_id: uuid::Uuid,
                password_hash: &str,
                must_change: bool,
            ) -> $crate::store::StoreResult<()> {
                let done = sqlx::query(
                    "UPDATE users SET password_hash = $1, must_change_password = $2, updated_at = $3 \
                     WHERE id = $4",
                )
                .bind(password_hash)
                .bind(must_change)
                .bind(chrono::Utc::now())
                .bind(user_id)
                .execute(&self.pool)
                .await?;
                $crate::store::users::found(done.rows_affected())
            }

            async fn update_user_access(
                &self,
                user_id: uuid::Uuid,
                role: app::roles::Role,
                disabled: bool,
                audit: Option<&$crate::store::NewAuditEvent>,
            ) -> $crate::store::StoreResult<$crate::store::AccessChange> {
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                let stays_admin = role == app::roles::Role::Admin && !disabled;
                $crate::store::users::guard_last_admin!(tx, user_id, stays_admin).await?;
                sqlx::query(
                    "UPDATE users SET role = $1, disabled = $2, updated_at = $3 WHERE id = $4",
                )
                .bind(role.as_str())
                .bind(disabled)
                .bind(chrono::Utc::now())
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
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
                Ok($crate::store::AccessChange {
                    user: self.user_by_id(user_id).await?,
                    sessions_ended: ended,
                })
            }

            async fn replace_password(
                &self,
                user_id: uuid::Uuid,
                password_hash: &str,
                must_change: bool,
                keep_session: Option<&str>,
                audit: Option<&$crate::store::NewAuditEvent>,
            ) -> $crate::store::StoreResult<u64> {
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                let done = sqlx::query(
                    "UPDATE users SET password_hash = $1, must_change_password = $2, updated_at = $3 \
                     WHERE id = $4",
                )
                .bind(password_hash)
                .bind(must_change)
                .bind(chrono::Utc::now())
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
                $crate::store::users::found(done.rows_affected())?;
                let ended = sqlx::query(
                    "DELETE FROM sessions WHERE user_id = $1 AND ($2 IS NULL OR token_hash <> $2)",
                )
                .bind(user_id)
                .bind(keep_session)
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

            async fn count_active_admins(&self) -> $crate::store::StoreResult<u64> {
                let count: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = FALSE",
                )
                .fetch_one(&self.pool)
                .await?;
                Ok($crate::store::shared::count(count))
            }

            async fn user_by_oidc_identity(
                &self,
                identity: &$crate::store::OidcIdentity,
            ) -> $crate::store::StoreResult<$crate::store::User> {
                let sql = format!(
                    "SELECT {} FROM users WHERE oidc_issuer = $1 AND oidc_subject = $2",
                    $crate::store::users::USER_COLUMNS
                );
                let row: Option<$crate::store::users::UserRow> = sqlx::query_as(&sql)
                    .bind(&identity.issuer)
                    .bind(&identity.subject)
                    .fetch_optional(&self.pool)
                    .await?;
                row.ok_or($crate::store::StoreError::NotFound)?.try_into()
            }

            async fn update_user_profile(
                &self,
                user_id: uuid::Uuid,
                display_name: &str,
                email: Option<&str>,
                role: app::roles::Role,
                audit: Option<&$crate::store::NewAuditEvent>,
            ) -> $crate::store::StoreResult<$crate::store::User> {
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                let stays_admin = role == app::roles::Role::Admin;
                $crate::store::users::guard_last_admin!(tx, user_id, stays_admin).await?;
                sqlx::query(
                    "UPDATE users SET display_name = $1, email = $2, role = $3, updated_at = $4 \
                     WHERE id = $5",
                )
                .bind(display_name)
                .bind(email)
                .bind(role.as_str())
                .bind(chrono::Utc::now())
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
                if let Some(audit) = audit {
                    $crate::store::audit::append_audit_in!(tx, audit).await?;
                }
                tx.commit().await?;
                self.user_by_id(user_id).await
            }

            async fn delete_user(
                &self,
                user_id: uuid::Uuid,
                audit: Option<&$crate::store::NewAuditEvent>,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.pool.begin_with(Self::BEGIN_WRITE).await?;
                $crate::store::users::guard_last_admin!(tx, user_id, false).await?;
                sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|error| match &error {
                        sqlx::Error::Database(database_error)
                            if database_error.is_foreign_key_violation() =>
                        {
                            $crate::store::StoreError::Conflict(
                                "the user owns databases, which keep their owner even when terminated (they are history): disable the user instead".to_string(),
                            )
                        }
                        _ => $crate::store::StoreError::Database(error),
                    })?;
                if let Some(audit) = audit {
                    $crate::store::audit::append_audit_in!(tx, audit).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn record_sign_in(
                &self,
                user_id: uuid::Uuid,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query("UPDATE users SET last_sign_in_at = $1 WHERE id = $2")
                    .bind(at)
                    .bind(user_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}
pub(crate) use impl_user_store;
