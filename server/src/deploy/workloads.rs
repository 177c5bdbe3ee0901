//! An app's live workloads in one environment, read from its cluster when
//! asked: each Deployment and StatefulSet the engine made (desired, ready,
//! available, image) and its pods (phase, readiness, restarts, state and
//! the last lines of their log, from Kubernetes' log API).

use app::deploys::{PodView, WorkloadView};
use serde_json::Value;

use super::objects::app_selector;
use crate::cluster::{Cluster, ClusterError, Kind};
use crate::manifests::{bounded, labels};
use crate::store::AppRecord;

/// At most this many pods are shown per workload, and this many log lines each.
const PODS: usize = 10;
const LOG_LINES: i64 = 10;

pub async fn read(
    cluster: &Cluster,
    app: &AppRecord,
    environment: &str,
) -> Result<Vec<WorkloadView>, ClusterError> {
    let namespace = bounded(&app.name, environment);
    let selector = app_selector(app.id);
    let mut views = Vec::new();
    for kind in [Kind::DEPLOYMENT, Kind::STATEFUL_SET] {
        for workload in cluster.list(kind, &namespace, &selector).await? {
            views.push(view(cluster, &namespace, kind, &workload).await?);
        }
    }
    Ok(views)
}

async fn view(
    cluster: &Cluster,
    namespace: &str,
    kind: Kind,
    workload: &Value,
) -> Result<WorkloadView, ClusterError> {
    let name = workload["metadata"]["name"].as_str().unwrap_or_default();
    let status = &workload["status"];
    let component = workload["metadata"]["labels"][labels::COMPONENT]
        .as_str()
        .unwrap_or(name);
    let app = workload["metadata"]["labels"][labels::APP]
        .as_str()
        .unwrap_or_default();
    let pod_selector = format!("{}={app},{}={component}", labels::APP, labels::COMPONENT);
    let mut pods = Vec::new();
    for pod in cluster
        .list(Kind::POD, namespace, &pod_selector)
        .await?
        .into_iter()
        .take(PODS)
    {
        let pod_name = pod["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let container = &pod["status"]["containerStatuses"][0];
        let state = match container["state"].as_object() {
            Some(state) if state.contains_key("running") => "running".to_string(),
            Some(state) => state
                .values()
                .find_map(|detail| detail["reason"].as_str())
                .unwrap_or("pending")
                .to_string(),
            None => "pending".to_string(),
        };
        // A pod that has not started has no log yet: not an error.
        let log_tail = cluster
            .log_tail(namespace, &pod_name, LOG_LINES)
            .await
            .unwrap_or_default();
        pods.push(PodView {
            name: pod_name,
            phase: pod["status"]["phase"]
                .as_str()
                .unwrap_or("Pending")
                .to_string(),
            ready: container["ready"].as_bool().unwrap_or(false),
            restarts: container["restartCount"].as_i64().unwrap_or(0),
            state,
            log_tail,
        });
    }
    Ok(WorkloadView {
        object: format!("{}/{name}", kind.kind),
        desired: workload["spec"]["replicas"].as_i64().unwrap_or(1),
        ready: status["readyReplicas"].as_i64().unwrap_or(0),
        available: status["availableReplicas"]
            .as_i64()
            .or_else(|| status["readyReplicas"].as_i64())
            .unwrap_or(0),
        image: workload["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        pods,
    })
}
