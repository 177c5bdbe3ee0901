//! What every write does to an object before it is stored: its name, uid,
//! timestamps and type; Secrets' `stringData`; and the pieces of listings
//! (continue tokens) and deletions (owner references) that read objects.

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::resources::ResourceType;
use crate::status::{ApiError, ApiResult};

pub(super) fn object_name(object: &Value, resource: &ResourceType) -> ApiResult<String> {
    if !object.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    if let Some(name) = object.pointer("/metadata/name").and_then(Value::as_str)
        && !name.is_empty()
    {
        return Ok(name.to_string());
    }
    if let Some(prefix) = object
        .pointer("/metadata/generateName")
        .and_then(Value::as_str)
    {
        let suffix: String = uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .chars()
            .take(5)
            .collect();
        return Ok(format!("{prefix}{suffix}"));
    }
    Err(ApiError::invalid(
        &resource.id(),
        "",
        "metadata.name",
        "Required value: name or generateName is required",
    ))
}

pub(super) fn prepare_new(object: &mut Value, resource: &ResourceType, namespace: &str) {
    let name = object_name(object, resource).unwrap_or_default();
    if !object["metadata"].is_object() {
        object["metadata"] = Value::Object(Map::new());
    }
    let metadata = &mut object["metadata"];
    metadata["name"] = json!(name);
    if resource.namespaced {
        metadata["namespace"] = json!(namespace);
    } else if let Some(map) = metadata.as_object_mut() {
        map.remove("namespace");
    }
    metadata["uid"] = json!(uuid::Uuid::new_v4().to_string());
    metadata["creationTimestamp"] = json!(now());
    metadata["generation"] = json!(1);
    if let Some(map) = metadata.as_object_mut() {
        map.remove("deletionTimestamp");
        map.remove("resourceVersion");
    }
    if resource.status && resource.id() != "namespaces" {
        // A new object starts without a status; controllers fill it in.
        if let Some(map) = object.as_object_mut() {
            map.remove("status");
        }
    }
    if resource.id() == "namespaces" {
        object["status"] = json!({"phase": "Active"});
    }
    fold_string_data(object, resource);
    set_type(object, resource);
    apply_defaults(object, resource);
}

/// Containers' ports are TCP unless they say otherwise, wherever a pod
/// spec sits (a pod, a workload's template, a CronJob's job template).
fn default_port_protocols(object: &mut Value) {
    for spec in [
        "/spec",
        "/spec/template/spec",
        "/spec/jobTemplate/spec/template/spec",
    ] {
        let Some(containers) = object
            .pointer_mut(&format!("{spec}/containers"))
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for port in containers
            .iter_mut()
            // (get_mut: indexing would add `ports: null` where there were none)
            .filter_map(|container| container.get_mut("ports").and_then(Value::as_array_mut))
            .flatten()
        {
            if port["protocol"].is_null() {
                port["protocol"] = json!("TCP");
            }
        }
    }
}

/// What the API server fills in on create and kubectl relies on: a Job's
/// selector and its pods' labels (so `kubectl logs job/x` finds its pod),
/// a Service's cluster address and port defaults, a Deployment's strategy,
/// container ports' protocol.
fn apply_defaults(object: &mut Value, resource: &ResourceType) {
    default_port_protocols(object);
    match resource.id().as_str() {
        "jobs.batch" if object["spec"]["manualSelector"] != true => {
            let uid = object["metadata"]["uid"].clone();
            let name = object["metadata"]["name"].clone();
            if object["spec"]["selector"].is_null() {
                object["spec"]["selector"] =
                    json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
            }
            let template = &mut object["spec"]["template"];
            if !template["metadata"]["labels"].is_object() {
                template["metadata"]["labels"] = json!({});
            }
            let labels = &mut template["metadata"]["labels"];
            labels["batch.kubernetes.io/controller-uid"] = uid.clone();
            labels["batch.kubernetes.io/job-name"] = name.clone();
            labels["controller-uid"] = uid;
            labels["job-name"] = name;
        }
        "deployments.apps" if object["spec"]["strategy"].is_null() => {
            object["spec"]["strategy"] = json!({"type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}});
        }
        "services" => {
            let spec = &mut object["spec"];
            if spec["type"].is_null() {
                spec["type"] = json!("ClusterIP");
            }
            if spec["clusterIP"].is_null() && spec["type"] != "ExternalName" {
                let bytes = *uuid::Uuid::new_v4().as_bytes();
                let address = format!("10.96.{}.{}", bytes[0], bytes[1].max(1));
                spec["clusterIP"] = json!(address);
                spec["clusterIPs"] = json!([address]);
            }
            if let Some(ports) = spec["ports"].as_array_mut() {
                for port in ports {
                    if port["protocol"].is_null() {
                        port["protocol"] = json!("TCP");
                    }
                    if port["targetPort"].is_null() {
                        port["targetPort"] = port["port"].clone();
                    }
                }
            }
        }
        _ => {}
    }
}

pub(super) fn set_type(object: &mut Value, resource: &ResourceType) {
    object["apiVersion"] = json!(resource.api_version());
    object["kind"] = json!(resource.kind);
}

/// Secrets: `stringData` is write-only; it lands base64-encoded in `data`.
pub(super) fn fold_string_data(object: &mut Value, resource: &ResourceType) {
    if resource.id() != "secrets" {
        return;
    }
    let Some(string_data) = object
        .as_object_mut()
        .and_then(|map| map.remove("stringData"))
    else {
        return;
    };
    if let Value::Object(entries) = string_data {
        if !object["data"].is_object() {
            object["data"] = Value::Object(Map::new());
        }
        for (key, value) in entries {
            let text = value.as_str().unwrap_or_default();
            object["data"][key] = json!(base64::engine::general_purpose::STANDARD.encode(text));
        }
    }
}

pub(crate) fn finalizers(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn owned_by(object: &Value, uid: &str) -> bool {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|owners| {
            owners
                .iter()
                .any(|owner| owner["uid"].as_str() == Some(uid))
        })
}

pub(super) fn without_metadata_and_status(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    copy
}

pub(super) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(super) fn encode_continue(last: &Value) -> String {
    let namespace = last
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = last
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{namespace}\u{0}{name}"))
}

pub(super) fn decode_continue(token: &str) -> ApiResult<(String, String)> {
    let bad = || ApiError::bad_request("the continue token is not valid");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (namespace, name) = text.split_once('\u{0}').ok_or_else(bad)?;
    Ok((namespace.to_string(), name.to_string()))
}
