//! The SQL both stores share, written once.
//!
//! SQLite and PostgreSQL accept the same statements here (`$N` parameters,
//! `RETURNING`, `LOWER`, `LIKE … ESCAPE`), so one body serves both. A macro
//! stamps it onto each pool type: a generic version over `sqlx::Database`
//! needs a wall of trait bounds that hides the queries. Engine-specific
//! behaviour (connection options, migrations) lives in `sqlite.rs` and
//! `postgres.rs`.

use app::roles::Role;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    AuditEvent, DatabaseRecord, OidcIdentity, Outcome, ProvisioningStep, SessionRecord, SignInFlow,
    StoreError, StoreResult, User,
};

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    id: Uuid,
    username: String,
    display_name: String,
    email: Option<String>,
    role: String,
    password_hash: Option<String>,
    oidc_issuer: Option<String>,
    oidc_subject: Option<String>,
    disabled: bool,
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
            created_at: row.created_at,
            updated_at: row.updated_at,
            last_sign_in_at: row.last_sign_in_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    token_hash: String,
    user_id: Uuid,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    client_address: Option<String>,
    user_agent: Option<String>,
}

impl From<SessionRow> for SessionRecord {
    fn from(row: SessionRow) -> Self {
        SessionRecord {
            token_hash: row.token_hash,
            user_id: row.user_id,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            expires_at: row.expires_at,
            client_address: row.client_address,
            user_agent: row.user_agent,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    id: i64,
    at: DateTime<Utc>,
    actor_id: Option<Uuid>,
    actor_name: String,
    client_address: Option<String>,
    action: String,
    target: String,
    outcome: String,
    details: String,
}

impl TryFrom<AuditRow> for AuditEvent {
    type Error = StoreError;

    fn try_from(row: AuditRow) -> StoreResult<AuditEvent> {
        let outcome = Outcome::parse(&row.outcome).ok_or_else(|| {
            StoreError::Corrupt(format!("audit event {}: outcome {:?}", row.id, row.outcome))
        })?;
        let details = serde_json::from_str(&row.details)
            .map_err(|error| StoreError::Corrupt(format!("audit event {}: {error}", row.id)))?;
        Ok(AuditEvent {
            id: row.id,
            at: row.at,
            actor_id: row.actor_id,
            actor_name: row.actor_name,
            client_address: row.client_address,
            action: row.action,
            target: row.target,
            outcome,
            details,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct DatabaseRow {
    id: Uuid,
    owner_id: Uuid,
    name: String,
    engine: String,
    tier: String,
    region: String,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    schema_name: String,
    intent: String,
    settled: bool,
    configured: bool,
    deletion_protection: bool,
    status_message: Option<String>,
}

pub(super) const DATABASE_COLUMNS: &str = "id, owner_id, name, engine, tier, region, status, \
     created_at, updated_at, schema_name, intent, settled, configured, deletion_protection, \
     status_message";

#[derive(sqlx::FromRow)]
pub(super) struct StepRow {
    id: i64,
    database_id: Uuid,
    step: String,
    attempt: i32,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    outcome: String,
    message: Option<String>,
}

impl From<StepRow> for ProvisioningStep {
    fn from(row: StepRow) -> Self {
        ProvisioningStep {
            id: row.id,
            database_id: row.database_id,
            step: row.step,
            attempt: row.attempt,
            started_at: row.started_at,
            finished_at: row.finished_at,
            outcome: row.outcome,
            message: row.message,
        }
    }
}

impl From<DatabaseRow> for DatabaseRecord {
    fn from(row: DatabaseRow) -> Self {
        DatabaseRecord {
            id: row.id,
            owner_id: row.owner_id,
            name: row.name,
            engine: row.engine,
            tier: row.tier,
            region: row.region,
            status: row.status,
            created_at: row.created_at,
            updated_at: row.updated_at,
            schema_name: row.schema_name,
            intent: row.intent,
            settled: row.settled,
            configured: row.configured,
            deletion_protection: row.deletion_protection,
            status_message: row.status_message,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SignInFlowRow {
    id_hash: String,
    provider: String,
    csrf_state: String,
    nonce: String,
    pkce_verifier: String,
    next_path: String,
    created_at: DateTime<Utc>,
}

impl From<SignInFlowRow> for SignInFlow {
    fn from(row: SignInFlowRow) -> Self {
        SignInFlow {
            id_hash: row.id_hash,
            provider: row.provider,
            csrf_state: row.csrf_state,
            nonce: row.nonce,
            pkce_verifier: row.pkce_verifier,
            next_path: row.next_path,
            created_at: row.created_at,
        }
    }
}

/// Turns a uniqueness violation into a `Conflict` that says what clashed.
pub(super) fn conflict_or(error: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    match &error {
        sqlx::Error::Database(database_error) if database_error.is_unique_violation() => {
            StoreError::Conflict(what())
        }
        _ => StoreError::Database(error),
    }
}

/// A `LIKE` pattern that matches `text` anywhere, with its wildcards escaped.
pub(super) fn contains_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The `WHERE` clause of a database listing and how many parameters it binds,
/// in this order: owner, name pattern, status.
pub(super) struct DatabaseFilter {
    pub sql: String,
    pub parameters: usize,
}

pub(super) fn database_filter(owner: bool, search: bool, status: bool) -> DatabaseFilter {
    let mut clauses: Vec<String> = Vec::new();
    if owner {
        let parameter = format!("${}", clauses.len() + 1);
        clauses.push(format!("owner_id = {parameter}"));
    }
    if search {
        let parameter = format!("${}", clauses.len() + 1);
        clauses.push(format!("LOWER(name) LIKE {parameter} ESCAPE '\\'"));
    }
    if status {
        let parameter = format!("${}", clauses.len() + 1);
        clauses.push(format!("status = {parameter}"));
    }
    DatabaseFilter {
        sql: if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        },
        parameters: clauses.len(),
    }
}

/// A `LIKE` pattern that matches values starting with `text`.
pub(super) fn prefix_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("{escaped}%")
}

pub(super) const USER_COLUMNS: &str = "id, username, display_name, email, role, password_hash, \
     oidc_issuer, oidc_subject, disabled, created_at, updated_at, last_sign_in_at";

/// Implements `Store` for a struct with a `pool` field of the given sqlx pool type.
macro_rules! impl_store_queries {
    ($store:ty) => {
        use $crate::store::sql::{
            AuditRow, DATABASE_COLUMNS, DatabaseRow, SessionRow, SignInFlowRow, StepRow,
            USER_COLUMNS, UserRow, conflict_or,
            contains_pattern, database_filter, prefix_pattern,
        };
        use $crate::store::{
            AuditEvent, AuditPage, AuditQuery, DatabaseQuery, DatabaseRecord, DatabaseState,
            NewAuditEvent, NewDatabase, NewSession, NewUser, OidcIdentity, Page, ProvisioningStep,
            SessionRecord, SignInFlow, StoreError, StoreResult, User, UserQuery, page_size,
        };

        impl $store {
            async fn create_user_impl(&self, user: NewUser) -> StoreResult<User> {
                let now = chrono::Utc::now();
                let id = uuid::Uuid::now_v7();
                let (issuer, subject) = match &user.oidc_identity {
                    Some(identity) => (Some(identity.issuer.clone()), Some(identity.subject.clone())),
                    None => (None, None),
                };
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
                .execute(&self.pool)
                .await
                .map_err(|error| {
                    conflict_or(error, || {
                        format!("a user named {:?} already exists", user.username)
                    })
                })?;
                self.user_by_id_impl(id).await
            }

            async fn user_by_id_impl(&self, id: uuid::Uuid) -> StoreResult<User> {
                let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
                let row: Option<UserRow> = sqlx::query_as(&sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.ok_or(StoreError::NotFound)?.try_into()
            }

            async fn user_by_username_impl(&self, username: &str) -> StoreResult<User> {
                let sql =
                    format!("SELECT {USER_COLUMNS} FROM users WHERE LOWER(username) = LOWER($1)");
                let row: Option<UserRow> = sqlx::query_as(&sql)
                    .bind(username)
                    .fetch_optional(&self.pool)
                    .await?;
                row.ok_or(StoreError::NotFound)?.try_into()
            }

            async fn list_users_impl(&self, query: &UserQuery) -> StoreResult<Page<User>> {
                let pattern = query.search.as_deref().map(contains_pattern);
                let filter = "($1 IS NULL OR LOWER(username) LIKE $1 ESCAPE '\\' \
                     OR LOWER(display_name) LIKE $1 ESCAPE '\\' \
                     OR LOWER(COALESCE(email, '')) LIKE $1 ESCAPE '\\')";
                let sql = format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE {filter} \
                     ORDER BY LOWER(username), id LIMIT $2 OFFSET $3"
                );
                let rows: Vec<UserRow> = sqlx::query_as(&sql)
                    .bind(&pattern)
                    .bind(page_size(query.limit))
                    .bind(i64::from(query.offset))
                    .fetch_all(&self.pool)
                    .await?;
                let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM users WHERE {filter}"))
                    .bind(&pattern)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(Page {
                    items: rows.into_iter().map(User::try_from).collect::<StoreResult<_>>()?,
                    total: u64::try_from(total).unwrap_or_default(),
                })
            }

            async fn count_users_impl(&self) -> StoreResult<u64> {
                let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(u64::try_from(total).unwrap_or_default())
            }

            async fn user_by_oidc_identity_impl(&self, identity: &OidcIdentity) -> StoreResult<User> {
                let sql = format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE oidc_issuer = $1 AND oidc_subject = $2"
                );
                let row: Option<UserRow> = sqlx::query_as(&sql)
                    .bind(&identity.issuer)
                    .bind(&identity.subject)
                    .fetch_optional(&self.pool)
                    .await?;
                row.ok_or(StoreError::NotFound)?.try_into()
            }

            async fn update_user_profile_impl(
                &self,
                user_id: uuid::Uuid,
                display_name: &str,
                email: Option<&str>,
                role: app::roles::Role,
            ) -> StoreResult<User> {
                let done = sqlx::query(
                    "UPDATE users SET display_name = $1, email = $2, role = $3, updated_at = $4 \
                     WHERE id = $5",
                )
                .bind(display_name)
                .bind(email)
                .bind(role.as_str())
                .bind(chrono::Utc::now())
                .bind(user_id)
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                self.user_by_id_impl(user_id).await
            }

            async fn delete_user_impl(&self, user_id: uuid::Uuid) -> StoreResult<()> {
                let done = sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(user_id)
                    .execute(&self.pool)
                    .await
                    .map_err(|error| match &error {
                        sqlx::Error::Database(database_error)
                            if database_error.is_foreign_key_violation() =>
                        {
                            StoreError::Conflict(
                                "the user owns databases, which keep their owner even when terminated (they are history): disable the user instead".to_string(),
                            )
                        }
                        _ => StoreError::Database(error),
                    })?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn create_sign_in_flow_impl(&self, flow: SignInFlow) -> StoreResult<()> {
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
                .map_err(|error| conflict_or(error, || "the sign-in flow exists already".to_string()))?;
                Ok(())
            }

            async fn take_sign_in_flow_impl(&self, id_hash: &str) -> StoreResult<SignInFlow> {
                let row: Option<SignInFlowRow> = sqlx::query_as(
                    "DELETE FROM sign_in_flows WHERE id_hash = $1 RETURNING id_hash, provider, \
                     csrf_state, nonce, pkce_verifier, next_path, created_at",
                )
                .bind(id_hash)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.ok_or(StoreError::NotFound)?.into())
            }

            async fn delete_sign_in_flows_before_impl(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> StoreResult<u64> {
                let done = sqlx::query("DELETE FROM sign_in_flows WHERE created_at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn create_session_impl(&self, session: NewSession) -> StoreResult<()> {
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
                .map_err(|error| conflict_or(error, || "the session exists already".to_string()))?;
                Ok(())
            }

            async fn session_impl(&self, token_hash: &str) -> StoreResult<SessionRecord> {
                let row: Option<SessionRow> = sqlx::query_as(
                    "SELECT token_hash, user_id, created_at, last_seen_at, expires_at, \
                     client_address, user_agent FROM sessions WHERE token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.ok_or(StoreError::NotFound)?.into())
            }

            async fn touch_session_impl(
                &self,
                token_hash: &str,
                seen_at: chrono::DateTime<chrono::Utc>,
            ) -> StoreResult<()> {
                let done = sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1")
                    .bind(token_hash)
                    .bind(seen_at)
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn set_password_hash_impl(
                &self,
                user_id: uuid::Uuid,
                password_hash: &str,
            ) -> StoreResult<()> {
                let done = sqlx::query(
                    "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3",
                )
                .bind(password_hash)
                .bind(chrono::Utc::now())
                .bind(user_id)
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn record_sign_in_impl(
                &self,
                user_id: uuid::Uuid,
                at: chrono::DateTime<chrono::Utc>,
            ) -> StoreResult<()> {
                sqlx::query("UPDATE users SET last_sign_in_at = $1 WHERE id = $2")
                    .bind(at)
                    .bind(user_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn update_user_access_impl(
                &self,
                user_id: uuid::Uuid,
                role: app::roles::Role,
                disabled: bool,
            ) -> StoreResult<User> {
                let done = sqlx::query(
                    "UPDATE users SET role = $1, disabled = $2, updated_at = $3 WHERE id = $4",
                )
                .bind(role.as_str())
                .bind(disabled)
                .bind(chrono::Utc::now())
                .bind(user_id)
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                self.user_by_id_impl(user_id).await
            }

            async fn count_active_admins_impl(&self) -> StoreResult<u64> {
                let count: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = FALSE",
                )
                .fetch_one(&self.pool)
                .await?;
                Ok(u64::try_from(count).unwrap_or(0))
            }

            async fn delete_session_impl(&self, token_hash: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_sessions_of_user_impl(&self, user_id: uuid::Uuid) -> StoreResult<u64> {
                let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn delete_other_sessions_of_user_impl(
                &self,
                user_id: uuid::Uuid,
                keep_token_hash: &str,
            ) -> StoreResult<u64> {
                let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
                    .bind(user_id)
                    .bind(keep_token_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn append_audit_impl(&self, event: NewAuditEvent) -> StoreResult<AuditEvent> {
                let at = chrono::Utc::now();
                let row: AuditRow = sqlx::query_as(
                    "INSERT INTO audit_events (at, actor_id, actor_name, client_address, action, \
                     target, outcome, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     RETURNING id, at, actor_id, actor_name, client_address, action, target, \
                     outcome, details",
                )
                .bind(at)
                .bind(event.actor_id)
                .bind(&event.actor_name)
                .bind(&event.client_address)
                .bind(&event.action)
                .bind(&event.target)
                .bind(event.outcome.as_str())
                .bind(event.details.to_string())
                .fetch_one(&self.pool)
                .await?;
                row.try_into()
            }

            async fn list_audit_impl(&self, query: &AuditQuery) -> StoreResult<AuditPage> {
                let limit = page_size(query.limit);
                // One row more than asked says whether another page follows.
                let rows: Vec<AuditRow> = sqlx::query_as(
                    "SELECT id, at, actor_id, actor_name, client_address, action, target, \
                     outcome, details FROM audit_events \
                     WHERE ($1 IS NULL OR actor_name = $1) \
                       AND ($2 IS NULL OR action = $2) \
                       AND ($3 IS NULL OR target LIKE $3 ESCAPE '\\') \
                       AND ($4 IS NULL OR at >= $4) \
                       AND ($5 IS NULL OR at < $5) \
                       AND ($6 IS NULL OR id < $6) \
                     ORDER BY id DESC LIMIT $7",
                )
                .bind(&query.actor)
                .bind(&query.action)
                .bind(query.target_prefix.as_deref().map(prefix_pattern))
                .bind(query.since)
                .bind(query.until)
                .bind(query.before_id)
                .bind(limit + 1)
                .fetch_all(&self.pool)
                .await?;
                let mut items = rows
                    .into_iter()
                    .map(AuditEvent::try_from)
                    .collect::<StoreResult<Vec<_>>>()?;
                let has_more = items.len() > usize::try_from(limit).unwrap_or(usize::MAX);
                items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
                let next_before_id = if has_more { items.last().map(|event| event.id) } else { None };
                Ok(AuditPage { items, next_before_id })
            }

            async fn create_database_impl(&self, database: NewDatabase) -> StoreResult<DatabaseRecord> {
                if let Some(earlier) = self.database_by_request_key(&database).await? {
                    return Ok(earlier);
                }
                let now = chrono::Utc::now();
                let id = uuid::Uuid::now_v7();
                let inserted = sqlx::query(
                    "INSERT INTO databases (id, owner_id, name, engine, tier, region, status, \
                     created_at, updated_at, schema_name, request_key) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'PENDING', $7, $7, $8, $9)",
                )
                .bind(id)
                .bind(database.owner_id)
                .bind(&database.name)
                .bind(&database.engine)
                .bind(&database.tier)
                .bind(&database.region)
                .bind(now)
                .bind(&database.schema_name)
                .bind(&database.request_key)
                .execute(&self.pool)
                .await;
                if let Err(error) = inserted {
                    // The same form sent twice at once: the other request
                    // created it, and this one answers with that database.
                    if let Some(earlier) = self.database_by_request_key(&database).await? {
                        return Ok(earlier);
                    }
                    return Err(conflict_or(error, || {
                        format!("you already have a database named {:?}", database.name)
                    }));
                }
                self.database_impl(id).await
            }

            /// The database an earlier sending of the same create form made.
            async fn database_by_request_key(
                &self,
                database: &NewDatabase,
            ) -> StoreResult<Option<DatabaseRecord>> {
                let Some(key) = &database.request_key else {
                    return Ok(None);
                };
                let sql = format!(
                    "SELECT {DATABASE_COLUMNS} FROM databases WHERE owner_id = $1 AND request_key = $2"
                );
                let earlier: Option<DatabaseRow> = sqlx::query_as(&sql)
                    .bind(database.owner_id)
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(earlier.map(DatabaseRecord::from))
            }

            async fn database_impl(&self, id: uuid::Uuid) -> StoreResult<DatabaseRecord> {
                let sql = format!("SELECT {DATABASE_COLUMNS} FROM databases WHERE id = $1");
                let row: Option<DatabaseRow> = sqlx::query_as(&sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.ok_or(StoreError::NotFound)?.into())
            }

            async fn list_databases_impl(
                &self,
                query: &DatabaseQuery,
            ) -> StoreResult<Page<DatabaseRecord>> {
                let pattern = query.search.as_deref().map(contains_pattern);
                // Only the filters given, so each listing can use its index
                // (`x IS NULL OR …` would make both engines scan the table).
                let filter = database_filter(query.owner_id.is_some(), pattern.is_some(), query.status.is_some());
                let parameters = filter.parameters;
                let sql = format!(
                    "SELECT {DATABASE_COLUMNS} FROM databases {where_clause} \
                     ORDER BY created_at DESC, id DESC LIMIT ${limit} OFFSET ${offset}",
                    where_clause = filter.sql,
                    limit = parameters + 1,
                    offset = parameters + 2,
                );
                let mut rows_query = sqlx::query_as::<_, DatabaseRow>(&sql);
                let count_sql = format!("SELECT COUNT(*) FROM databases {}", filter.sql);
                let mut count_query = sqlx::query_scalar::<_, i64>(&count_sql);
                if let Some(owner) = query.owner_id {
                    rows_query = rows_query.bind(owner);
                    count_query = count_query.bind(owner);
                }
                if let Some(pattern) = &pattern {
                    rows_query = rows_query.bind(pattern.clone());
                    count_query = count_query.bind(pattern.clone());
                }
                if let Some(status) = &query.status {
                    rows_query = rows_query.bind(status.clone());
                    count_query = count_query.bind(status.clone());
                }
                let rows = rows_query
                    .bind(page_size(query.limit))
                    .bind(i64::from(query.offset))
                    .fetch_all(&self.pool)
                    .await?;
                let total = count_query.fetch_one(&self.pool).await?;
                Ok(Page {
                    items: rows.into_iter().map(DatabaseRecord::from).collect(),
                    total: u64::try_from(total).unwrap_or_default(),
                })
            }

            async fn update_database_state_impl(
                &self,
                id: uuid::Uuid,
                state: DatabaseState,
            ) -> StoreResult<()> {
                let done = sqlx::query(
                    "UPDATE databases SET status = $1, status_message = $2, settled = $3, \
                     configured = $4, updated_at = $5 WHERE id = $6",
                )
                .bind(&state.status)
                .bind(&state.message)
                .bind(state.settled)
                .bind(state.configured)
                .bind(chrono::Utc::now())
                .bind(id)
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn set_database_intent_impl(
                &self,
                id: uuid::Uuid,
                intent: &str,
                tier: &str,
            ) -> StoreResult<DatabaseRecord> {
                let done = sqlx::query(
                    "UPDATE databases SET intent = $1, tier = $2, settled = FALSE, updated_at = $3 \
                     WHERE id = $4",
                )
                .bind(intent)
                .bind(tier)
                .bind(chrono::Utc::now())
                .bind(id)
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                self.database_impl(id).await
            }

            async fn set_deletion_protection_impl(&self, id: uuid::Uuid, enabled: bool) -> StoreResult<()> {
                let done = sqlx::query(
                    "UPDATE databases SET deletion_protection = $1, updated_at = $2 WHERE id = $3",
                )
                .bind(enabled)
                .bind(chrono::Utc::now())
                .bind(id)
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn request_reconfigure_impl(&self, id: uuid::Uuid) -> StoreResult<()> {
                let done = sqlx::query(
                    "UPDATE databases SET configured = FALSE, settled = FALSE, updated_at = $1 WHERE id = $2",
                )
                .bind(chrono::Utc::now())
                .bind(id)
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn provisioning_durations_impl(&self, engine: &str, limit: u32) -> StoreResult<Vec<f64>> {
                // The first "configured" step ends a provision; later steps
                // (park, resize, rotate) do not count.
                let rows: Vec<(chrono::DateTime<chrono::Utc>, Option<chrono::DateTime<chrono::Utc>>)> = sqlx::query_as(
                    "SELECT MIN(s.started_at), MIN(CASE WHEN s.step = 'configured' THEN s.finished_at END) \
                     FROM provisioning_steps s JOIN databases d ON d.id = s.database_id \
                     WHERE d.engine = $1 AND d.configured = TRUE \
                     GROUP BY d.id, d.created_at ORDER BY d.created_at DESC LIMIT $2",
                )
                .bind(engine)
                .bind(i64::from(limit.max(1)))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .filter_map(|(started, finished)| {
                        let finished = finished?;
                        Some((finished - started).num_milliseconds() as f64 / 1000.0)
                    })
                    .collect())
            }

            async fn unsettled_databases_impl(&self, limit: u32) -> StoreResult<Vec<DatabaseRecord>> {
                let sql = format!(
                    "SELECT {DATABASE_COLUMNS} FROM databases WHERE settled = FALSE \
                     ORDER BY updated_at, id LIMIT $1"
                );
                let rows: Vec<DatabaseRow> = sqlx::query_as(&sql)
                    .bind(i64::from(limit.max(1)))
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(DatabaseRecord::from).collect())
            }

            async fn start_step_impl(
                &self,
                database_id: uuid::Uuid,
                step: &str,
                attempt: i32,
            ) -> StoreResult<i64> {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO provisioning_steps (database_id, step, attempt, started_at, outcome) \
                     VALUES ($1, $2, $3, $4, 'running') RETURNING id",
                )
                .bind(database_id)
                .bind(step)
                .bind(attempt)
                .bind(chrono::Utc::now())
                .fetch_one(&self.pool)
                .await?;
                Ok(id)
            }

            async fn finish_step_impl(
                &self,
                step_id: i64,
                outcome: &str,
                message: Option<&str>,
            ) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE provisioning_steps SET outcome = $1, message = $2, finished_at = $3 \
                     WHERE id = $4",
                )
                .bind(outcome)
                .bind(message)
                .bind(chrono::Utc::now())
                .bind(step_id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn steps_impl(&self, database_id: uuid::Uuid) -> StoreResult<Vec<ProvisioningStep>> {
                let rows: Vec<StepRow> = sqlx::query_as(
                    "SELECT id, database_id, step, attempt, started_at, finished_at, outcome, message \
                     FROM provisioning_steps WHERE database_id = $1 ORDER BY id",
                )
                .bind(database_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(ProvisioningStep::from).collect())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn kind(&self) -> &'static str {
                Self::KIND
            }
            async fn migrate(&self) -> StoreResult<()> {
                self.run_migrations().await
            }
            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }
            async fn create_user(&self, user: NewUser) -> StoreResult<User> {
                self.create_user_impl(user).await
            }
            async fn user_by_id(&self, id: uuid::Uuid) -> StoreResult<User> {
                self.user_by_id_impl(id).await
            }
            async fn user_by_username(&self, username: &str) -> StoreResult<User> {
                self.user_by_username_impl(username).await
            }
            async fn list_users(&self, query: &UserQuery) -> StoreResult<Page<User>> {
                self.list_users_impl(query).await
            }
            async fn count_users(&self) -> StoreResult<u64> {
                self.count_users_impl().await
            }
            async fn set_password_hash(
                &self,
                user_id: uuid::Uuid,
                password_hash: &str,
            ) -> StoreResult<()> {
                self.set_password_hash_impl(user_id, password_hash).await
            }
            async fn record_sign_in(
                &self,
                user_id: uuid::Uuid,
                at: chrono::DateTime<chrono::Utc>,
            ) -> StoreResult<()> {
                self.record_sign_in_impl(user_id, at).await
            }
            async fn update_user_access(
                &self,
                user_id: uuid::Uuid,
                role: app::roles::Role,
                disabled: bool,
            ) -> StoreResult<User> {
                self.update_user_access_impl(user_id, role, disabled).await
            }
            async fn count_active_admins(&self) -> StoreResult<u64> {
                self.count_active_admins_impl().await
            }
            async fn user_by_oidc_identity(&self, identity: &OidcIdentity) -> StoreResult<User> {
                self.user_by_oidc_identity_impl(identity).await
            }
            async fn update_user_profile(
                &self,
                user_id: uuid::Uuid,
                display_name: &str,
                email: Option<&str>,
                role: app::roles::Role,
            ) -> StoreResult<User> {
                self.update_user_profile_impl(user_id, display_name, email, role).await
            }
            async fn delete_user(&self, user_id: uuid::Uuid) -> StoreResult<()> {
                self.delete_user_impl(user_id).await
            }
            async fn create_sign_in_flow(&self, flow: SignInFlow) -> StoreResult<()> {
                self.create_sign_in_flow_impl(flow).await
            }
            async fn take_sign_in_flow(&self, id_hash: &str) -> StoreResult<SignInFlow> {
                self.take_sign_in_flow_impl(id_hash).await
            }
            async fn delete_sign_in_flows_before(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> StoreResult<u64> {
                self.delete_sign_in_flows_before_impl(before).await
            }
            async fn create_session(&self, session: NewSession) -> StoreResult<()> {
                self.create_session_impl(session).await
            }
            async fn session(&self, token_hash: &str) -> StoreResult<SessionRecord> {
                self.session_impl(token_hash).await
            }
            async fn touch_session(
                &self,
                token_hash: &str,
                seen_at: chrono::DateTime<chrono::Utc>,
            ) -> StoreResult<()> {
                self.touch_session_impl(token_hash, seen_at).await
            }
            async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
                self.delete_session_impl(token_hash).await
            }
            async fn delete_sessions_of_user(&self, user_id: uuid::Uuid) -> StoreResult<u64> {
                self.delete_sessions_of_user_impl(user_id).await
            }
            async fn delete_other_sessions_of_user(
                &self,
                user_id: uuid::Uuid,
                keep_token_hash: &str,
            ) -> StoreResult<u64> {
                self.delete_other_sessions_of_user_impl(user_id, keep_token_hash).await
            }
            async fn append_audit(&self, event: NewAuditEvent) -> StoreResult<AuditEvent> {
                self.append_audit_impl(event).await
            }
            async fn list_audit(&self, query: &AuditQuery) -> StoreResult<AuditPage> {
                self.list_audit_impl(query).await
            }
            async fn create_database(&self, database: NewDatabase) -> StoreResult<DatabaseRecord> {
                self.create_database_impl(database).await
            }
            async fn database(&self, id: uuid::Uuid) -> StoreResult<DatabaseRecord> {
                self.database_impl(id).await
            }
            async fn list_databases(
                &self,
                query: &DatabaseQuery,
            ) -> StoreResult<Page<DatabaseRecord>> {
                self.list_databases_impl(query).await
            }
            async fn update_database_state(
                &self,
                id: uuid::Uuid,
                state: DatabaseState,
            ) -> StoreResult<()> {
                self.update_database_state_impl(id, state).await
            }
            async fn set_database_intent(
                &self,
                id: uuid::Uuid,
                intent: &str,
                tier: &str,
            ) -> StoreResult<DatabaseRecord> {
                self.set_database_intent_impl(id, intent, tier).await
            }
            async fn set_deletion_protection(&self, id: uuid::Uuid, enabled: bool) -> StoreResult<()> {
                self.set_deletion_protection_impl(id, enabled).await
            }
            async fn request_reconfigure(&self, id: uuid::Uuid) -> StoreResult<()> {
                self.request_reconfigure_impl(id).await
            }
            async fn provisioning_durations(&self, engine: &str, limit: u32) -> StoreResult<Vec<f64>> {
                self.provisioning_durations_impl(engine, limit).await
            }
            async fn unsettled_databases(&self, limit: u32) -> StoreResult<Vec<DatabaseRecord>> {
                self.unsettled_databases_impl(limit).await
            }
            async fn start_step(
                &self,
                database_id: uuid::Uuid,
                step: &str,
                attempt: i32,
            ) -> StoreResult<i64> {
                self.start_step_impl(database_id, step, attempt).await
            }
            async fn finish_step(
                &self,
                step_id: i64,
                outcome: &str,
                message: Option<&str>,
            ) -> StoreResult<()> {
                self.finish_step_impl(step_id, outcome, message).await
            }
            async fn steps(&self, database_id: uuid::Uuid) -> StoreResult<Vec<ProvisioningStep>> {
                self.steps_impl(database_id).await
            }
        }
    };
}

pub(crate) use impl_store_queries;
