//! A database as its page shows it: record, connection, timeline (steps
//! under the requests that caused them, from the audit log) and estimate.

use app::caller::ServiceError;
use app::databases::{
    ChangeRequest, ConnectionInfo, DatabaseDetail, DatabaseSummary, Intent, Status, StepView,
    TIMELINE_ACTIONS, Termination,
};

use super::DatabaseService;
use super::service::unavailable;
use crate::provisioning::engine::database_spec;
use crate::store::{AuditQuery, DatabaseRecord, Outcome};

impl DatabaseService {
    /// The page's view of a database, with its timeline and estimate.
    pub async fn detail_of(&self, record: DatabaseRecord) -> Result<DatabaseDetail, ServiceError> {
        let steps = self
            .store
            .steps(record.id)
            .await
            .map_err(|error| unavailable(&error))?;
        let coming_up = matches!(record.status, Status::Pending | Status::Initializing);
        let estimate_seconds = if coming_up {
            self.estimate(&record).await
        } else {
            None
        };
        let spec = database_spec(&record);
        let requests = self.requests(&record).await;
        let terminated = (record.intent == Intent::Terminated)
            .then(|| {
                requests
                    .iter()
                    .rev()
                    .find(|request| request.action == "database.terminate")
                    .map(|request| Termination {
                        at: request.at.clone(),
                        by: request.by.clone(),
                    })
            })
            .flatten();
        Ok(DatabaseDetail {
            terminated,
            requests,
            intent: record.intent,
            deletion_protection: record.deletion_protection,
            status_message: record.status_message.clone(),
            settled: record.settled,
            connection: ConnectionInfo {
                host: spec.service_host(),
                port: record.engine.port(),
                username: spec.username(),
                schema_name: record.schema_name.clone(),
                outside: self.region(&record.region).map_or(
                    app::databases::Outside::NotConfigured,
                    |region| {
                        region.outside.for_database(
                            &record.name,
                            &spec.namespace(),
                            record.engine.port(),
                        )
                    },
                ),
            },
            steps: steps.into_iter().map(step_view).collect(),
            estimate_seconds,
            read_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            summary: summary(record, None),
        })
    }

    /// The changes asked for, oldest first, from the audit log (its newest
    /// 200 events about this database; a timeline longer than that shows
    /// its older steps without their request).
    async fn requests(&self, record: &DatabaseRecord) -> Vec<ChangeRequest> {
        let Ok(page) = self
            .store
            .list_audit(&AuditQuery {
                target: Some(format!("database:{}", record.id)),
                limit: 200,
                ..AuditQuery::default()
            })
            .await
        else {
            return Vec::new();
        };
        let mut requests: Vec<ChangeRequest> = page
            .items
            .into_iter()
            .filter(|event| {
                event.outcome == Outcome::Success
                    && TIMELINE_ACTIONS.contains(&event.action.as_str())
            })
            .map(|event| ChangeRequest {
                at: event
                    .at
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                action: event.action,
                by: event.actor_name,
            })
            .collect();
        requests.reverse();
        requests
    }

    /// Seconds left: the median time earlier databases of this engine took
    /// from their first step to ACTIVE, minus the time this one has had.
    async fn estimate(&self, record: &DatabaseRecord) -> Option<u64> {
        let past = self
            .store
            .provisioning_durations(record.engine, 25)
            .await
            .ok()?;
        let elapsed = (chrono::Utc::now() - record.created_at).num_milliseconds() as f64 / 1000.0;
        seconds_left(past, elapsed)
    }
}

/// The estimate's rule: the median of the past provisions' durations
/// (seconds) minus the `elapsed` seconds this one has had, never below one
/// second while it is still coming up; nothing without a past.
pub(crate) fn seconds_left(mut past: Vec<f64>, elapsed: f64) -> Option<u64> {
    past.retain(|seconds| seconds.is_finite());
    if past.is_empty() {
        return None;
    }
    past.sort_by(f64::total_cmp);
    let median = past[past.len() / 2];
    Some((median - elapsed).max(1.0).ceil() as u64)
}

pub(super) fn summary(record: DatabaseRecord, owner: Option<String>) -> DatabaseSummary {
    DatabaseSummary {
        id: record.id.to_string(),
        engine: record.engine,
        status: record.status,
        created_at: record
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        name: record.name,
        tier: record.tier.name.to_string(),
        region: record.region,
        owner,
    }
}

fn step_view(step: crate::store::ProvisioningStep) -> StepView {
    StepView {
        duration_ms: step
            .finished_at
            .map(|finished| (finished - step.started_at).num_milliseconds()),
        started_at: step
            .started_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        finished_at: step
            .finished_at
            .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        step: step.step,
        attempt: step.attempt,
        outcome: step.outcome,
        message: step.message,
    }
}

#[cfg(test)]
mod tests {
    use super::seconds_left;

    #[test]
    fn the_estimate_is_the_median_past_duration_less_the_time_already_spent() {
        assert_eq!(seconds_left(Vec::new(), 0.0), None);
        // The median, not the mean: one slow provision does not move it.
        assert_eq!(seconds_left(vec![10.0, 300.0, 12.0], 0.0), Some(12));
        assert_eq!(seconds_left(vec![10.0, 300.0, 12.0], 4.5), Some(8));
        // Past the median: still coming, so a second, never zero or less.
        assert_eq!(seconds_left(vec![10.0, 300.0, 12.0], 30.0), Some(1));
        // Fractions round up; an unreadable duration is left out.
        assert_eq!(seconds_left(vec![7.2, f64::NAN], 0.0), Some(8));
    }
}
