//! Each operator's own idea of "ready", read from its resource's status
//! (../shared/docs/operators.md): the engine never guesses from pods.

use app::databases::Engine;
use serde_json::Value;

use super::plan::Readiness;

/// CloudNativePG phases that no amount of waiting fixes.
const CNPG_FAILED_PHASES: &[&str] = &[
    "Cluster is unrecoverable and needs manual intervention",
    "Invalid cluster definition",
    "Unable to create required cluster objects",
    "Cluster has incomplete or invalid image catalog",
];

pub fn readiness(engine: Engine, resource: &Value) -> Readiness {
    match engine {
        Engine::Cassandra => cassandra(resource),
        Engine::Postgresql => cloudnative_pg(resource),
    }
}

fn condition<'a>(resource: &'a Value, kind: &str) -> Option<&'a Value> {
    resource["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|condition| condition["type"] == kind)
}

fn is_true(resource: &Value, kind: &str) -> bool {
    condition(resource, kind).is_some_and(|condition| condition["status"] == "True")
}

/// cass-operator: progress `Ready`, `Ready=True` and `Initialized=True`, and
/// the status is about the current generation; `Stopped=True` when parked;
/// `Valid=False` carries an error it cannot get past.
fn cassandra(resource: &Value) -> Readiness {
    if let Some(invalid) = condition(resource, "Valid").filter(|c| c["status"] == "False") {
        let reason = invalid["message"]
            .as_str()
            .filter(|message| !message.is_empty())
            .or_else(|| invalid["reason"].as_str())
            .unwrap_or("the datacenter is not valid");
        return Readiness::Failed(reason.to_string());
    }
    let generation = resource["metadata"]["generation"].as_i64().unwrap_or(1);
    let observed = resource["status"]["observedGeneration"]
        .as_i64()
        .unwrap_or(0);
    let settled =
        resource["status"]["cassandraOperatorProgress"] == "Ready" && observed >= generation;
    if !settled {
        return Readiness::Progressing;
    }
    if is_true(resource, "Stopped") {
        Readiness::Stopped
    } else if is_true(resource, "Ready") && is_true(resource, "Initialized") {
        Readiness::Ready
    } else {
        Readiness::Progressing
    }
}

/// CloudNativePG: `Ready=True` with every instance ready; hibernated when
/// parked; some phases are failures.
fn cloudnative_pg(resource: &Value) -> Readiness {
    let phase = resource["status"]["phase"].as_str().unwrap_or_default();
    if CNPG_FAILED_PHASES.contains(&phase) {
        let reason = resource["status"]["phaseReason"]
            .as_str()
            .filter(|reason| !reason.is_empty())
            .map_or_else(|| phase.to_string(), |reason| format!("{phase}: {reason}"));
        return Readiness::Failed(reason);
    }
    let hibernating = resource["metadata"]["annotations"]["cnpg.io/hibernation"] == "on";
    if hibernating {
        return if phase == "Cluster in hibernation" {
            Readiness::Stopped
        } else {
            Readiness::Progressing
        };
    }
    let wanted = resource["spec"]["instances"].as_i64().unwrap_or(1);
    let ready_instances = resource["status"]["readyInstances"].as_i64().unwrap_or(0);
    if is_true(resource, "Ready") && ready_instances >= wanted {
        Readiness::Ready
    } else {
        Readiness::Progressing
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cassdc(progress: &str, generation: i64, observed: i64, conditions: Value) -> Value {
        json!({
            "metadata": {"generation": generation},
            "status": {"cassandraOperatorProgress": progress, "observedGeneration": observed, "conditions": conditions},
        })
    }

    #[test]
    fn cassandra_is_ready_only_when_the_operator_has_seen_this_generation() {
        let ready =
            json!([{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}]);
        assert_eq!(
            cassandra(&cassdc("Ready", 2, 2, ready.clone())),
            Readiness::Ready
        );
        assert_eq!(
            cassandra(&cassdc("Ready", 3, 2, ready.clone())),
            Readiness::Progressing
        );
        assert_eq!(
            cassandra(&cassdc("Updating", 2, 2, ready)),
            Readiness::Progressing
        );
        let stopped = json!([{"type": "Stopped", "status": "True"}, {"type": "Initialized", "status": "True"}]);
        assert_eq!(
            cassandra(&cassdc("Ready", 2, 2, stopped)),
            Readiness::Stopped
        );
        let invalid = json!([{"type": "Valid", "status": "False", "reason": "pvcResizeFailed", "message": ""}]);
        assert_eq!(
            cassandra(&cassdc("Updating", 2, 1, invalid)),
            Readiness::Failed("pvcResizeFailed".into())
        );
        assert_eq!(cassandra(&json!({})), Readiness::Progressing);
    }

    #[test]
    fn postgresql_needs_every_instance_and_knows_its_failures() {
        let cluster = |phase: &str, ready: &str, instances: i64| {
            json!({
                "spec": {"instances": 3},
                "status": {"phase": phase, "readyInstances": instances,
                           "conditions": [{"type": "Ready", "status": ready}]},
            })
        };
        assert_eq!(
            cloudnative_pg(&cluster("Cluster in healthy state", "True", 3)),
            Readiness::Ready
        );
        assert_eq!(
            cloudnative_pg(&cluster("Creating a new replica", "False", 2)),
            Readiness::Progressing
        );
        assert_eq!(
            cloudnative_pg(&cluster("Cluster in healthy state", "True", 2)),
            Readiness::Progressing
        );
        assert!(matches!(
            cloudnative_pg(&cluster("Invalid cluster definition", "False", 0)),
            Readiness::Failed(reason) if reason == "Invalid cluster definition"
        ));
        let mut parked = cluster("Cluster in hibernation", "False", 0);
        parked["metadata"] = json!({"annotations": {"cnpg.io/hibernation": "on"}});
        assert_eq!(cloudnative_pg(&parked), Readiness::Stopped);
    }
}
