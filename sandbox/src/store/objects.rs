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
