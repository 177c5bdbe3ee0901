//! The audit log: append-only, newest first, keyset-paginated.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{StoreError, StoreResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Outcome::Success, Outcome::Failure, Outcome::Denied]
            .into_iter()
            .find(|outcome| outcome.as_str() == value)
    }
}

#[derive(Clone, Debug)]
pub struct NewAuditEvent {
    pub actor_id: Option<Uuid>,
    pub actor_name: String,
    pub client_address: Option<String>,
    pub action: String,
    pub target: String,
    pub outcome: Outcome,
    /// Before/after summaries; never a secret.
    pub details: serde_json::Value,
}

#[derive(Clone, Debug, Serialize)]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_name: String,
    pub client_address: Option<String>,
    pub action: String,
    pub target: String,
    pub outcome: Outcome,
    pub details: serde_json::Value,
}

#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Matches targets that start with this text.
    pub target_prefix: Option<String>,
    /// Exactly this target (served by an index, unlike a prefix).
    pub target: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only events older than this id: the cursor of the next page.
    pub before_id: Option<i64>,
    pub limit: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct AuditPage {
    pub items: Vec<AuditEvent>,
    /// Pass as `before_id` to read the next page; `None` on the last one.
    pub next_before_id: Option<i64>,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends to the audit log, which can never be edited or deleted.
    async fn append_audit(&self, event: NewAuditEvent) -> StoreResult<AuditEvent>;
    /// Newest first, keyset-paginated by `before_id`.
    async fn list_audit(&self, query: &AuditQuery) -> StoreResult<AuditPage>;
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
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

/// A page of rows read with one row more than asked: that row, if it came,
/// says another page follows.
pub(crate) fn audit_page(rows: Vec<AuditRow>, limit: i64) -> StoreResult<AuditPage> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut items = rows
        .into_iter()
        .map(AuditEvent::try_from)
        .collect::<StoreResult<Vec<_>>>()?;
    let has_more = items.len() > limit;
    items.truncate(limit);
    let next_before_id = if has_more {
        items.last().map(|event| event.id)
    } else {
        None
    };
    Ok(AuditPage {
        items,
        next_before_id,
    })
}

macro_rules! impl_audit_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::AuditStore for $store {
            async fn append_audit(
                &self,
                event: $crate::store::NewAuditEvent,
            ) -> $crate::store::StoreResult<$crate::store::AuditEvent> {
                let row: $crate::store::audit::AuditRow = sqlx::query_as(
                    "INSERT INTO audit_events (at, actor_id, actor_name, client_address, action, \
                     target, outcome, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     RETURNING id, at, actor_id, actor_name, client_address, action, target, \
                     outcome, details",
                )
                .bind(chrono::Utc::now())
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

            async fn list_audit(
                &self,
                query: &$crate::store::AuditQuery,
            ) -> $crate::store::StoreResult<$crate::store::AuditPage> {
                let limit = $crate::store::page_size(query.limit);
                let rows: Vec<$crate::store::audit::AuditRow> = sqlx::query_as(
                    "SELECT id, at, actor_id, actor_name, client_address, action, target, \
                     outcome, details FROM audit_events \
                     WHERE ($1 IS NULL OR actor_name = $1) \
                       AND ($2 IS NULL OR action = $2) \
                       AND ($3 IS NULL OR target LIKE $3 ESCAPE '\\') \
                       AND ($4 IS NULL OR at >= $4) \
                       AND ($5 IS NULL OR at < $5) \
                       AND ($6 IS NULL OR id < $6) \
                       AND ($8 IS NULL OR target = $8) \
                     ORDER BY id DESC LIMIT $7",
                )
                .bind(&query.actor)
                .bind(&query.action)
                .bind(query.target_prefix.as_deref().map($crate::store::shared::prefix_pattern))
                .bind(query.since)
                .bind(query.until)
                .bind(query.before_id)
                .bind(limit + 1)
                .bind(&query.target)
                .fetch_all(&self.pool)
                .await?;
                $crate::store::audit::audit_page(rows, limit)
            }
        }
    };
}
pub(crate) use impl_audit_store;

/// Appends `event` (a `&NewAuditEvent`) inside the transaction `tx` the
/// change it records is made in: both are written, or neither.
macro_rules! append_audit_in {
    ($tx:expr, $event:expr) => {{
        let event: &$crate::store::NewAuditEvent = $event;
        sqlx::query(
            "INSERT INTO audit_events (at, actor_id, actor_name, client_address, action, \
             target, outcome, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(chrono::Utc::now())
        .bind(event.actor_id)
        .bind(&event.actor_name)
        .bind(&event.client_address)
        .bind(&event.action)
        .bind(&event.target)
        .bind(event.outcome.as_str())
        .bind(event.details.to_string())
        .execute(&mut *$tx)
    }};
}
pub(crate) use append_audit_in;
