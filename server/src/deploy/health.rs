//! When a rollout is done, and how a Job ended: Argo CD's gitops-engine
//! rules, read from the objects' status (../shared/docs/deploy-engine.md).

use serde_json::Value;

/// A workload's health.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    Healthy,
    /// Still rolling out: what it waits for.
    Progressing(String),
    /// It will not get there by itself: the reason Kubernetes gives.
    Failed(String),
}

/// A Deployment's or StatefulSet's health; `None` when it does not exist.
pub fn workload(object: Option<&Value>) -> Health {
    let Some(object) = object else {
        return Health::Progressing("not created yet".into());
    };
    let generation = object["metadata"]["generation"].as_i64().unwrap_or(0);
    let status = &object["status"];
    let observed = status["observedGeneration"].as_i64().unwrap_or(0);
    let wanted = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let count = |field: &str| status[field].as_i64().unwrap_or(0);
    if object["kind"] == "StatefulSet" {
        if observed == 0 || generation > observed {
            return Health::Progressing("the controller has not seen the new spec".into());
        }
        if count("readyReplicas") < wanted {
            return Health::Progressing(format!(
                "{} of {wanted} replicas ready",
                count("readyReplicas")
            ));
        }
        if status["updateRevision"] != status["currentRevision"] {
            return Health::Progressing("pods are being replaced".into());
        }
        return Health::Healthy;
    }
    if generation > observed {
        return Health::Progressing("the controller has not seen the new spec".into());
    }
    let progressing = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|condition| condition["type"] == "Progressing");
    if let Some(condition) = progressing
        && condition["reason"] == "ProgressDeadlineExceeded"
    {
        let message = condition["message"].as_str().unwrap_or_default();
        return Health::Failed(format!("ProgressDeadlineExceeded: {message}"));
    }
    let updated = count("updatedReplicas");
    if updated < wanted {
        return Health::Progressing(format!("{updated} of {wanted} replicas updated"));
    }
    if count("replicas") > updated {
        return Health::Progressing("old replicas are pending termination".into());
    }
    if count("availableReplicas") < updated {
        return Health::Progressing(format!(
            "{} of {updated} updated replicas available",
            count("availableReplicas")
        ));
    }
    Health::Healthy
}

/// How a Job stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobEnd {
    Running,
    Complete,
    /// The reason of its `Failed` condition (e.g. `BackoffLimitExceeded`).
    Failed(String),
}

pub fn job(object: &Value) -> JobEnd {
    let conditions = object["status"]["conditions"].as_array();
    let holds = |kind: &str| {
        conditions.into_iter().flatten().find(|condition| {
            condition["type"] == kind && condition["status"].as_str() == Some("True")
        })
    };
    if let Some(failed) = holds("Failed") {
        return JobEnd::Failed(
            failed["reason"]
                .as_str()
                .unwrap_or("the Job failed")
                .to_string(),
        );
    }
    if holds("Complete").is_some() {
        return JobEnd::Complete;
    }
    JobEnd::Running
}

/// The exit code and termination message of a Job's pod's first container.
pub fn terminated(pod: &Value) -> Option<(i32, Option<String>)> {
    let state = &pod["status"]["containerStatuses"][0]["state"]["terminated"];
    let code = i32::try_from(state["exitCode"].as_i64()?).ok()?;
    Some((code, state["message"].as_str().map(str::to_string)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(status: Value) -> Value {
        json!({"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 2}, "status": status})
    }

    #[test]
    fn a_deployment_is_healthy_once_every_updated_replica_is_available() {
        let healthy = deployment(json!({"observedGeneration": 2, "replicas": 2,
            "updatedReplicas": 2, "availableReplicas": 2}));
        assert_eq!(workload(Some(&healthy)), Health::Healthy);
        let unseen = deployment(json!({"observedGeneration": 1}));
        assert!(matches!(workload(Some(&unseen)), Health::Progressing(_)));
        let waiting = deployment(json!({"observedGeneration": 2, "replicas": 2,
            "updatedReplicas": 2, "availableReplicas": 1}));
        assert_eq!(
            workload(Some(&waiting)),
            Health::Progressing("1 of 2 updated replicas available".into())
        );
        let old_pods = deployment(json!({"observedGeneration": 2, "replicas": 3,
            "updatedReplicas": 2, "availableReplicas": 2}));
        assert!(matches!(workload(Some(&old_pods)), Health::Progressing(_)));
        assert!(matches!(workload(None), Health::Progressing(_)));
    }

    #[test]
    fn a_progress_deadline_is_a_failure_with_its_reason() {
        let stuck = deployment(
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
            "availableReplicas": 0, "conditions": [{"type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"web-1\" has timed out progressing."}]}),
        );
        assert_eq!(
            workload(Some(&stuck)),
            Health::Failed(
                "ProgressDeadlineExceeded: ReplicaSet \"web-1\" has timed out progressing.".into()
            )
        );
    }

    #[test]
    fn a_statefulset_waits_for_ready_replicas_and_one_revision() {
        let object = |status: Value| json!({"kind": "StatefulSet", "metadata": {"generation": 1}, "spec": {"replicas": 1}, "status": status});
        assert!(matches!(
            workload(Some(&object(json!({"observedGeneration": 0})))),
            Health::Progressing(_)
        ));
        let rolling = object(json!({"observedGeneration": 1, "readyReplicas": 1,
            "currentRevision": "a", "updateRevision": "b"}));
        assert!(matches!(workload(Some(&rolling)), Health::Progressing(_)));
        let done = object(json!({"observedGeneration": 1, "readyReplicas": 1,
            "currentRevision": "b", "updateRevision": "b"}));
        assert_eq!(workload(Some(&done)), Health::Healthy);
    }

    #[test]
    fn a_job_ends_by_its_conditions() {
        assert_eq!(job(&json!({"status": {"active": 1}})), JobEnd::Running);
        assert_eq!(
            job(&json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}})),
            JobEnd::Complete
        );
        assert_eq!(
            job(
                &json!({"status": {"conditions": [{"type": "Failed", "status": "True",
                "reason": "BackoffLimitExceeded"}]}})
            ),
            JobEnd::Failed("BackoffLimitExceeded".into())
        );
        let pod =
            json!({"status": {"containerStatuses": [{"state": {"terminated": {"exitCode": 3}}}]}});
        assert_eq!(terminated(&pod), Some((3, None)));
    }
}
