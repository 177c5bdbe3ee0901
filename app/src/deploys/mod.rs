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
        .ok_or_else(|| ServerFnError::new("deployments are not available on this server"))?;
    Ok((crate::caller::Caller::current(), service))
}

#[cfg(feature = "ssr")]
use crate::caller::{authorize, refuse};

#[server(endpoint = "list_deployments")]
pub async fn list_deployments(filter: HistoryFilter) -> Result<DeploymentList, ServerFnError> {
    authorize("list_deployments")?;
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
