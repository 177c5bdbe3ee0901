//! Databases: each customer's desired state (engine, size, running, parked
//! or terminated, credentials version) next to what the provisioning engine
//! last reported, and the timeline of the engine's steps.
//!
//! Two rules keep customers' requests safe from races. A change is checked
//! and made in one statement ([`DatabaseStore::change_database`]), so a
//! terminate cannot slip past a "protect" that landed first. And every
//! change of desired state bumps the row's `generation`: the engine's report
//! ([`DatabaseStore::report_database`]) applies only to the generation it
//! read, so a request made while the engine works is never overwritten.

use app::databases::{Engine, Intent, Status, Tier};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{Fence, Page, StoreError, StoreResult};

#[derive(Clone, Debug)]
pub struct NewDatabase {
    /// Chosen by the caller, so that its audit event can name it.
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub engine: Engine,
    pub tier: Tier,
    pub region: String,
    /// The first keyspace (Cassandra) or database (PostgreSQL).
    pub schema_name: String,
    /// The form's one-time key: a second create with it returns the first database.
    pub request_key: Option<String>,
    /// Written in the transaction that creates the database.
    pub audit: Option<super::NewAuditEvent>,
}

/// What a create did: made the database, or found the one an earlier
/// sending of the same form made.
#[derive(Clone, Debug)]
pub enum Creation {
    Created(DatabaseRecord),
    Replayed(DatabaseRecord),
}

impl Creation {
    pub fn record(&self) -> &DatabaseRecord {
        match self {
            Creation::Created(record) | Creation::Replayed(record) => record,
        }
    }

    pub fn into_record(self) -> DatabaseRecord {
        match self {
            Creation::Created(record) | Creation::Replayed(record) => record,
        }
    }
}

#[derive(Clone, Debug)]
pub struct DatabaseRecord {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub engine: Engine,
    pub tier: Tier,
    pub region: String,
    pub status: Status,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub schema_name: String,
    /// What the customer wants.
    pub intent: Intent,
    /// Whether the engine is done with the current desired state.
    pub settled: bool,
    /// Whether the database came up once (its first configuration ran).
    pub configured: bool,
    pub deletion_protection: bool,
    pub status_message: Option<String>,
    /// Bumped by every change of desired state.
    pub generation: i64,
    /// The credentials the customer wants: each rotation asks for the next.
    pub credentials_version: i64,
    /// The credentials version the configuration job last set inside the database.
    pub configured_version: i64,
}

#[derive(Clone, Debug, Default)]
pub struct DatabaseQuery {
    /// Only this owner's databases; `None` for everyone's (admins).
    pub owner_id: Option<Uuid>,
    /// Names containing this text.
    pub search: Option<String>,
    pub status: Option<Status>,
    pub limit: u32,
    pub offset: u32,
}

/// A customer's request, checked against the database as it stands in the
/// same statement that makes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DesiredChange {
    Park,
    Resume,
    Resize(Tier),
    Terminate,
    DeletionProtection(bool),
    /// New credentials, generated and set inside the database by the engine.
    RotateCredentials,
}

impl DesiredChange {
    /// Why the database refuses this change as it stands; `None` if it may.
    pub fn refusal(&self, database: &DatabaseRecord) -> Option<String> {
        let name = &database.name;
        if database.intent == Intent::Terminated {
            return Some(format!(
                "{name} is terminated; nothing can change it any more"
            ));
        }
        match self {
            DesiredChange::Park if database.intent == Intent::Parked => {
                Some(format!("{name} is already parked"))
            }
            DesiredChange::Resume if database.intent == Intent::Running => {
                Some(format!("{name} is already running"))
            }
            DesiredChange::Resize(tier) if tier.name == database.tier.name => {
                Some(format!("{name} is already {}", tier.name))
            }
            DesiredChange::Terminate if database.deletion_protection => Some(format!(
                "{name} has deletion protection on: turn it off first"
            )),
            DesiredChange::RotateCredentials
                if database.intent != Intent::Running || database.status != Status::Active =>
            {
                Some(
                    "only an ACTIVE database's password can be rotated: the new password is set inside the running database"
                        .to_string(),
                )
            }
            _ => None,
        }
    }

    /// The SQL `SET` (after `updated_at`) and the `WHERE` condition that
    /// make this change only where [`DesiredChange::refusal`] allows it.
    /// `$3` is the change's value where it has one.
    pub(crate) fn sql(&self) -> (&'static str, &'static str) {
        match self {
            DesiredChange::Park => (
                "intent = 'parked', settled = FALSE, generation = generation + 1",
                "intent = 'running'",
            ),
            DesiredChange::Resume => (
                "intent = 'running', settled = FALSE, generation = generation + 1",
                "intent = 'parked'",
            ),
            DesiredChange::Resize(_) => (
                "tier = $3, settled = FALSE, generation = generation + 1",
                "intent <> 'terminated' AND tier <> $3",
            ),
            DesiredChange::Terminate => (
                "intent = 'terminated', settled = FALSE, generation = generation + 1",
                "intent <> 'terminated' AND deletion_protection = FALSE",
            ),
            DesiredChange::DeletionProtection(_) => {
                ("deletion_protection = $3", "intent <> 'terminated'")
            }
            DesiredChange::RotateCredentials => (
                "credentials_version = credentials_version + 1, settled = FALSE, \
                 generation = generation + 1",
                "intent = 'running' AND status = 'ACTIVE'",
            ),
        }
    }
}

/// An unfinished database, as the engine lists them: its record, or
/// `None` when the row cannot be read (the engine then says so on it).
#[derive(Clone, Debug)]
pub struct Pending {
    pub id: Uuid,
    pub record: Option<DatabaseRecord>,
}

/// What the engine found, for the generation it read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineReport {
    /// The generation of the desired state the engine worked from.
    pub generation: i64,
    pub status: Status,
    pub message: Option<String>,
    /// Nothing left to do until the desired state changes.
    pub settled: bool,
    pub configured: bool,
    pub configured_version: i64,
}

/// Whether an engine report was recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reported {
    Applied,
    /// The desired state changed since the engine read it: nothing was
    /// written, and the engine reconciles again.
    Stale,
}

/// How many failed attempts of one step a timeline keeps besides the
/// first: a database that keeps failing retries every 30 s at most, which
/// would otherwise add ~2,900 rows a day.
pub const KEPT_FAILURES: i32 = 20;

/// One step of a database's provisioning, for its timeline.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
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

#[async_trait]
pub trait DatabaseStore: Send + Sync {
    /// Creates a database, or answers with the one an earlier sending of the
    /// same form (its request key) made. Refused (`Conflict`, with the
    /// reason) when the name is taken or the owner's quota has no room.
    async fn create_database(&self, database: NewDatabase) -> StoreResult<Creation>;
    async fn database(&self, id: Uuid) -> StoreResult<DatabaseRecord>;
    async fn list_databases(&self, query: &DatabaseQuery) -> StoreResult<Page<DatabaseRecord>>;
    /// Makes a customer's change if the database (and, for a resize, the
    /// owner's quota) allows it as it stands, with its audit event, in one
    /// transaction; `Conflict` says why not. Returns the database after it.
    async fn change_database(
        &self,
        id: Uuid,
        change: DesiredChange,
        audit: Option<&super::NewAuditEvent>,
    ) -> StoreResult<DatabaseRecord>;

    /// The databases the engine has work to do for (in `region`, or all),
    /// least recently touched first, each read with the list when it can be.
    async fn pending_databases(
        &self,
        region: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Pending>>;
    /// Records what the engine found, unless the desired state moved on
    /// (`Stale`) or the engine's term ended (`Deposed`).
    async fn report_database(
        &self,
        id: Uuid,
        fence: Option<&Fence>,
        report: &EngineReport,
    ) -> StoreResult<Reported>;
    /// Puts a database whose row cannot be read into ERROR with the reason,
    /// settled: the engine cannot act on what it cannot read.
    async fn report_unreadable_database(
        &self,
        id: Uuid,
        fence: Option<&Fence>,
        reason: &str,
    ) -> StoreResult<()>;
    /// Starts a step of a database's timeline; returns its id.
    async fn start_step(
        &self,
        database_id: Uuid,
        fence: Option<&Fence>,
        step: &str,
        attempt: i32,
    ) -> StoreResult<i64>;
    async fn finish_step(
        &self,
        step_id: i64,
        outcome: &str,
        message: Option<&str>,
    ) -> StoreResult<()>;
    /// A database's steps, oldest first.
    async fn steps(&self, database_id: Uuid) -> StoreResult<Vec<ProvisioningStep>>;
    /// A mark per database that changes whenever what its page shows can
    /// (its row, a step begun or ended): open pages learn of changes from
    /// one query for all of them. Unknown ids are left out.
    async fn database_marks(&self, ids: &[Uuid]) -> StoreResult<Vec<(Uuid, String)>>;
    /// Moves after every committed write that can change a mark (this
    /// process's, and on PostgreSQL every replica's): the change feed's
    /// wake-up. It says that, not what: `database_marks` says what.
    fn database_changes(&self) -> tokio::sync::watch::Receiver<u64>;
    /// How long the latest provisions of an engine took, in seconds, from
    /// their first step to configured; newest first.
    async fn provisioning_durations(&self, engine: Engine, limit: u32) -> StoreResult<Vec<f64>>;
}

#[derive(sqlx::FromRow)]
pub(crate) struct DatabaseRow {
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
    generation: i64,
    credentials_version: i64,
    configured_version: i64,
}

pub(crate) const DATABASE_COLUMNS: &str = "id, owner_id, name, engine, tier, region, status, \
     created_at, updated_at, schema_name, intent, settled, configured, deletion_protection, \
     status_message, generation, credentials_version, configured_version";

impl TryFrom<DatabaseRow> for DatabaseRecord {
    type Error = StoreError;

    /// Parsed once, here: a value this portal cannot read is an error that
    /// names it, never a default.
    fn try_from(row: DatabaseRow) -> StoreResult<DatabaseRecord> {
        let id = row.id;
        let corrupt = |what: String| StoreError::Corrupt(format!("database {id}: {what}"));
        Ok(DatabaseRecord {
            id,
            owner_id: row.owner_id,
            engine: row.engine.parse().map_err(corrupt)?,
            tier: *app::databases::tier(&row.tier)
                .ok_or_else(|| corrupt(format!("unknown size tier {:?}", row.tier)))?,
            status: row
                .status
                .parse()
                .map_err(|_| corrupt(format!("unknown status {:?}", row.status)))?,
            intent: row
                .intent
                .parse()
                .map_err(|_| corrupt(format!("unknown intent {:?}", row.intent)))?,
            name: row.name,
            region: row.region,
            created_at: row.created_at,
            updated_at: row.updated_at,
            schema_name: row.schema_name,
            settled: row.settled,
            configured: row.configured,
            deletion_protection: row.deletion_protection,
            status_message: row.status_message,
            generation: row.generation,
            credentials_version: row.credentials_version,
            configured_version: row.configured_version,
        })
    }
}

/// A listed unfinished database: a row that cannot be read is still listed.
pub(crate) fn pending(row: DatabaseRow) -> Pending {
    let id = row.id;
    Pending {
        id,
        record: DatabaseRecord::try_from(row).ok(),
    }
}

pub(crate) fn records(rows: Vec<DatabaseRow>) -> StoreResult<Vec<DatabaseRecord>> {
    rows.into_iter().map(DatabaseRecord::try_from).collect()
}

/// The `WHERE` clause of a database listing and how many parameters it
/// binds, in this order: owner, name pattern, status. Only the filters
/// given, so each listing can use its index (`x IS NULL OR …` would make
/// both engines scan the table).
pub(crate) fn listing_filter(query: &DatabaseQuery, search: bool) -> (String, usize) {
    let mut clauses: Vec<String> = Vec::new();
    let mut add = |clause: &dyn Fn(usize) -> String| {
        let parameter = clauses.len() + 1;
        clauses.push(clause(parameter));
    };
    if query.owner_id.is_some() {
        add(&|n| format!("owner_id = ${n}"));
    }
    if search {
        add(&|n| format!("LOWER(name) LIKE ${n} ESCAPE '\\'"));
    }
    if query.status.is_some() {
        add(&|n| format!("status = ${n}"));
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    (sql, clauses.len())
}

/// Seconds from a provision's first step to its configuration.
pub(crate) fn durations(rows: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>) -> Vec<f64> {
    rows.into_iter()
        .filter_map(|(started, finished)| {
            Some((finished? - started).num_milliseconds() as f64 / 1000.0)
        })
        .collect()
}
