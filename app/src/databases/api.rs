//! What the databases pages show and the server functions behind them. Each
//! function checks its caller against `crate::access`, then calls the
//! `Databases` service the server provides, which decides whose databases
//! the caller may see (customers: their own; admins: everyone's).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Engine, Intent, Status};

/// One database in the list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseSummary {
    pub id: String,
    pub name: String,
    pub engine: Engine,
    pub tier: String,
    pub region: String,
    pub status: Status,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// The owner's username; shown to admins, who see everyone's databases.
    pub owner: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseList {
    pub items: Vec<DatabaseSummary>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
}

impl DatabaseList {
    pub fn pages(&self) -> u32 {
        crate::accounts::page_count(self.total, self.page_size)
    }
}

/// The caller's databases at a glance, for the home page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseOverview {
    /// How many are in each status; statuses with none are left out.
    pub counts: Vec<(Status, u64)>,
    /// Those in ERROR (the newest few): they need the customer.
    pub attention: Vec<DatabaseSummary>,
}

impl DatabaseOverview {
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|(_, count)| count).sum()
    }
}

/// Databases on one page of the list.
pub const DATABASES_PAGE_SIZE: u32 = 25;

/// One step of the provisioning timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepView {
    pub step: String,
    pub attempt: i32,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// running, success or failure.
    pub outcome: String,
    pub message: Option<String>,
    pub duration_ms: Option<i64>,
}

/// Where clients connect. The password is not here: it is revealed only on
/// request (and audited).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionInfo {
    pub host: String,
    pub port: u16,
    pub username: String,
    /// The first keyspace or database.
    pub schema_name: String,
    /// The address clients outside the cluster use.
    pub outside: Outside,
}

/// Whether clients outside the cluster can reach the database, and where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outside {
    /// `host:port`, from the region's `--outside-address`.
    Address(String),
    /// The region has no outside address configured.
    NotConfigured,
    /// The built-in sandbox runs no containers: nothing outside reaches it.
    Sandbox,
}

/// Everything the database page shows; also what its live updates carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseDetail {
    pub summary: DatabaseSummary,
    pub intent: Intent,
    pub deletion_protection: bool,
    /// What the engine last said: why it waits, or what failed.
    pub status_message: Option<String>,
    /// Whether the engine is done with the current desired state.
    pub settled: bool,
    pub connection: ConnectionInfo,
    pub steps: Vec<StepView>,
    /// Seconds left until ACTIVE, from past provisions of the same engine;
    /// only while the database is coming up.
    pub estimate_seconds: Option<u64>,
    /// RFC 3339: when the detail was read, for "updated … ago".
    pub read_at: String,
    /// When and by whom termination was asked for; only once terminated.
    #[serde(default)]
    pub terminated: Option<Termination>,
    /// The changes customers asked for (from the audit log), oldest first:
    /// the timeline groups the steps under them.
    #[serde(default)]
    pub requests: Vec<super::ChangeRequest>,
}

/// Who terminated a database, and when (from the audit log).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Termination {
    /// RFC 3339, UTC.
    pub at: String,
    pub by: String,
}

impl DatabaseDetail {
    /// Whether this reading may replace `shown` on the page: not if it is
    /// older. The answer to a fetch read before an event can arrive after
    /// it; shown, it would put the page back (PARKED after RESUMING) until
    /// the next change, which may never come once the database settles.
    /// `read_at` is RFC 3339 UTC with milliseconds: text order is time order.
    pub fn replaces(&self, shown: Option<&DatabaseDetail>) -> bool {
        shown.is_none_or(|shown| {
            shown.summary.id != self.summary.id || self.read_at >= shown.read_at
        })
    }

    /// For ERROR: what happens next, in words.
    pub fn next_step(&self) -> Option<&'static str> {
        match (self.summary.status, self.settled) {
            (Status::Error, true) => Some(
                "Nothing more is tried on its own: change its size to try again with a new specification, or terminate it.",
            ),
            (Status::Error, false) => Some(
                "The portal keeps retrying with a growing pause (up to 30 seconds); nothing is needed from you.",
            ),
            _ => None,
        }
    }
}

/// What the create form sends.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDatabaseForm {
    pub name: String,
    pub engine: String,
    /// The first keyspace or database; empty: the database's name with `_`.
    #[serde(default)]
    pub schema_name: String,
    pub tier: String,
    pub region: String,
    /// A random key the form carries: sending it twice creates one database.
    #[serde(default)]
    pub request_key: String,
}

/// The first keyspace or database a name suggests: `orders-eu` → `orders_eu`.
pub fn default_schema_name(name: &str) -> String {
    let candidate = name.replace('-', "_");
    if candidate
        .chars()
        .next()
        .is_some_and(|first| first.is_ascii_lowercase())
    {
        candidate
    } else {
        format!("db_{candidate}")
    }
}

#[cfg(feature = "ssr")]
fn databases()
-> Result<(crate::caller::Caller, std::sync::Arc<dyn super::Databases>), ServerFnError> {
    let service = use_context::<std::sync::Arc<dyn super::Databases>>()
        .ok_or_else(|| crate::caller::missing_service("databases are"))?;
    Ok((crate::caller::Caller::current(), service))
}

#[cfg(feature = "ssr")]
use crate::caller::{authorize, refuse};

#[server(endpoint = "list_databases")]
pub async fn list_databases(
    search: String,
    status: String,
    page: u32,
) -> Result<DatabaseList, ServerFnError> {
    authorize("list_databases")?;
    crate::caller::check_search([("search", search.as_str())]).map_err(refuse)?;
    let (caller, service) = databases()?;
    let status = if status.is_empty() {
        None
    } else {
        Some(
            status
                .parse::<Status>()
                .map_err(|error| refuse(error.into()))?,
        )
    };
    service
        .list(&caller, search, status, page)
        .await
        .map_err(refuse)
}

#[server(endpoint = "database_overview")]
pub async fn fetch_database_overview() -> Result<DatabaseOverview, ServerFnError> {
    authorize("database_overview")?;
    let (caller, service) = databases()?;
    service.overview(&caller).await.map_err(refuse)
}

/// Creates a database and goes to its page (also without JavaScript).
#[server(endpoint = "create_database")]
pub async fn create_database(form: NewDatabaseForm) -> Result<String, ServerFnError> {
    authorize("create_database")?;
    let (caller, service) = databases()?;
    let id = service.create(&caller, form).await.map_err(refuse)?;
    leptos_axum::redirect(&format!("/databases/{id}"));
    Ok(id)
}

#[server(endpoint = "database_detail")]
pub async fn fetch_database(id: String) -> Result<DatabaseDetail, ServerFnError> {
    authorize("database_detail")?;
    let (caller, service) = databases()?;
    service.detail(&caller, &id).await.map_err(refuse)
}

/// The database's password, for the connect panel. Every reveal is audited.
#[server(endpoint = "reveal_database_password")]
pub async fn reveal_database_password(id: String) -> Result<String, ServerFnError> {
    authorize("reveal_database_password")?;
    let (caller, service) = databases()?;
    service.reveal_password(&caller, &id).await.map_err(refuse)
}

/// A new password; clients using the old one must be given the new one.
#[server(endpoint = "rotate_database_password")]
pub async fn rotate_database_password(id: String) -> Result<(), ServerFnError> {
    authorize("rotate_database_password")?;
    let (caller, service) = databases()?;
    service.rotate_password(&caller, &id).await.map_err(refuse)
}

/// Resize, park, resume or terminate, or switch deletion protection:
/// `change` is `resize` (with `tier`), `park`, `resume`, `terminate` (with
/// `confirm_name` repeating the database's name), `protect` or `unprotect`.
#[server(endpoint = "change_database")]
pub async fn change_database(
    id: String,
    change: String,
    #[server(default)] tier: String,
    #[server(default)] confirm_name: String,
) -> Result<(), ServerFnError> {
    authorize("change_database")?;
    let (caller, service) = databases()?;
    let change = DatabaseChange::parse(&change, tier).map_err(|error| refuse(error.into()))?;
    service
        .change(&caller, &id, change, confirm_name)
        .await
        .map_err(refuse)
}

/// What a customer can do to a database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DatabaseChange {
    Resize(String),
    Park,
    Resume,
    Terminate,
    DeletionProtection(bool),
}

impl DatabaseChange {
    /// The form's `change` field (and `tier` for a resize).
    pub fn parse(change: &str, tier: String) -> Result<DatabaseChange, String> {
        Ok(match change {
            "resize" => DatabaseChange::Resize(tier),
            "park" => DatabaseChange::Park,
            "resume" => DatabaseChange::Resume,
            "terminate" => DatabaseChange::Terminate,
            "protect" => DatabaseChange::DeletionProtection(true),
            "unprotect" => DatabaseChange::DeletionProtection(false),
            other => {
                return Err(format!(
                    "unknown change {other:?}: use resize, park, resume, terminate, protect or unprotect"
                ));
            }
        })
    }

    /// The audit log's action name.
    pub fn audit_action(&self) -> &'static str {
        match self {
            DatabaseChange::Resize(_) => "database.resize",
            DatabaseChange::Park => "database.park",
            DatabaseChange::Resume => "database.resume",
            DatabaseChange::Terminate => "database.terminate",
            DatabaseChange::DeletionProtection(_) => "database.deletion_protection",
        }
    }

    /// The intent this change asks for, if it changes the intent.
    pub fn intent(&self) -> Option<Intent> {
        match self {
            DatabaseChange::Park => Some(Intent::Parked),
            DatabaseChange::Resume => Some(Intent::Running),
            DatabaseChange::Terminate => Some(Intent::Terminated),
            DatabaseChange::Resize(_) | DatabaseChange::DeletionProtection(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(id: &str, status: Status, read_at: &str) -> DatabaseDetail {
        DatabaseDetail {
            summary: DatabaseSummary {
                id: id.to_string(),
                name: "ledger".to_string(),
                engine: Engine::Postgresql,
                tier: "starter".to_string(),
                region: "local".to_string(),
                status,
                created_at: "2026-12-07T10:00:00.000Z".to_string(),
                owner: None,
            },
            intent: Intent::Running,
            deletion_protection: false,
            status_message: None,
            settled: false,
            connection: ConnectionInfo {
                host: "db-rw".to_string(),
                port: 5432,
                username: "app_ledger".to_string(),
                schema_name: "ledger".to_string(),
                outside: Outside::Sandbox,
            },
            steps: Vec::new(),
            estimate_seconds: None,
            read_at: read_at.to_string(),
            terminated: None,
            requests: Vec::new(),
        }
    }

    #[test]
    fn a_reading_older_than_the_one_shown_never_replaces_it() {
        let resuming = reading("a", Status::Resuming, "2026-12-07T10:00:05.120Z");
        let late_parked = reading("a", Status::Parked, "2026-12-07T10:00:04.980Z");
        assert!(!late_parked.replaces(Some(&resuming)));
        assert!(resuming.replaces(Some(&late_parked)));
        let active = reading("a", Status::Active, "2026-12-07T10:00:10.000Z");
        assert!(active.replaces(Some(&resuming)));
    }

    #[test]
    fn the_first_reading_and_another_database_s_always_replace() {
        let shown = reading("a", Status::Active, "2026-12-07T10:00:10.000Z");
        assert!(shown.replaces(None));
        // Another database's page (a navigation): its reading is its own.
        let other = reading("b", Status::Pending, "2026-12-07T10:00:01.000Z");
        assert!(other.replaces(Some(&shown)));
    }

    #[test]
    fn schema_names_follow_the_database_name() {
        assert_eq!(default_schema_name("orders-eu"), "orders_eu");
        assert_eq!(default_schema_name("2026-sales"), "db_2026_sales");
    }
}
