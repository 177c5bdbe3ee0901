//! The `scale` subresource of Deployments, StatefulSets and ReplicaSets
//! (`kubectl scale`): an `autoscaling/v1` `Scale` whose `spec.replicas` is
//! the object's.

use super::*;

pub(super) struct ScaleRequest<'a> {
    pub resource: &'a ResourceType,
    pub namespace: &'a str,
    pub name: &'a str,
    pub method: &'a Method,
    pub content_type: &'a str,
    pub body: &'a Bytes,
    pub options: WriteOptions,
}

pub(super) fn scale(shared: &Shared, request: ScaleRequest<'_>) -> ApiResult<Value> {
    let ScaleRequest {
        resource,
        namespace,
        name,
        method,
        content_type,
        body,
        options,
    } = request;
    let mut store = shared.lock();
    let object = store.get(resource, namespace, name)?;
    let current = as_scale(&object);
    let wanted = match *method {
        Method::GET => return Ok(current),
        Method::PUT => parse_json(body)?,
        Method::PATCH => {
            let mut patched = current.clone();
            let content_type = content_type.split(';').next().unwrap_or_default().trim();
            apply_patch(
                content_type,
                &mut patched,
                parse_json(body)?,
                &resource.id(),
                name,
            )?;
            patched
        }
        _ => return Err(ApiError::method_not_allowed()),
    };
    let replicas = wanted["spec"]["replicas"]
        .as_i64()
        .filter(|replicas| *replicas >= 0)
        .ok_or_else(|| {
            ApiError::invalid(
                &resource.id(),
                name,
                "spec.replicas",
                "must be a number of replicas, 0 or more",
            )
        })?;
    if let Some(version) = wanted["metadata"]["resourceVersion"].as_str()
        && Some(version) != object["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::conflict(
            &resource.id(),
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        ));
    }
    let mut updated = object.clone();
    updated["spec"]["replicas"] = json!(replicas);
    let key = crate::keys::key(resource, namespace, name);
    let stored = store.update(resource, key, object, updated, options)?;
    Ok(as_scale(&stored))
}

fn as_scale(object: &Value) -> Value {
    let metadata = &object["metadata"];
    let selector = object["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": metadata["name"], "namespace": metadata["namespace"], "uid": metadata["uid"],
            "resourceVersion": metadata["resourceVersion"],
            "creationTimestamp": metadata["creationTimestamp"],
        },
        "spec": {"replicas": object["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {"replicas": object["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector},
    })
}
