//! What the deploy pages' server functions need from the server.

use super::{
    AppMeasures, DeploymentDetail, DeploymentList, EnvironmentMatrix, EnvironmentWorkloads,
    HandAction, HistoryFilter,
};
use crate::caller::{Caller, ServiceError};

/// Deployments: every developer sees every app's history; an app's
/// maintainers and admins approve, roll back, redeploy and lift holds.
#[async_trait::async_trait]
pub trait Deploys: Send + Sync + 'static {
    async fn history(
        &self,
        caller: &Caller,
        filter: HistoryFilter,
    ) -> Result<DeploymentList, ServiceError>;
    async fn detail(&self, caller: &Caller, id: i64) -> Result<DeploymentDetail, ServiceError>;
    async fn decide(
        &self,
        caller: &Caller,
        id: i64,
        approve: bool,
        comment: &str,
    ) -> Result<(), ServiceError>;
    async fn by_hand(
        &self,
        caller: &Caller,
        id: i64,
        action: HandAction,
        reason: &str,
    ) -> Result<i64, ServiceError>;
    async fn lift_hold(
        &self,
        caller: &Caller,
        app: &str,
        environment: &str,
    ) -> Result<(), ServiceError>;
    async fn measures(
        &self,
        caller: &Caller,
        app: &str,
        days: u32,
    ) -> Result<AppMeasures, ServiceError>;
    async fn matrix(
        &self,
        caller: &Caller,
        search: &str,
        page: u32,
    ) -> Result<EnvironmentMatrix, ServiceError>;
    async fn workloads(
        &self,
        caller: &Caller,
        app: &str,
    ) -> Result<Vec<EnvironmentWorkloads>, ServiceError>;
    async fn set_approval_rules(
        &self,
        caller: &Caller,
        app: &str,
        environment: &str,
        requires_approval: bool,
        forbid_self_approval: bool,
    ) -> Result<(), ServiceError>;
}
