//! Deployments as developers see them: every attempt to put a release into
//! an environment (failures, rollbacks, supersessions and approvals
//! included), its steps and tests, and what a maintainer does about it:
//! approve or reject, roll an environment back (which holds it), redeploy,
//! lift a hold. The types both sides share and the server functions' thin
//! shells; the server's `Deploys` service checks the caller (developers see
//! every app; an app's maintainers and admins act on it).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

mod model;
#[cfg(feature = "ssr")]
mod service;

pub use model::*;
// Named explicitly: leptos's prelude has a `Trigger` too.
pub use model::Trigger;
#[cfg(feature = "ssr")]
pub use service::Deploys;

/// Deployments on one page of the history.
pub const HISTORY_PAGE_SIZE: u32 = 50;

/// The history's filters, as the page's query string carries them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryFilter {
    #[serde(default)]
    pub app: String,
    #[serde(default)]
    pub environment: String,
    /// A status name (`Failed`) or empty.
    #[serde(default)]
    pub status: String,
    /// A trigger name (`rollback`) or empty.
    #[serde(default)]
    pub trigger: String,
    /// A commit SHA prefix, or part of the author's name or email.
    #[serde(default)]
    pub who: String,
    /// `YYYY-MM-DD`, inclusive.
    #[serde(default)]
    pub from: String,
    /// `YYYY-MM-DD`, inclusive.
    #[serde(default)]
    pub until: String,
    #[serde(default)]
    pub page: u32,
}

/// One row of the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentRow {
    pub id: i64,
    pub app: String,
    pub environment: String,
    pub sha: String,
    pub subject: String,
    pub author: String,
    pub trigger: Trigger,
    /// Why it ran, for people: "promotion from dev", "rollback by dana".
    pub why: String,
    pub status: DeploymentStatus,
    pub reason: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    pub duration_ms: Option<i64>,
    pub tests_passed: u32,
    pub tests_failed: u32,
    /// Each test: microservice and exit code.
    pub test_results: Vec<(String, Option<i32>)>,
    /// "approved by grace", "rejected by grace", "awaiting approval".
    pub approval: Option<String>,
    /// It is a rollback (by a person or by the engine).
    pub rollback: bool,
    /// The rollback that undid it.
    pub rolled_back_by: Option<i64>,
    /// It is what runs in its environment now.
    pub current: bool,
}

impl DeploymentRow {
    pub fn short(&self) -> &str {
        self.sha.get(..7).unwrap_or(&self.sha)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentList {
    pub items: Vec<DeploymentRow>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
    /// The configured environments, in promotion order (for the filters).
    pub environments: Vec<String>,
    /// With an app filter: that app's environments.
    pub app_environments: Vec<EnvironmentView>,
    /// Whether the caller may act on the filtered app.
    pub may_act: bool,
}

impl DeploymentList {
    pub fn pages(&self) -> u32 {
        crate::accounts::page_count(self.total, self.page_size)
    }
}

/// An app in one environment: what runs, holds, waiting approvals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentView {
    pub environment: String,
    /// What runs: short SHA and subject, and since when (RFC 3339).
    pub current: Option<(String, String, String)>,
    /// Working there now: deployment id and status.
    pub active: Option<(i64, DeploymentStatus)>,
    /// "held by dana: reason", when held.
    pub hold: Option<String>,
    pub requires_approval: bool,
    pub forbid_self_approval: bool,
    /// The newest test result there: passed and failed.
    pub last_tests: Option<(u32, u32)>,
}

/// A deployment's page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentDetail {
    pub row: DeploymentRow,
    pub steps: Vec<Step>,
    pub approval_required: bool,
    pub approval_comment: Option<String>,
    /// Whether the caller may approve, roll back or redeploy.
    pub may_act: bool,
    /// The deployment it rolled back, or that rolled it back.
    pub rollback_of: Option<i64>,
    /// What changed in dscloud.yaml against what ran there before it.
    pub changes: Vec<String>,
    /// The release that ran there before it.
    pub previous_sha: Option<String>,
    /// The secret versions it wrote into the cluster (`DB_PASSWORD v3`),
    /// never the values; empty before it applied.
    #[serde(default)]
    pub secret_versions: Vec<String>,
}

/// The DORA measures of an app in one environment over a window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DoraMeasures {
    /// Successful changes (automatic promotions) in the window.
    pub deployments: u32,
    pub per_day: f64,
    /// Median, from commit to success there.
    pub lead_time_seconds: Option<i64>,
    /// Failed changes among decided ones.
    pub change_failure_rate: Option<f64>,
    /// Median, from a failure to the next success there.
    pub time_to_restore_seconds: Option<i64>,
    /// Per day: (YYYY-MM-DD, succeeded, failed).
    pub days: Vec<(String, u32, u32)>,
}

/// An app's DORA measures per environment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppMeasures {
    pub app: String,
    pub window_days: u32,
    pub environments: Vec<(String, DoraMeasures)>,
}

/// Apps × environments: what runs where, at a glance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentMatrix {
    pub environments: Vec<String>,
    pub rows: Vec<MatrixRow>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
}

impl EnvironmentMatrix {
    pub fn pages(&self) -> u32 {
        crate::accounts::page_count(self.total, self.page_size)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixRow {
    pub app: String,
    /// One per environment, in promotion order.
    pub cells: Vec<MatrixCell>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixCell {
    /// What runs: deployment id, short SHA, since (RFC 3339).
    pub current: Option<(i64, String, String)>,
    /// The last tests of what runs: passed, failed.
    pub tests: Option<(u32, u32)>,
    /// Working there now, or waiting for approval: id and status.
    pub active: Option<(i64, DeploymentStatus)>,
    pub held: bool,
}

/// Apps on one page of the matrix.
pub const MATRIX_PAGE_SIZE: u32 = 25;

/// An app's workloads in one environment, as the cluster shows them now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentWorkloads {
    pub environment: String,
    pub workloads: Vec<WorkloadView>,
    /// Why the cluster could not be read, if it could not.
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadView {
    /// `Deployment/web`.
    pub object: String,
    pub desired: i64,
    pub ready: i64,
    pub available: i64,
    pub image: String,
    pub pods: Vec<PodView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodView {
    pub name: String,
    pub phase: String,
    pub ready: bool,
    pub restarts: i64,
    /// `running`, or the waiting or terminated reason.
    pub state: String,
    /// The last lines of its log.
    pub log_tail: String,
}

/// What a maintainer does to an environment from the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HandAction {
    /// Back to this release (it succeeded there); holds the environment.
    Rollback,
    /// This release (what runs) again.
    Redeploy,
}

#[cfg(feature = "ssr")]
fn deploys() -> Result<(crate::caller::Caller, std::sync::Arc<dyn Deploys>), ServerFnError> {
    let service = use_context::<std::sync::Arc<dyn Deploys>>()
        .ok_or_else(|| crate::caller::missing_service("deployments are"))?;
    Ok((crate::caller::Caller::current(), service))
}

#[cfg(feature = "ssr")]
use crate::caller::{authorize, refuse};

#[server(endpoint = "list_deployments")]
pub async fn list_deployments(filter: HistoryFilter) -> Result<DeploymentList, ServerFnError> {
    authorize("list_deployments")?;
    crate::caller::check_search([
        ("app", filter.app.as_str()),
        ("commit or author", filter.who.as_str()),
    ])
    .map_err(refuse)?;
    let (caller, service) = deploys()?;
    service.history(&caller, filter).await.map_err(refuse)
}

#[server(endpoint = "deployment_detail")]
pub async fn fetch_deployment(id: i64) -> Result<DeploymentDetail, ServerFnError> {
    authorize("deployment_detail")?;
    let (caller, service) = deploys()?;
    service.detail(&caller, id).await.map_err(refuse)
}

/// Approves (`approve = true`) or rejects a deployment awaiting approval.
#[server(endpoint = "decide_deployment")]
pub async fn decide_deployment(
    id: i64,
    approve: bool,
    comment: String,
) -> Result<(), ServerFnError> {
    authorize("decide_deployment")?;
    let (caller, service) = deploys()?;
    service
        .decide(&caller, id, approve, &comment)
        .await
        .map_err(refuse)
}

/// Rolls an environment back to the release of deployment `id`, or
/// redeploys it; a rollback holds the environment.
#[server(endpoint = "deploy_by_hand")]
pub async fn deploy_by_hand(
    id: i64,
    action: HandAction,
    reason: String,
) -> Result<i64, ServerFnError> {
    authorize("deploy_by_hand")?;
    let (caller, service) = deploys()?;
    service
        .by_hand(&caller, id, action, &reason)
        .await
        .map_err(refuse)
}

#[server(endpoint = "lift_hold")]
pub async fn lift_environment_hold(app: String, environment: String) -> Result<(), ServerFnError> {
    authorize("lift_hold")?;
    let (caller, service) = deploys()?;
    service
        .lift_hold(&caller, &app, &environment)
        .await
        .map_err(refuse)
}

/// The DORA measures of an app, per environment, over the last `days`.
#[server(endpoint = "deploy_measures")]
pub async fn deploy_measures(app: String, days: u32) -> Result<AppMeasures, ServerFnError> {
    authorize("deploy_measures")?;
    let (caller, service) = deploys()?;
    service.measures(&caller, &app, days).await.map_err(refuse)
}

#[server(endpoint = "environment_matrix")]
pub async fn fetch_environment_matrix(
    search: String,
    page: u32,
) -> Result<EnvironmentMatrix, ServerFnError> {
    authorize("environment_matrix")?;
    let (caller, service) = deploys()?;
    service.matrix(&caller, &search, page).await.map_err(refuse)
}

/// An app's workloads in every environment, read from the clusters now.
#[server(endpoint = "app_workloads")]
pub async fn app_workloads(app: String) -> Result<Vec<EnvironmentWorkloads>, ServerFnError> {
    authorize("app_workloads")?;
    let (caller, service) = deploys()?;
    service.workloads(&caller, &app).await.map_err(refuse)
}

#[server(endpoint = "set_approval_rules")]
pub async fn set_approval_rules(
    app: String,
    environment: String,
    requires_approval: bool,
    forbid_self_approval: bool,
) -> Result<(), ServerFnError> {
    authorize("set_approval_rules")?;
    let (caller, service) = deploys()?;
    service
        .set_approval_rules(
            &caller,
            &app,
            &environment,
            requires_approval,
            forbid_self_approval,
        )
        .await
        .map_err(refuse)
}
