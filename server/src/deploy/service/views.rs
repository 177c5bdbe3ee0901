//! What the deploy pages read, made from the store's records: the
//! history's query from its filters, an app's environments, and a row as
//! people read it (why it ran, its approval, its tests).

use app::caller::ServiceError;
use app::deploys::{
    DeploymentRow, DeploymentStatus, EnvironmentView, HISTORY_PAGE_SIZE, HistoryFilter, StepKind,
    Trigger,
};
use chrono::{NaiveDate, TimeZone, Utc};
use uuid::Uuid;

use super::{DeployService, MAX_TEXT};
use crate::apps::unavailable;
use crate::store::{DeploymentQuery, DeploymentRecord};

impl DeployService {
    pub(super) fn query(&self, filter: &HistoryFilter) -> Result<DeploymentQuery, ServiceError> {
        let text = |value: &str, what: &str| {
            let value = value.trim();
            if value.chars().count() > MAX_TEXT {
                return Err(ServiceError::Invalid(format!(
                    "the {what} filter is longer than {MAX_TEXT} characters"
                )));
            }
            Ok((!value.is_empty()).then(|| value.to_string()))
        };
        let environment = text(&filter.environment, "environment")?;
        if let Some(environment) = &environment {
            self.check_environment(environment)?;
        }
        let status = match text(&filter.status, "status")? {
            None => None,
            Some(status) => Some(DeploymentStatus::parse(&status).ok_or_else(|| {
                ServiceError::Invalid(format!("there is no deployment status {status:?}"))
            })?),
        };
        let trigger = match text(&filter.trigger, "trigger")? {
            None => None,
            Some(trigger) => Some(Trigger::parse(&trigger).ok_or_else(|| {
                ServiceError::Invalid(format!("there is no trigger {trigger:?}"))
            })?),
        };
        let day =
            |value: &str, what: &str| -> Result<Option<chrono::DateTime<Utc>>, ServiceError> {
                let Some(value) = text(value, what)? else {
                    return Ok(None);
                };
                let date = NaiveDate::parse_from_str(&value, "%Y-%m-%d").map_err(|_| {
                    ServiceError::Invalid(format!("the {what} date {value:?} is not YYYY-MM-DD"))
                })?;
                Ok(date
                    .and_hms_opt(0, 0, 0)
                    .map(|midnight| Utc.from_utc_datetime(&midnight)))
            };
        let from = day(&filter.from, "from")?;
        // Inclusive: up to the end of that day.
        let until = day(&filter.until, "until")?.map(|day| day + chrono::Duration::days(1));
        if let (Some(from), Some(until)) = (from, until)
            && from >= until
        {
            return Err(ServiceError::Invalid(
                "the from date is after the until date".to_string(),
            ));
        }
        let page = filter.page.max(1);
        Ok(DeploymentQuery {
            app: None,
            environment,
            status,
            trigger,
            commit_or_author: text(&filter.who, "commit or author")?,
            from,
            until,
            limit: HISTORY_PAGE_SIZE,
            offset: (page - 1).saturating_mul(HISTORY_PAGE_SIZE),
        })
    }

    pub(super) async fn environment_views(
        &self,
        app: Uuid,
    ) -> Result<Vec<EnvironmentView>, ServiceError> {
        let mut views = Vec::new();
        for (index, environment) in self.environments.iter().enumerate() {
            let previous = index
                .checked_sub(1)
                .map(|index| self.environments[index].as_str());
            let state = self
                .store
                .environment_state(app, environment, previous)
                .await
                .map_err(|error| unavailable(&error))?;
            let last_tests = self
                .store
                .deployments(&DeploymentQuery {
                    app: Some(app),
                    environment: Some(environment.clone()),
                    limit: 20,
                    ..DeploymentQuery::default()
                })
                .await
                .map_err(|error| unavailable(&error))?
                .items
                .into_iter()
                .find(|row| row.tests_passed + row.tests_failed > 0)
                .map(|row| (row.tests_passed, row.tests_failed));
            views.push(EnvironmentView {
                environment: environment.clone(),
                current: state.current.as_ref().map(|current| {
                    (
                        short(&current.sha).to_string(),
                        current.subject.clone(),
                        current
                            .finished_at
                            .unwrap_or(current.created_at)
                            .to_rfc3339(),
                    )
                }),
                active: state
                    .active
                    .as_ref()
                    .map(|active| (active.id, active.status)),
                hold: state.rules.hold.as_ref().map(|hold| {
                    format!(
                        "held by {} since {}: {}",
                        hold.by_name,
                        hold.at.format("%Y-%m-%d %H:%M UTC"),
                        hold.reason
                    )
                }),
                requires_approval: state.rules.requires_approval,
                forbid_self_approval: state.rules.forbid_self_approval,
                last_tests,
            });
        }
        Ok(views)
    }
}

pub(super) fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// Why it ran, as people read it.
fn why(deployment: &DeploymentRecord) -> String {
    let by = deployment.triggered_by_name.as_deref().unwrap_or("someone");
    match deployment.trigger {
        Trigger::Poll => "new commit (poll)".to_string(),
        Trigger::Webhook => "new commit (webhook)".to_string(),
        Trigger::Promotion => format!(
            "promotion from {}",
            deployment
                .trigger_detail
                .as_deref()
                .unwrap_or("the previous environment")
        ),
        Trigger::Rollback => format!("rollback by {by}"),
        Trigger::Redeploy if deployment.is_secrets_redeploy() => format!(
            "redeploy: {}",
            deployment
                .trigger_detail
                .as_deref()
                .unwrap_or("secrets changed")
        ),
        Trigger::Redeploy => format!("redeploy by {by}"),
        Trigger::AutoRollback => format!(
            "automatic rollback of {}",
            deployment
                .trigger_detail
                .as_deref()
                .unwrap_or("a failed release")
        ),
    }
}

pub(super) fn row(deployment: &DeploymentRecord, current: bool) -> DeploymentRow {
    let approval = match (&deployment.approval, deployment.approval_required) {
        (Some(approval), _) => Some(format!(
            "{} by {}",
            if approval.approved {
                "approved"
            } else {
                "rejected"
            },
            approval.by_name
        )),
        (None, true) => Some("awaiting approval".to_string()),
        (None, false) => None,
    };
    DeploymentRow {
        id: deployment.id,
        app: deployment.app_name.clone(),
        environment: deployment.environment.clone(),
        sha: deployment.sha.clone(),
        subject: deployment.subject.clone(),
        author: deployment.author.clone(),
        trigger: deployment.trigger,
        why: why(deployment),
        status: deployment.status,
        reason: deployment.reason.clone(),
        created_at: deployment.created_at.to_rfc3339(),
        duration_ms: deployment
            .started_at
            .zip(deployment.finished_at)
            .map(|(started, finished)| (finished - started).num_milliseconds()),
        tests_passed: deployment.tests_passed,
        tests_failed: deployment.tests_failed,
        test_results: deployment
            .steps
            .iter()
            .filter(|step| step.kind == StepKind::Test && step.is_finished())
            .map(|step| (step.name.clone(), step.exit_code))
            .collect(),
        approval,
        rollback: deployment.trigger.is_rollback(),
        rolled_back_by: deployment.rolled_back_by,
        current,
    }
}
