//! The records the store reads and writes.

use app::roles::Role;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// One page of a list, with the total that matches the filters.
#[derive(Clone, Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// The largest page any list returns, whatever the caller asks.
pub const MAX_PAGE_SIZE: u32 = 200;

#[derive(Clone, Debug)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: Role,
    /// An argon2id PHC string, never a password.
    pub password_hash: Option<String>,
    pub oidc_identity: Option<OidcIdentity>,
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

#[derive(Clone, Debug)]
pub struct NewSession {
    pub token_hash: String,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Clone, Debug)]
pub struct SessionRecord {
    pub token_hash: String,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
}

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

#[derive(Clone, Debug)]
pub struct NewDatabase {
    pub owner_id: Uuid,
    pub name: String,
    pub engine: String,
    pub tier: String,
    pub region: String,
    /// The first keyspace (Cassandra) or database (PostgreSQL).
    pub schema_name: String,
    /// The form's one-time key: a second create with it returns the first database.
    pub request_key: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DatabaseRecord {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub engine: String,
    pub tier: String,
    pub region: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub schema_name: String,
    /// running, parked or terminated: what the customer wants.
    pub intent: String,
    /// Whether the engine is done with the current desired state.
    pub settled: bool,
    pub configured: bool,
    pub deletion_protection: bool,
    pub status_message: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct DatabaseQuery {
    /// Only this owner's databases; `None` for everyone's (admins).
    pub owner_id: Option<Uuid>,
    /// Names containing this text.
    pub search: Option<String>,
    pub status: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

/// What the engine reports after a reconcile.
#[derive(Clone, Debug)]
pub struct DatabaseState {
    pub status: String,
    pub message: Option<String>,
    pub settled: bool,
    pub configured: bool,
}

/// One step of a database's provisioning, for its timeline.
#[derive(Clone, Debug, Serialize)]
pub struct ProvisioningStep {
    pub id: i64,
    pub database_id: Uuid,
    pub step: String,
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// running, success or failure.
    pub outcome: String,
    pub message: Option<String>,
}

/// Clamps a requested page size to 1..=MAX_PAGE_SIZE.
pub fn page_size(requested: u32) -> i64 {
    i64::from(requested.clamp(1, MAX_PAGE_SIZE))
}

/// A single-sign-on flow between the redirect to the provider and its callback.
#[derive(Clone, Debug)]
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
