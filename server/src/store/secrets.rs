//! Secrets developers set for an app's environments: every version of every
//! value kept, sealed (`crate::crypto`), never a plaintext nor a hash of
//! one. A deletion is a version without a value. Rows are inserted, never
//! rewritten, but for re-wrapping under a new master key and the moment
//! the engine wrote them into the cluster.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Fence, Person, StoreResult};

/// Where a secret lives: the app's own Secret (`group` empty), or one of
/// its integration-test secret groups; in one environment.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SecretSlot {
    pub group: String,
    pub name: String,
}

impl SecretSlot {
    pub fn app(name: &str) -> Self {
        SecretSlot {
            group: String::new(),
            name: name.to_string(),
        }
    }

    pub fn in_group(group: &str, name: &str) -> Self {
        SecretSlot {
            group: group.to_string(),
            name: name.to_string(),
        }
    }

    /// `DATABASE_PASSWORD`, or `group foo-api: TEST_DB_PASSWORD`.
    pub fn label(&self) -> String {
        if self.group.is_empty() {
            self.name.clone()
        } else {
            format!("group {}: {}", self.group, self.name)
        }
    }
}

/// One version of one secret.
#[derive(Clone, Debug)]
pub struct SecretVersion {
    pub id: i64,
    pub app_id: Uuid,
    pub environment: String,
    pub slot: SecretSlot,
    pub version: i64,
    /// `None`: deleted at this version.
    pub sealed: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_by_name: String,
    pub created_at: DateTime<Utc>,
    pub synced_at: Option<DateTime<Utc>>,
}

/// A version to insert: sealed by the caller for exactly this app,
/// environment, slot and version.
#[derive(Clone, Debug)]
pub struct NewSecretVersion {
    pub slot: SecretSlot,
    pub version: i64,
    pub sealed: Option<String>,
}

/// What a deployment wrote: each slot's version, sorted.
pub type SecretVersions = Vec<(SecretSlot, i64)>;

/// A sealed value as re-wrapping sees it.
#[derive(Clone, Debug)]
pub struct SealedSecret {
    pub id: i64,
    pub app_id: Uuid,
    pub environment: String,
    pub slot: SecretSlot,
    pub version: i64,
    pub sealed: String,
}

#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Inserts versions for one app and environment, with the audit event,
    /// in one transaction: all or none. `Conflict` when one of the versions
    /// exists (someone wrote meanwhile).
    async fn insert_secret_versions(
        &self,
        app: Uuid,
        environment: &str,
        versions: &[NewSecretVersion],
        by: &Person,
        audit: Option<&super::NewAuditEvent>,
    ) -> StoreResult<()>;
    /// The newest version of every slot of an app in an environment
    /// (deletions included), by slot.
    async fn latest_secrets(&self, app: Uuid, environment: &str)
    -> StoreResult<Vec<SecretVersion>>;
    /// Every version of one slot, newest first.
    async fn secret_history(
        &self,
        app: Uuid,
        environment: &str,
        slot: &SecretSlot,
    ) -> StoreResult<Vec<SecretVersion>>;
    /// After the engine wrote the environment's Secrets from the versions
    /// up to row `through`: they are in the cluster now.
    async fn mark_secrets_synced(
        &self,
        fence: Option<&Fence>,
        app: Uuid,
        environment: &str,
        through: i64,
    ) -> StoreResult<()>;
    /// Records on the deployment which versions it wrote.
    async fn record_secret_versions(
        &self,
        fence: Option<&Fence>,
        deployment: i64,
        versions: &SecretVersions,
    ) -> StoreResult<()>;
    /// The versions a deployment wrote (`None` before secrets existed).
    async fn deployment_secret_versions(
        &self,
        deployment: i64,
    ) -> StoreResult<Option<SecretVersions>>;
    /// The newest deployment of the app in the environment (any status)
    /// and the versions it wrote, if it wrote any.
    async fn last_secret_attempt(
        &self,
        app: Uuid,
        environment: &str,
    ) -> StoreResult<Option<(i64, Option<SecretVersions>)>>;
    /// (app, environment) with a change not yet in the cluster.
    async fn unsynced_secrets(&self, environments: &[String]) -> StoreResult<Vec<(Uuid, String)>>;

    /// Every sealed value, for re-wrapping and the start-up key check
    /// (`after` an id, at most `limit`, by id).
    async fn sealed_secrets(&self, after: i64, limit: u32) -> StoreResult<Vec<SealedSecret>>;
    /// Replaces one sealed value by the same value sealed under another
    /// key, if it is still `old`. `false` when it changed meanwhile.
    async fn rewrap_secret(&self, id: i64, old: &str, new: &str) -> StoreResult<bool>;
    /// Rows per master key id, of every sealed value the portal keeps.
    async fn sealed_rows_per_key(&self) -> StoreResult<Vec<(String, u64)>>;
    /// The apps' own sealed values (repository credentials, webhook
    /// secrets), for re-wrapping.
    async fn sealed_app_rows(&self) -> StoreResult<Vec<SealedAppRow>>;
    /// Like [`SecretStore::rewrap_secret`], for one of an app's own values.
    async fn rewrap_app_value(
        &self,
        app: Uuid,
        which: AppSealed,
        old: &str,
        new: &str,
    ) -> StoreResult<bool>;
}

/// An app's own sealed values.
#[derive(Clone, Debug)]
pub struct SealedAppRow {
    pub app_id: Uuid,
    pub credentials: Option<String>,
    pub webhook_secret: String,
    pub webhook_secret_version: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppSealed {
    Credentials,
    WebhookSecret,
}

#[derive(sqlx::FromRow)]
pub(crate) struct SecretRow {
    id: i64,
    app_id: Uuid,
    environment: String,
    secret_group: String,
    name: String,
    version: i64,
    sealed: Option<String>,
    created_by: Option<Uuid>,
    created_by_name: String,
    created_at: DateTime<Utc>,
    synced_at: Option<DateTime<Utc>>,
}

pub(crate) const SECRET_COLUMNS: &str = "id, app_id, environment, secret_group, name, version, \
     sealed, created_by, created_by_name, created_at, synced_at";

impl From<SecretRow> for SecretVersion {
    fn from(row: SecretRow) -> Self {
        SecretVersion {
            id: row.id,
            app_id: row.app_id,
            environment: row.environment,
            slot: SecretSlot {
                group: row.secret_group,
                name: row.name,
            },
            version: row.version,
            sealed: row.sealed,
            created_by: row.created_by,
            created_by_name: row.created_by_name,
            created_at: row.created_at,
            synced_at: row.synced_at,
        }
    }
}
