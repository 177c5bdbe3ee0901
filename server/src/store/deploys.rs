//! Deployments: every attempt to put a release into an environment, kept
//! for ever (failures, rollbacks, supersessions and approvals included);
//! the images built for each release; per app and environment, approval
//! rules and a person's hold. At most one deployment per app and
//! environment is unfinished (a unique index says so, across replicas).

use std::collections::BTreeMap;

use app::deploys::{DeploymentStatus, Step, Trigger};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Fence, Page, Reported, StoreError, StoreResult};

/// A person, as deployments name them: the id (gone if the account is
/// deleted) and the name they had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub id: Uuid,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    pub by: Option<Uuid>,
    pub by_name: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// An app's rules in one environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvironmentRules {
    pub requires_approval: bool,
    /// Nobody approves a release of their own commit (by the author's email).
    pub forbid_self_approval: bool,
    pub hold: Option<Hold>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    pub approved: bool,
    pub by: Option<Uuid>,
    pub by_name: String,
    pub comment: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct DeploymentRecord {
    pub id: i64,
    pub app_id: Uuid,
    pub app_name: String,
    pub release_id: i64,
    pub sha: String,
    pub subject: String,
    pub author: String,
    pub author_email: String,
    /// The commit's time, as git gave it (RFC 3339).
    pub committed_at: String,
    pub environment: String,
    pub trigger: Trigger,
    pub trigger_detail: Option<String>,
    pub triggered_by: Option<Uuid>,
    pub triggered_by_name: Option<String>,
    pub rollback_of: Option<i64>,
    pub rolled_back_by: Option<i64>,
    pub status: DeploymentStatus,
    pub reason: Option<String>,
    /// Set when the environment asked for one.
    pub approval_required: bool,
    pub approval: Option<Approval>,
    pub steps: Vec<Step>,
    pub tests_passed: u32,
    pub tests_failed: u32,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl DeploymentRecord {
    /// The engine's own redeploy of what runs, because the secrets it reads
    /// changed: a redeploy no person asked for.
    pub fn is_secrets_redeploy(&self) -> bool {
        self.trigger == Trigger::Redeploy && self.triggered_by_name.is_none()
    }
}

/// A release that may enter an environment, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub release_id: i64,
    pub sha: String,
    /// How the first environment learnt of it (poll or webhook).
    pub found_by: Trigger,
}

/// What the engine reads of one app in one environment.
#[derive(Clone, Debug, Default)]
pub struct EnvironmentState {
    pub rules: EnvironmentRules,
    /// The unfinished deployment, if any.
    pub active: Option<DeploymentRecord>,
    /// What runs: the newest deployment that succeeded there.
    pub current: Option<DeploymentRecord>,
    /// Releases that may enter by automatic promotion, newest first: newer
    /// than any automatic deployment there, and (after the first
    /// environment) succeeded in the previous one.
    pub candidates: Vec<Candidate>,
}

/// A deployment to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDeployment {
    pub app_id: Uuid,
    pub release_id: i64,
    pub environment: String,
    pub trigger: Trigger,
    pub trigger_detail: Option<String>,
    pub by: Option<Person>,
    pub rollback_of: Option<i64>,
    /// `Queued`, `AwaitingApproval`, or a first running status.
    pub status: DeploymentStatus,
    pub approval_required: bool,
}

/// The engine's write of a deployment's progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    pub status: DeploymentStatus,
    pub reason: Option<String>,
    pub steps: Vec<Step>,
}

/// What a person does to an environment.
#[derive(Clone, Debug)]
pub enum PersonalDeploy {
    /// Back to a release that succeeded there; holds the environment.
    Rollback { release_id: i64, reason: String },
    /// What runs, deployed again.
    Redeploy { release_id: i64 },
}

#[derive(Clone, Debug, Default)]
pub struct DeploymentQuery {
    pub app: Option<Uuid>,
    pub environment: Option<String>,
    pub status: Option<DeploymentStatus>,
    pub trigger: Option<Trigger>,
    /// A commit SHA prefix, or text in the author's name or email.
    pub commit_or_author: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: u32,
    pub offset: u32,
}

#[async_trait]
pub trait DeployStore: Send + Sync {
    async fn environment_rules(
        &self,
        app: Uuid,
        environment: &str,
    ) -> StoreResult<EnvironmentRules>;
    async fn set_approval_rules(
        &self,
        app: Uuid,
        environment: &str,
        requires_approval: bool,
        forbid_self_approval: bool,
        audit: Option<&super::NewAuditEvent>,
    ) -> StoreResult<()>;
    /// Lifts a person's hold, with the audit event; `false` (and nothing
    /// logged) when there was none.
    async fn lift_hold(
        &self,
        app: Uuid,
        environment: &str,
        audit: Option<&super::NewAuditEvent>,
    ) -> StoreResult<bool>;

    /// Everything the engine decides an environment's next step from.
    /// `previous` is the environment before it in promotion order.
    async fn environment_state(
        &self,
        app: Uuid,
        environment: &str,
        previous: Option<&str>,
    ) -> StoreResult<EnvironmentState>;
    /// The (app, environment) pairs with an unfinished deployment or a
    /// release waiting to enter, for environments in promotion order.
    async fn deploy_pending(&self, environments: &[String]) -> StoreResult<Vec<(Uuid, String)>>;

    /// Starts a deployment by automatic promotion: the releases in
    /// `superseded` are recorded as skipped, and `replacing` (a waiting
    /// deployment at the revision read) is superseded. `Stale` when the
    /// environment changed meanwhile (another deployment took it).
    async fn enqueue_deployment(
        &self,
        fence: Option<&Fence>,
        deployment: &NewDeployment,
        superseded: &[i64],
        replacing: Option<(i64, i64)>,
    ) -> StoreResult<Reported>;
    /// The engine's progress on a deployment it read at `revision`.
    async fn progress_deployment(
        &self,
        fence: Option<&Fence>,
        id: i64,
        revision: i64,
        progress: &Progress,
    ) -> StoreResult<Reported>;
    /// Ends a deployment as failed and starts the rollback in one step.
    async fn fail_and_roll_back(
        &self,
        fence: Option<&Fence>,
        id: i64,
        revision: i64,
        progress: &Progress,
        rollback: &NewDeployment,
    ) -> StoreResult<Reported>;

    /// A person's rollback or redeploy: refused (`Conflict`) while a
    /// deployment works there; one waiting for approval or its turn is
    /// superseded. A rollback holds the environment. The audit event is
    /// written with it, its details given the new deployment's id.
    async fn deploy_by_person(
        &self,
        app: Uuid,
        environment: &str,
        person: &Person,
        deploy: &PersonalDeploy,
        audit: Option<&super::NewAuditEvent>,
    ) -> StoreResult<i64>;
    /// Approves (it is queued) or rejects a deployment awaiting approval,
    /// with the audit event; `Conflict` when it no longer waits.
    async fn decide_approval(
        &self,
        id: i64,
        decision: &Approval,
        audit: Option<&super::NewAuditEvent>,
    ) -> StoreResult<()>;

    async fn deployment(&self, id: i64) -> StoreResult<DeploymentRecord>;
    /// Newest first, filtered and paginated on the server.
    async fn deployments(&self, query: &DeploymentQuery) -> StoreResult<Page<DeploymentRecord>>;

    /// What runs for these apps: (app, environment, newest succeeded deployment).
    async fn current_deployments(&self, apps: &[Uuid]) -> StoreResult<Vec<(Uuid, String, i64)>>;

    /// What the environment matrix shows for these apps.
    async fn matrix_entries(&self, apps: &[Uuid]) -> StoreResult<MatrixEntries>;
    /// Every deployment of an app in an environment created since `since`,
    /// oldest first (at most 10,000), for the DORA measures.
    async fn attempts_since(
        &self,
        app: Uuid,
        environment: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<DeploymentRecord>>;

    /// Component → image by digest.
    async fn release_images(&self, release: i64) -> StoreResult<BTreeMap<String, String>>;
    /// Records a built image; a component's first record stands.
    async fn record_release_image(
        &self,
        release: i64,
        component: &str,
        image: &str,
    ) -> StoreResult<()>;
}

/// The environment matrix's inputs for a page of apps.
#[derive(Clone, Debug, Default)]
pub struct MatrixEntries {
    /// What runs: the newest successful deployment per app and environment.
    pub current: Vec<DeploymentRecord>,
    /// Unfinished: (app, environment, id, status).
    pub active: Vec<(Uuid, String, i64, DeploymentStatus)>,
    /// Held environments.
    pub held: Vec<(Uuid, String)>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeploymentRow {
    id: i64,
    app_id: Uuid,
    app_name: String,
    release_id: i64,
    sha: String,
    subject: String,
    author: String,
    author_email: String,
    committed_at: String,
    environment: String,
    trigger: String,
    trigger_detail: Option<String>,
    triggered_by: Option<Uuid>,
    triggered_by_name: Option<String>,
    rollback_of: Option<i64>,
    rolled_back_by: Option<i64>,
    status: String,
    reason: Option<String>,
    approval: Option<String>,
    approval_by: Option<Uuid>,
    approval_by_name: Option<String>,
    approval_comment: Option<String>,
    approval_at: Option<DateTime<Utc>>,
    steps: String,
    tests_passed: i64,
    tests_failed: i64,
    revision: i64,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

/// The columns of a [`DeploymentRow`], from `deployments d` joined with
/// `releases r` and `apps a`.
pub(crate) const DEPLOYMENT_COLUMNS: &str = "d.id, d.app_id, a.name AS app_name, d.release_id, \
     r.sha, r.subject, r.author, r.author_email, r.committed_at, d.environment, d.trigger, d.trigger_detail, \
     d.triggered_by, d.triggered_by_name, d.rollback_of, d.rolled_back_by, d.status, d.reason, \
     d.approval, d.approval_by, d.approval_by_name, d.approval_comment, d.approval_at, d.steps, \
     d.tests_passed, d.tests_failed, d.revision, d.created_at, d.started_at, d.finished_at";

pub(crate) const DEPLOYMENT_FROM: &str =
    "deployments d JOIN releases r ON r.id = d.release_id JOIN apps a ON a.id = d.app_id";

impl TryFrom<DeploymentRow> for DeploymentRecord {
    type Error = StoreError;

    fn try_from(row: DeploymentRow) -> StoreResult<DeploymentRecord> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("deployment {}: {what}", row.id));
        let status = DeploymentStatus::parse(&row.status)
            .ok_or_else(|| corrupt(&format!("status {:?}", row.status)))?;
        let trigger = Trigger::parse(&row.trigger)
            .ok_or_else(|| corrupt(&format!("trigger {:?}", row.trigger)))?;
        let steps: Vec<Step> = serde_json::from_str(&row.steps)
            .map_err(|error| corrupt(&format!("steps: {error}")))?;
        let approval = match row.approval.as_deref() {
            None | Some("required") => None,
            Some(decision @ ("approved" | "rejected")) => Some(Approval {
                approved: decision == "approved",
                by: row.approval_by,
                by_name: row.approval_by_name.unwrap_or_default(),
                comment: row.approval_comment.unwrap_or_default(),
                at: row.approval_at.unwrap_or(row.created_at),
            }),
            Some(other) => return Err(corrupt(&format!("approval {other:?}"))),
        };
        Ok(DeploymentRecord {
            id: row.id,
            app_id: row.app_id,
            app_name: row.app_name,
            release_id: row.release_id,
            sha: row.sha,
            subject: row.subject,
            author: row.author,
            author_email: row.author_email,
            committed_at: row.committed_at,
            environment: row.environment,
            trigger,
            trigger_detail: row.trigger_detail,
            triggered_by: row.triggered_by,
            triggered_by_name: row.triggered_by_name,
            rollback_of: row.rollback_of,
            rolled_back_by: row.rolled_back_by,
            status,
            reason: row.reason,
            approval_required: row.approval.is_some(),
            approval,
            steps,
            tests_passed: u32::try_from(row.tests_passed).unwrap_or_default(),
            tests_failed: u32::try_from(row.tests_failed).unwrap_or_default(),
            revision: row.revision,
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RulesRow {
    pub requires_approval: bool,
    pub forbid_self_approval: bool,
    pub held_by: Option<Uuid>,
    pub held_by_name: Option<String>,
    pub hold_reason: Option<String>,
    pub held_at: Option<DateTime<Utc>>,
}

impl From<RulesRow> for EnvironmentRules {
    fn from(row: RulesRow) -> Self {
        EnvironmentRules {
            requires_approval: row.requires_approval,
            forbid_self_approval: row.forbid_self_approval,
            hold: row.held_at.map(|at| Hold {
                by: row.held_by,
                by_name: row.held_by_name.unwrap_or_default(),
                reason: row.hold_reason.unwrap_or_default(),
                at,
            }),
        }
    }
}

/// Tests passed and failed, as the history's columns keep them.
pub(crate) fn test_counts(steps: &[Step]) -> (i64, i64) {
    use app::deploys::{StepKind, StepState};
    let tests = steps.iter().filter(|step| step.kind == StepKind::Test);
    let passed = tests
        .clone()
        .filter(|step| step.state == StepState::Succeeded)
        .count();
    let failed = tests.filter(|step| step.state == StepState::Failed).count();
    (
        i64::try_from(passed).unwrap_or(i64::MAX),
        i64::try_from(failed).unwrap_or(i64::MAX),
    )
}
