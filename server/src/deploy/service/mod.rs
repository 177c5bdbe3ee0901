//! The deploy pages' service: the history (filtered and paged on the
//! server), a deployment's page, and what maintainers do (approve or
//! reject, roll back with a hold, redeploy, lift a hold, approval rules).
//! Every action checks the caller, is audited and wakes the engine.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use app::caller::{Caller, ServiceError};
use app::deploys::{
    AppMeasures, DeploymentDetail, DeploymentList, DeploymentStatus, Deploys, EnvironmentMatrix,
    EnvironmentWorkloads, HISTORY_PAGE_SIZE, HandAction, HistoryFilter,
};
use app::roles::Role;
use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use super::Key;
use crate::apps::{access, unavailable};
use crate::audit::Actor;
use crate::engine::Handle;
use crate::store::{
    AppRecord, Approval, DeploymentQuery, DeploymentRecord, Outcome, Person, PersonalDeploy, Store,
    StoreError,
};

mod matrix;
mod views;

use views::{row, short};

/// The longest free text a person gives (a comment, a reason, a search).
const MAX_TEXT: usize = 500;

pub struct DeployService {
    store: Arc<dyn Store>,
    environments: Vec<String>,
    engine: Option<Handle<Key>>,
    /// Each environment's cluster, for the live workloads.
    sites: Vec<super::Site>,
}

impl DeployService {
    /// The deploy engine's report, where it runs.
    pub fn engine_probe(&self) -> Option<Arc<dyn crate::engine::health::Probe>> {
        self.engine.as_ref().map(Handle::probe)
    }

    pub fn new(
        store: Arc<dyn Store>,
        environments: Vec<String>,
        engine: Option<Handle<Key>>,
    ) -> Self {
        DeployService {
            store,
            environments,
            engine,
            sites: Vec::new(),
        }
    }

    /// Reads live workloads from these environments' clusters.
    pub fn with_sites(mut self, sites: Vec<super::Site>) -> Self {
        self.sites = sites;
        self
    }

    fn wake(&self, app: Uuid, environment: &str) {
        if let Some(engine) = &self.engine {
            engine.changed((app, environment.to_string()));
        }
    }

    fn signed_in(caller: &Caller) -> Result<(Uuid, Role, Actor), ServiceError> {
        access::developer(caller, "deployments are for developers and admins")
    }

    async fn may_act(&self, caller: &Caller, app: Uuid) -> Result<bool, ServiceError> {
        let (id, role, _) = Self::signed_in(caller)?;
        access::may_change(self.store.as_ref(), id, role, app).await
    }

    async fn app_named(&self, name: &str) -> Result<AppRecord, ServiceError> {
        access::app_named(self.store.as_ref(), name).await
    }

    async fn deployment(&self, id: i64) -> Result<DeploymentRecord, ServiceError> {
        match self.store.deployment(id).await {
            Ok(deployment) => Ok(deployment),
            Err(StoreError::NotFound) => Err(ServiceError::NotFound(format!(
                "there is no deployment #{id}"
            ))),
            Err(error) => Err(unavailable(&error)),
        }
    }

    /// The app, when the caller may act on it; `Forbidden` otherwise.
    async fn act_on(&self, caller: &Caller, app: Uuid, name: &str) -> Result<(), ServiceError> {
        if self.may_act(caller, app).await? {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(format!(
                "only {name}'s maintainers and admins may do this"
            )))
        }
    }

    fn check_environment(&self, environment: &str) -> Result<(), ServiceError> {
        super::known_environment(&self.environments, environment)
    }
}

#[async_trait::async_trait]
impl Deploys for DeployService {
    async fn history(
        &self,
        caller: &Caller,
        filter: HistoryFilter,
    ) -> Result<DeploymentList, ServiceError> {
        Self::signed_in(caller)?;
        let mut query = self.query(&filter)?;
        let app = match filter.app.trim() {
            "" => None,
            name => Some(self.app_named(name).await?),
        };
        query.app = app.as_ref().map(|app| app.id);
        let page = self
            .store
            .deployments(&query)
            .await
            .map_err(|error| unavailable(&error))?;
        let apps: BTreeSet<Uuid> = page.items.iter().map(|row| row.app_id).collect();
        let apps: Vec<Uuid> = apps.into_iter().collect();
        let current: HashMap<(Uuid, String), i64> = self
            .store
            .current_deployments(&apps)
            .await
            .map_err(|error| unavailable(&error))?
            .into_iter()
            .map(|(app, environment, id)| ((app, environment), id))
            .collect();
        let items = page
            .items
            .iter()
            .map(|deployment| {
                let is_current = current.get(&(deployment.app_id, deployment.environment.clone()))
                    == Some(&deployment.id);
                row(deployment, is_current)
            })
            .collect();
        let (app_environments, may_act) = match &app {
            Some(app) => (
                self.environment_views(app.id).await?,
                self.may_act(caller, app.id).await?,
            ),
            None => (Vec::new(), false),
        };
        Ok(DeploymentList {
            items,
            total: page.total,
            page: filter.page.max(1),
            page_size: HISTORY_PAGE_SIZE,
            environments: self.environments.clone(),
            app_environments,
            may_act,
        })
    }

    async fn detail(&self, caller: &Caller, id: i64) -> Result<DeploymentDetail, ServiceError> {
        Self::signed_in(caller)?;
        let deployment = self.deployment(id).await?;
        let before = self
            .store
            .deployments(&DeploymentQuery {
                app: Some(deployment.app_id),
                environment: Some(deployment.environment.clone()),
                status: Some(DeploymentStatus::Succeeded),
                limit: 200,
                ..DeploymentQuery::default()
            })
            .await
            .map_err(|error| unavailable(&error))?
            .items;
        let current = before.first().map(|row| row.id) == Some(deployment.id);
        let previous = before.into_iter().find(|row| row.id < deployment.id);
        let changes = match &previous {
            Some(previous) => {
                let file = |sha: String| async move {
                    self.store
                        .release(deployment.app_id, &sha)
                        .await
                        .ok()
                        .and_then(|release| release.dscloud_yaml)
                        .and_then(|text| app::dscloud::check(&text).file)
                };
                match (
                    file(previous.sha.clone()).await,
                    file(deployment.sha.clone()).await,
                ) {
                    (Some(before), Some(after)) => app::apps::diff::changes(&before, &after),
                    _ => Vec::new(),
                }
            }
            None => Vec::new(),
        };
        let secret_versions = self
            .store
            .deployment_secret_versions(deployment.id)
            .await
            .map_err(|error| unavailable(&error))?
            .unwrap_or_default()
            .iter()
            .map(|(slot, version)| format!("{} v{version}", slot.label()))
            .collect();
        let mut steps = deployment.steps.clone();
        // The failed step first: what people look for.
        steps.sort_by_key(|step| step.state != app::deploys::StepState::Failed);
        Ok(DeploymentDetail {
            row: row(&deployment, current),
            steps,
            approval_required: deployment.approval_required,
            approval_comment: deployment
                .approval
                .as_ref()
                .map(|approval| approval.comment.clone())
                .filter(|comment| !comment.is_empty()),
            may_act: self.may_act(caller, deployment.app_id).await?,
            rollback_of: deployment.rollback_of.or(deployment.rolled_back_by),
            changes,
            previous_sha: previous.map(|previous| previous.sha),
            secret_versions,
        })
    }

    async fn decide(
        &self,
        caller: &Caller,
        id: i64,
        approve: bool,
        comment: &str,
    ) -> Result<(), ServiceError> {
        let (user_id, _, actor) = Self::signed_in(caller)?;
        let comment = comment.trim();
        if comment.chars().count() > MAX_TEXT {
            return Err(ServiceError::Invalid(format!(
                "the comment is longer than {MAX_TEXT} characters"
            )));
        }
        let deployment = self.deployment(id).await?;
        self.act_on(caller, deployment.app_id, &deployment.app_name)
            .await?;
        let rules = self
            .store
            .environment_rules(deployment.app_id, &deployment.environment)
            .await
            .map_err(|error| unavailable(&error))?;
        if approve && rules.forbid_self_approval {
            let user = self
                .store
                .user_by_id(user_id)
                .await
                .map_err(|error| unavailable(&error))?;
            let own = user
                .email
                .as_deref()
                .is_some_and(|email| email.eq_ignore_ascii_case(&deployment.author_email));
            if own {
                return Err(ServiceError::Forbidden(format!(
                    "{} of {} forbids approving your own commit: another maintainer must approve {}",
                    deployment.environment,
                    deployment.app_name,
                    short(&deployment.sha)
                )));
            }
        }
        let decision = Approval {
            approved: approve,
            by: Some(user_id),
            by_name: actor.name.clone(),
            comment: comment.to_string(),
            at: Utc::now(),
        };
        let event = crate::audit::event(
            &actor,
            if approve {
                "deployment.approve"
            } else {
                "deployment.reject"
            },
            &format!("app:{}", deployment.app_name),
            Outcome::Success,
            json!({"deployment": id, "environment": deployment.environment, "sha": deployment.sha, "comment": comment}),
        );
        match self
            .store
            .decide_approval(id, &decision, Some(&event))
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(message)) => return Err(ServiceError::Conflict(message)),
            Err(error) => return Err(unavailable(&error)),
        }
        self.wake(deployment.app_id, &deployment.environment);
        Ok(())
    }

    async fn by_hand(
        &self,
        caller: &Caller,
        id: i64,
        action: HandAction,
        reason: &str,
    ) -> Result<i64, ServiceError> {
        let (user_id, _, actor) = Self::signed_in(caller)?;
        let reason = reason.trim();
        if reason.chars().count() > MAX_TEXT {
            return Err(ServiceError::Invalid(format!(
                "the reason is longer than {MAX_TEXT} characters"
            )));
        }
        let deployment = self.deployment(id).await?;
        self.act_on(caller, deployment.app_id, &deployment.app_name)
            .await?;
        if deployment.status != DeploymentStatus::Succeeded {
            return Err(ServiceError::Invalid(format!(
                "{} did not succeed in {}: only a release that succeeded there can be deployed again",
                short(&deployment.sha),
                deployment.environment
            )));
        }
        let current = self
            .store
            .current_deployments(&[deployment.app_id])
            .await
            .map_err(|error| unavailable(&error))?
            .into_iter()
            .find(|(_, environment, _)| *environment == deployment.environment)
            .map(|(_, _, id)| id);
        let is_current = current == Some(deployment.id);
        let deploy = match action {
            HandAction::Rollback if is_current => {
                return Err(ServiceError::Invalid(format!(
                    "{} is what runs in {} already; redeploy it instead",
                    short(&deployment.sha),
                    deployment.environment
                )));
            }
            HandAction::Rollback => PersonalDeploy::Rollback {
                release_id: deployment.release_id,
                reason: if reason.is_empty() {
                    format!("rolled back to {}", short(&deployment.sha))
                } else {
                    reason.to_string()
                },
            },
            HandAction::Redeploy => PersonalDeploy::Redeploy {
                release_id: deployment.release_id,
            },
        };
        let person = Person {
            id: user_id,
            name: actor.name.clone(),
        };
        // The store adds the new deployment's id to the event.
        let event = crate::audit::event(
            &actor,
            match action {
                HandAction::Rollback => "deployment.rollback",
                HandAction::Redeploy => "deployment.redeploy",
            },
            &format!("app:{}", deployment.app_name),
            Outcome::Success,
            json!({"environment": deployment.environment, "sha": deployment.sha, "reason": reason}),
        );
        let new_id = match self
            .store
            .deploy_by_person(
                deployment.app_id,
                &deployment.environment,
                &person,
                &deploy,
                Some(&event),
            )
            .await
        {
            Ok(id) => id,
            Err(StoreError::Conflict(message)) => return Err(ServiceError::Conflict(message)),
            Err(error) => return Err(unavailable(&error)),
        };
        self.wake(deployment.app_id, &deployment.environment);
        Ok(new_id)
    }

    async fn lift_hold(
        &self,
        caller: &Caller,
        app: &str,
        environment: &str,
    ) -> Result<(), ServiceError> {
        let (_, _, actor) = Self::signed_in(caller)?;
        self.check_environment(environment)?;
        let record = self.app_named(app).await?;
        self.act_on(caller, record.id, app).await?;
        let event = crate::audit::event(
            &actor,
            "deployment.hold.lift",
            &format!("app:{app}"),
            Outcome::Success,
            json!({"environment": environment}),
        );
        let lifted = self
            .store
            .lift_hold(record.id, environment, Some(&event))
            .await
            .map_err(|error| unavailable(&error))?;
        if !lifted {
            return Err(ServiceError::Invalid(format!(
                "{environment} of {app} is not held"
            )));
        }
        self.wake(record.id, environment);
        Ok(())
    }

    async fn measures(
        &self,
        caller: &Caller,
        app: &str,
        days: u32,
    ) -> Result<AppMeasures, ServiceError> {
        Self::signed_in(caller)?;
        let record = self.app_named(app).await?;
        let days = days.clamp(1, 365);
        let until = Utc::now();
        let from = until - chrono::Duration::days(i64::from(days));
        let mut environments = Vec::new();
        for environment in &self.environments {
            let attempts: Vec<super::dora::Attempt> = self
                .store
                .attempts_since(record.id, environment, from)
                .await
                .map_err(|error| unavailable(&error))?
                .into_iter()
                .map(|deployment| super::dora::Attempt {
                    status: deployment.status,
                    trigger: deployment.trigger,
                    committed_at: chrono::DateTime::parse_from_rfc3339(&deployment.committed_at)
                        .ok()
                        .map(|at| at.with_timezone(&Utc)),
                    created_at: deployment.created_at,
                    finished_at: deployment.finished_at,
                })
                .collect();
            environments.push((
                environment.clone(),
                super::dora::measures(&attempts, from, until),
            ));
        }
        Ok(AppMeasures {
            app: record.name,
            window_days: days,
            environments,
        })
    }

    async fn matrix(
        &self,
        caller: &Caller,
        search: &str,
        page: u32,
    ) -> Result<EnvironmentMatrix, ServiceError> {
        Self::signed_in(caller)?;
        self.matrix_page(search, page).await
    }

    async fn workloads(
        &self,
        caller: &Caller,
        app: &str,
    ) -> Result<Vec<EnvironmentWorkloads>, ServiceError> {
        Self::signed_in(caller)?;
        let record = self.app_named(app).await?;
        let mut environments = Vec::new();
        for site in &self.sites {
            let read = super::workloads::read(&site.cluster, &record, &site.name).await;
            environments.push(match read {
                Ok(workloads) => EnvironmentWorkloads {
                    environment: site.name.clone(),
                    workloads,
                    error: None,
                },
                Err(error) => EnvironmentWorkloads {
                    environment: site.name.clone(),
                    workloads: Vec::new(),
                    error: Some(format!(
                        "the cluster of {} cannot be read: {error}",
                        site.name
                    )),
                },
            });
        }
        Ok(environments)
    }

    async fn set_approval_rules(
        &self,
        caller: &Caller,
        app: &str,
        environment: &str,
        requires_approval: bool,
        forbid_self_approval: bool,
    ) -> Result<(), ServiceError> {
        let (_, _, actor) = Self::signed_in(caller)?;
        self.check_environment(environment)?;
        let record = self.app_named(app).await?;
        self.act_on(caller, record.id, app).await?;
        let event = crate::audit::event(
            &actor,
            "deployment.approval_rules",
            &format!("app:{app}"),
            Outcome::Success,
            json!({"environment": environment, "requires_approval": requires_approval, "forbid_self_approval": forbid_self_approval}),
        );
        self.store
            .set_approval_rules(
                record.id,
                environment,
                requires_approval,
                forbid_self_approval,
                Some(&event),
            )
            .await
            .map_err(|error| unavailable(&error))?;
        self.wake(record.id, environment);
        Ok(())
    }
}
