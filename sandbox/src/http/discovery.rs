//! Discovery: the version, API groups and resource lists kubectl and
//! kube-rs read before anything else, and the OpenAPI documents.

use super::*;

pub(super) async fn version() -> Response {
    axum::Json(json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0-sandbox",
        "platform": "linux/amd64",
        "goVersion": "none (dscloud sandbox)",
    }))
    .into_response()
}

pub(super) async fn openapi_root(State(shared): State<Shared>) -> Response {
    axum::Json(openapi::root(shared.lock().types())).into_response()
}

pub(super) async fn openapi_group_version(
    State(shared): State<Shared>,
    Path(path): Path<String>,
) -> Response {
    let store = shared.lock();
    match openapi::group_version(store.types(), |resource| store.schema(resource), &path) {
        Some(document) => axum::Json(document).into_response(),
        None => ApiError::no_route(&path).into_response(),
    }
}

pub(super) async fn core_versions() -> Response {
    axum::Json(json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}))
        .into_response()
}

pub(super) async fn groups(State(shared): State<Shared>) -> Response {
    let store = shared.lock();
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for resource in store
        .types()
        .iter()
        .filter(|resource| !resource.group.is_empty())
    {
        let versions = groups.entry(resource.group.clone()).or_default();
        if !versions.contains(&resource.version) {
            versions.push(resource.version.clone());
        }
    }
    let mut groups: Vec<Value> = groups
        .iter()
        .map(|(group, versions)| group_entry(group, versions))
        .collect();
    groups.push(group_entry(METRICS_GROUP, &[METRICS_VERSION.to_string()]));
    axum::Json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
        .into_response()
}

pub(super) fn group_entry(group: &str, versions: &[String]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|version| json!({"groupVersion": format!("{group}/{version}"), "version": version}))
        .collect();
    json!({"name": group, "versions": versions, "preferredVersion": versions[0]})
}

pub(super) fn resource_list(store: &Store, group: &str, version: &str) -> Option<Value> {
    let resources: Vec<&ResourceType> = store
        .types()
        .iter()
        .filter(|resource| resource.group == group && resource.version == version)
        .collect();
    if resources.is_empty() {
        return None;
    }
    let mut entries = Vec::new();
    for resource in resources {
        entries.push(resource.discovery_entry());
        if resource.status {
            entries.push(resource.status_entry());
        }
        if resource.scalable() {
            entries.push(resource.scale_entry());
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": entries}),
    )
}

/// The metrics API `kubectl top` looks for: listed, so that kubectl asks and
/// gets the reason there are no metrics, rather than a bare "not available".
pub(super) const METRICS_GROUP: &str = "metrics.k8s.io";
const METRICS_VERSION: &str = "v1beta1";

/// Everything under `/apis/metrics.k8s.io`: its discovery, or why it has nothing.
pub(super) fn metrics(rest: &str) -> Response {
    match rest.trim_end_matches('/') {
        "" => axum::Json(group_entry(METRICS_GROUP, &[METRICS_VERSION.to_string()]))
            .into_response(),
        "/v1beta1" => axum::Json(json!({
            "kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": format!("{METRICS_GROUP}/{METRICS_VERSION}"),
            "resources": [
                {"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]},
                {"name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get", "list"]},
            ],
        }))
        .into_response(),
        _ => ApiError::service_unavailable(
            "the sandbox does not run containers, so it has no metrics to show (kubectl top)",
        )
        .into_response(),
    }
}
