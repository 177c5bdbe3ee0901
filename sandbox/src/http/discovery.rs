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
    match openapi::group_version(shared.lock().types(), &path) {
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
    let groups: Vec<Value> = groups
        .iter()
        .map(|(group, versions)| group_entry(group, versions))
        .collect();
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
