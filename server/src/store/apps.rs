//! Applications: each a git repository the portal follows, its maintainers,
//! what the poller last saw, and the releases (each new head of the tracked
//! branch, with its `dscloud.yaml` and the verdict of the portal's checks).
//! Credentials and the webhook secret are stored sealed (`crate::crypto`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Page, StoreError, StoreResult};

pub use app::apps::BuildMode;

/// How the portal authenticates to a repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialsKind {
    Token,
    SshKey,
}

impl CredentialsKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialsKind::Token => "token",
            CredentialsKind::SshKey => "ssh-key",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "token" => Some(CredentialsKind::Token),
            "ssh-key" => Some(CredentialsKind::SshKey),
            _ => None,
        }
    }
}

/// Sealed credentials, as the store keeps them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedCredentials {
    pub kind: CredentialsKind,
    pub sealed: String,
}

#[derive(Clone, Debug)]
pub struct NewApp {
    /// Made by the caller: sealed values are bound to it.
    pub id: Uuid,
    pub name: String,
    pub repository_url: String,
    pub branch: String,
    pub poll_interval_seconds: u32,
    pub credentials: Option<SealedCredentials>,
    pub webhook_secret_sealed: String,
    pub created_by: Option<Uuid>,
    pub maintainers: Vec<Uuid>,
    pub build: BuildMode,
    /// Written in the transaction that creates the app.
    pub audit: Option<super::NewAuditEvent>,
}

#[derive(Clone, Debug)]
pub struct AppRecord {
    pub id: Uuid,
    pub name: String,
    pub repository_url: String,
    pub branch: String,
    pub poll_interval_seconds: u32,
    pub credentials: Option<SealedCredentials>,
    pub webhook_secret_sealed: String,
    pub webhook_secret_version: i64,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub head_sha: Option<String>,
    pub last_polled_at: Option<DateTime<Utc>>,
    pub last_webhook_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub failures: u32,
    pub next_poll_at: DateTime<Utc>,
    pub build: BuildMode,
}

/// A changed setting of an app, by a maintainer.
#[derive(Clone, Debug)]
pub enum AppSettings {
    Branch(String),
    PollInterval(u32),
    /// `None` removes them.
    Credentials(Option<SealedCredentials>),
    /// A new secret: its version goes up by one.
    WebhookSecret(String),
    Maintainers(Vec<Uuid>),
    Build(BuildMode),
}

#[derive(Clone, Debug, Default)]
pub struct AppQuery {
    /// Names or repository URLs containing this text.
    pub search: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

/// What one poll found.
#[derive(Clone, Debug)]
pub enum PollOutcome {
    /// The head as recorded: nothing new.
    Unchanged,
    /// A new head, with its release (already checked).
    NewRelease(Box<NewRelease>),
    /// It went wrong: the reason, for the app's page; polls back off.
    Failed(String),
}

#[derive(Clone, Debug)]
pub struct NewRelease {
    pub sha: String,
    pub subject: String,
    pub author: String,
    pub author_email: String,
    pub committed_at: String,
    pub previous_sha: Option<String>,
    pub force_pushed: bool,
    /// JSON: the commits it brings, newest first.
    pub commits: serde_json::Value,
    pub commits_truncated: bool,
    pub dscloud_yaml: Option<String>,
    pub accepted: bool,
    /// JSON: the problems the checks found (line, column, path, message).
    pub problems: serde_json::Value,
    /// A push webhook made the poller look (else its own schedule did).
    pub found_by_webhook: bool,
}

#[derive(Clone, Debug)]
pub struct ReleaseRecord {
    pub id: i64,
    pub app_id: Uuid,
    pub sha: String,
    pub subject: String,
    pub author: String,
    pub author_email: String,
    pub committed_at: String,
    pub previous_sha: Option<String>,
    pub force_pushed: bool,
    pub commits: serde_json::Value,
    pub commits_truncated: bool,
    pub dscloud_yaml: Option<String>,
    pub accepted: bool,
    pub problems: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[async_trait]
pub trait AppStore: Send + Sync {
    /// `Conflict` when the name is taken.
    async fn create_app(&self, app: NewApp) -> StoreResult<AppRecord>;
    async fn app(&self, id: Uuid) -> StoreResult<AppRecord>;
    async fn app_by_name(&self, name: &str) -> StoreResult<AppRecord>;
    async fn list_apps(&self, query: &AppQuery) -> StoreResult<Page<AppRecord>>;
    async fn app_maintainers(&self, id: Uuid) -> StoreResult<Vec<Uuid>>;
    /// Changes one setting, with its audit event, in one transaction.
    async fn change_app(
        &self,
        id: Uuid,
        settings: AppSettings,
        audit: Option<&super::NewAuditEvent>,
    ) -> StoreResult<AppRecord>;
    /// Deletes the app with its releases and deliveries, with its audit
    /// event, in one transaction.
    async fn delete_app(&self, id: Uuid, audit: Option<&super::NewAuditEvent>) -> StoreResult<()>;

    /// The apps due for a poll at `now`, earliest first.
    async fn apps_due(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Uuid>>;
    /// Records a poll made from `read_head` (the head the poller read
    /// before it looked): a new release, nothing new, or a failure, and
    /// when to poll next. A new release is written only if the head is
    /// still `read_head` (another poller did not record it first).
    async fn record_poll(
        &self,
        id: Uuid,
        read_head: Option<&str>,
        outcome: PollOutcome,
        next_poll_at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Notes a verified push and asks for a poll now; `false` when the
    /// delivery was seen before (a replay).
    async fn record_webhook(&self, id: Uuid, delivery_id: &str) -> StoreResult<bool>;

    /// Every sealed value the apps hold (credentials, webhook secrets), to
    /// check at start-up that the keyring can open them all.
    async fn sealed_app_values(&self) -> StoreResult<Vec<String>>;

    /// Newest first.
    async fn releases(
        &self,
        app: Uuid,
        limit: u32,
        offset: u32,
    ) -> StoreResult<Page<ReleaseRecord>>;
    async fn release(&self, app: Uuid, sha: &str) -> StoreResult<ReleaseRecord>;
    /// The newest release of each of these apps (one query for a page).
    async fn newest_releases(&self, apps: &[Uuid]) -> StoreResult<Vec<ReleaseRecord>>;
    /// The newest release whose file passed the checks.
    async fn latest_accepted_release(&self, app: Uuid) -> StoreResult<Option<ReleaseRecord>>;
}

#[derive(sqlx::FromRow)]
pub(crate) struct AppRow {
    id: Uuid,
    name: String,
    repository_url: String,
    branch: String,
    poll_interval_seconds: i64,
    credentials_kind: Option<String>,
    credentials_sealed: Option<String>,
    webhook_secret_sealed: String,
    webhook_secret_version: i64,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    head_sha: Option<String>,
    last_polled_at: Option<DateTime<Utc>>,
    last_webhook_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    failures: i64,
    next_poll_at: DateTime<Utc>,
    build_mode: String,
}

pub(crate) const APP_COLUMNS: &str = "id, name, repository_url, branch, poll_interval_seconds, \
     credentials_kind, credentials_sealed, webhook_secret_sealed, webhook_secret_version, \
     created_by, created_at, updated_at, head_sha, last_polled_at, last_webhook_at, last_error, \
     failures, next_poll_at, build_mode";

impl TryFrom<AppRow> for AppRecord {
    type Error = StoreError;

    fn try_from(row: AppRow) -> StoreResult<AppRecord> {
        let credentials = match (row.credentials_kind, row.credentials_sealed) {
            (Some(kind), Some(sealed)) => Some(SealedCredentials {
                kind: CredentialsKind::parse(&kind).ok_or_else(|| {
                    StoreError::Corrupt(format!("app {}: credentials kind {kind:?}", row.id))
                })?,
                sealed,
            }),
            _ => None,
        };
        let build = match BuildMode::parse(&row.build_mode) {
            Ok(Some(build)) => build,
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "app {}: build mode {:?}",
                    row.id, row.build_mode
                )));
            }
        };
        Ok(AppRecord {
            build,
            id: row.id,
            name: row.name,
            repository_url: row.repository_url,
            branch: row.branch,
            poll_interval_seconds: u32::try_from(row.poll_interval_seconds).unwrap_or(60),
            credentials,
            webhook_secret_sealed: row.webhook_secret_sealed,
            webhook_secret_version: row.webhook_secret_version,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
            head_sha: row.head_sha,
            last_polled_at: row.last_polled_at,
            last_webhook_at: row.last_webhook_at,
            last_error: row.last_error,
            failures: u32::try_from(row.failures).unwrap_or(u32::MAX),
            next_poll_at: row.next_poll_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ReleaseRow {
    id: i64,
    app_id: Uuid,
    sha: String,
    subject: String,
    author: String,
    author_email: String,
    committed_at: String,
    previous_sha: Option<String>,
    force_pushed: bool,
    commits: String,
    commits_truncated: bool,
    dscloud_yaml: Option<String>,
    accepted: bool,
    problems: String,
    created_at: DateTime<Utc>,
}

pub(crate) const RELEASE_COLUMNS: &str = "id, app_id, sha, subject, author, author_email, \
     committed_at, previous_sha, force_pushed, commits, commits_truncated, dscloud_yaml, \
     accepted, problems, created_at";

impl TryFrom<ReleaseRow> for ReleaseRecord {
    type Error = StoreError;

    fn try_from(row: ReleaseRow) -> StoreResult<ReleaseRecord> {
        let json = |text: &str| {
            serde_json::from_str(text)
                .map_err(|error| StoreError::Corrupt(format!("release {}: {error}", row.id)))
        };
        Ok(ReleaseRecord {
            commits: json(&row.commits)?,
            problems: json(&row.problems)?,
            id: row.id,
            app_id: row.app_id,
            sha: row.sha,
            subject: row.subject,
            author: row.author,
            author_email: row.author_email,
            committed_at: row.committed_at,
            previous_sha: row.previous_sha,
            force_pushed: row.force_pushed,
            commits_truncated: row.commits_truncated,
            dscloud_yaml: row.dscloud_yaml,
            accepted: row.accepted,
            created_at: row.created_at,
        })
    }
}
