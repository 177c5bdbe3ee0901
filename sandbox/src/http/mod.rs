//! The Kubernetes HTTP API over the store: discovery, the verbs, watch.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::faults::{Faults, Verb};
use crate::rbac::Identity;
use crate::resources::ResourceType;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{ApiError, ApiResult};
use crate::store::{self, Event, EventKind, Store, WriteOptions};
use crate::{openapi, patch, protobuf};

mod authorize;
pub mod bearer;
mod discovery;
mod logs;
mod scale;
mod table;
pub mod tls;
mod watch;

use discovery::*;
use watch::*;

pub use authorize::Judged;

#[derive(Clone)]
pub struct Shared {
    pub store: Arc<Mutex<Store>>,
    pub faults: Faults,
    /// Every request made as an identity, as RBAC judged it.
    pub judged: Arc<Mutex<Vec<Judged>>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves the store as it was before
        // the operation's first write, so the data is still consistent.
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn note(&self, judged: Judged) {
        self.judged
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(judged);
    }
}

pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/version", get(version))
        .route("/api", get(core_versions))
        .route("/apis", get(groups))
        .route("/api/{*rest}", any(core))
        .route("/apis/{*rest}", any(grouped))
        .route("/openapi/v3", get(openapi_root))
        .route("/openapi/v3/{*path}", get(openapi_group_version))
        .fallback(|request: axum::extract::Request| async move {
            ApiError::no_route(request.uri().path())
        })
        .with_state(shared)
}

/// What a path under `/api` or `/apis` names.
enum Target {
    Discovery(Value),
    Group(Value),
    Resource {
        resource: ResourceType,
        namespace: Option<String>,
        name: Option<String>,
        subresource: Option<String>,
    },
}

async fn core(
    State(shared): State<Shared>,
    identity: Option<Extension<Identity>>,
    Path(rest): Path<String>,
    method: Method,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = {
        let store = shared.lock();
        parse_target(&store, "", &rest)
    };
    let identity = identity.map(|Extension(identity)| identity);
    handle(shared, identity, target, method, query, headers, body).await
}

async fn grouped(
    State(shared): State<Shared>,
    identity: Option<Extension<Identity>>,
    Path(rest): Path<String>,
    method: Method,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(metrics) = rest.strip_prefix(METRICS_GROUP) {
        return self::discovery::metrics(metrics);
    }
    let target = {
        let store = shared.lock();
        match rest.split_once('/') {
            Some((group, rest)) => parse_target(&store, group, rest),
            None => {
                let versions: Vec<String> = store
                    .types()
                    .iter()
                    .filter(|resource| resource.group == rest)
                    .map(|resource| resource.version.clone())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                if versions.is_empty() {
                    Err(ApiError::no_route(&format!("/apis/{rest}")))
                } else {
                    Ok(Target::Group(group_entry(&rest, &versions)))
                }
            }
        }
    };
    let identity = identity.map(|Extension(identity)| identity);
    handle(shared, identity, target, method, query, headers, body).await
}

/// `v1/namespaces/ns/pods/name/log` → the resource, namespace, name, subresource.
fn parse_target(store: &Store, group: &str, rest: &str) -> ApiResult<Target> {
    let segments: Vec<&str> = rest
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    let not_found = || ApiError::no_route(rest);
    let (version, tail) = segments.split_first().ok_or_else(not_found)?;
    if tail.is_empty() {
        return resource_list(store, group, version)
            .map(Target::Discovery)
            .ok_or_else(not_found);
    }
    let find = |plural: &str| {
        store
            .types()
            .iter()
            .find(|resource| {
                resource.group == group && resource.version == *version && resource.plural == plural
            })
            .cloned()
    };
    let (namespace, tail) = match tail {
        ["namespaces", namespace, plural, rest @ ..]
            if find(plural).is_some_and(|resource| resource.namespaced) =>
        {
            (Some(namespace.to_string()), [&[*plural][..], rest].concat())
        }
        _ => (None, tail.to_vec()),
    };
    let resource = find(tail[0]).ok_or_else(not_found)?;
    Ok(Target::Resource {
        resource,
        namespace,
        name: tail.get(1).map(|name| name.to_string()),
        subresource: tail.get(2).map(|sub| sub.to_string()),
    })
}

async fn handle(
    shared: Shared,
    identity: Option<Identity>,
    target: ApiResult<Target>,
    method: Method,
    query: BTreeMap<String, String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = match target {
        Ok(target) => target,
        Err(error) => return error.into_response(),
    };
    let (resource, namespace, name, subresource) = match target {
        Target::Discovery(list) | Target::Group(list) => return axum::Json(list).into_response(),
        Target::Resource {
            resource,
            namespace,
            name,
            subresource,
        } => (resource, namespace, name, subresource),
    };
    if let Some(identity) = &identity {
        let asked = authorize::Asked {
            resource: &resource,
            namespace: namespace.as_deref(),
            name: name.as_deref(),
            subresource: subresource.as_deref(),
            method: &method,
            query: &query,
            body: &body,
        };
        if let Err(refused) = authorize::authorize(&shared, identity, asked) {
            return refused.into_response();
        }
    }
    let namespace_or_default = namespace.clone().unwrap_or_default();
    // DeleteOptions come in the body (kube-rs) or the query (kubectl --cascade).
    let delete_options: Value = if method == Method::DELETE {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let propagation = delete_options["propagationPolicy"]
        .as_str()
        .or(query.get("propagationPolicy").map(String::as_str));
    let dry_run = query.get("dryRun").is_some_and(|value| value == "All")
        || delete_options["dryRun"]
            .as_array()
            .is_some_and(|values| values.iter().any(|value| value == "All"));
    let options = WriteOptions {
        dry_run,
        status: subresource.as_deref() == Some("status"),
        orphan: propagation == Some("Orphan"),
    };
    if let (Some("log"), Some(pod), true) = (
        subresource.as_deref(),
        name.as_deref(),
        method == Method::GET,
    ) && resource.id() == "pods"
    {
        let follow = query.get("follow").is_some_and(|follow| follow == "true");
        return logs::log(shared, namespace_or_default, pod.to_string(), follow);
    }
    if let (Some("scale"), Some(name)) = (subresource.as_deref(), name.as_deref())
        && resource.scalable()
    {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let request = scale::ScaleRequest {
            resource: &resource,
            namespace: &namespace_or_default,
            name,
            method: &method,
            content_type,
            body: &body,
            options: WriteOptions {
                status: false,
                ..options
            },
        };
        return match scale::scale(&shared, request) {
            Ok(scale) => axum::Json(scale).into_response(),
            Err(error) => error.into_response(),
        };
    }
    if let Some(what) = subresource.as_deref().and_then(runs_containers) {
        return ApiError::bad_request(format!(
            "the sandbox does not run containers, so there is nothing to {what}: \
             its pods are simulated (their logs are `kubectl logs`)"
        ))
        .into_response();
    }
    if let Some(subresource) = subresource.as_deref()
        && subresource != "status"
    {
        return ApiError::no_route(subresource).into_response();
    }

    // JSON, or protobuf for the built-in kinds kubectl's generators send;
    // clients that try CBOR first fall back on 415.
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let body = if body.is_empty() || content_type.contains("json") || content_type.contains("yaml")
    {
        body
    } else if content_type.starts_with(protobuf::CONTENT_TYPE) {
        match protobuf::to_json(&body) {
            Ok(object) => Bytes::from(object.to_string()),
            Err(refusal @ protobuf::Refusal::Kind { .. }) => {
                return ApiError::unsupported_media_type_because(refusal.message()).into_response();
            }
            Err(refusal) => return ApiError::bad_request(refusal.message()).into_response(),
        }
    } else {
        return ApiError::unsupported_media_type(content_type).into_response();
    };
    let watching = query
        .get("watch")
        .is_some_and(|watch| watch == "true" || watch == "1");
    let verb = match (&method, name.is_some()) {
        (&Method::GET, true) => Verb::Get,
        (&Method::GET, false) if watching => Verb::Watch,
        (&Method::GET, false) => Verb::List,
        (&Method::POST, _) => Verb::Create,
        (&Method::PUT, _) => Verb::Update,
        (&Method::PATCH, _) => Verb::Patch,
        _ => Verb::Delete,
    };
    let (latency, failure) = shared.faults.decide(verb, &resource.plural, &resource.id());
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(failure) = failure {
        return failure.response();
    }
    let ok = |object: Value| (StatusCode::OK, object);
    let printer = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(table::wanted)
        .then(|| {
            table::Printer::new(
                &shared.lock(),
                &resource,
                query.get("includeObject").map(String::as_str),
            )
        });
    let result = match (method.clone(), name) {
        (Method::GET, None) if watching => {
            return watch(shared, resource, namespace, &query, printer).await;
        }
        (Method::GET, None) => list(&shared, &resource, namespace.as_deref(), &query)
            .map(|list| match &printer {
                Some(printer) => printer.table(
                    list["items"].as_array().map_or(&[][..], Vec::as_slice),
                    list["metadata"].clone(),
                ),
                None => list,
            })
            .map(ok),
        (Method::GET, Some(name)) => shared
            .lock()
            .get(&resource, &namespace_or_default, &name)
            .map(|object| match &printer {
                Some(printer) => printer.table(
                    std::slice::from_ref(&object),
                    json!({"resourceVersion": object["metadata"]["resourceVersion"]}),
                ),
                None => object,
            })
            .map(ok),
        (Method::POST, None) => parse_json(&body)
            .and_then(|object| {
                shared
                    .lock()
                    .create(&resource, &namespace_or_default, object, options)
            })
            .map(|object| (StatusCode::CREATED, object)),
        (Method::PUT, Some(name)) => parse_json(&body)
            .and_then(|object| {
                shared
                    .lock()
                    .replace(&resource, &namespace_or_default, &name, object, options)
            })
            .map(ok),
        (Method::PATCH, Some(name)) => patch_object(
            &shared,
            &resource,
            &namespace_or_default,
            &name,
            &query,
            &headers,
            &body,
            options,
        )
        .map(ok),
        (Method::DELETE, Some(name)) => shared
            .lock()
            .delete(&resource, &namespace_or_default, &name, options)
            .map(ok),
        _ => Err(ApiError::method_not_allowed()),
    };
    match result {
        Ok((status, object)) => (status, axum::Json(object)).into_response(),
        Err(error) => error.into_response(),
    }
}

/// The pod subresources that need a running container, by what they do.
fn runs_containers(subresource: &str) -> Option<&'static str> {
    match subresource {
        "exec" => Some("exec into (kubectl exec, kubectl cp)"),
        "attach" => Some("attach to"),
        "portforward" => Some("forward ports to"),
        "proxy" => Some("proxy to"),
        _ => None,
    }
}

fn parse_json(body: &Bytes) -> ApiResult<Value> {
    serde_json::from_slice(body)
        .map_err(|error| ApiError::bad_request(format!("the body is not valid JSON: {error}")))
}

fn list(
    shared: &Shared,
    resource: &ResourceType,
    namespace: Option<&str>,
    query: &BTreeMap<String, String>,
) -> ApiResult<Value> {
    let labels = LabelSelector::parse(query.get("labelSelector").map_or("", String::as_str))?;
    let fields = FieldSelector::parse(query.get("fieldSelector").map_or("", String::as_str))?;
    let limit = query
        .get("limit")
        .and_then(|limit| limit.parse::<usize>().ok())
        .filter(|limit| *limit > 0);
    let listed = shared.lock().list(
        resource,
        namespace,
        |object| labels.matches(&object_labels(object)) && fields.matches(object),
        limit,
        query
            .get("continue")
            .map(String::as_str)
            .filter(|token| !token.is_empty()),
    )?;
    let mut metadata = json!({"resourceVersion": listed.revision.to_string()});
    if let Some(next) = listed.next {
        metadata["continue"] = json!(next);
    }
    Ok(json!({
        "kind": format!("{}List", resource.kind),
        "apiVersion": resource.api_version(),
        "metadata": metadata,
        "items": listed.items,
    }))
}

fn object_labels(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(key, value)| {
                    value.as_str().map(|value| (key.clone(), value.to_string()))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
fn patch_object(
    shared: &Shared,
    resource: &ResourceType,
    namespace: &str,
    name: &str,
    query: &BTreeMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
    options: WriteOptions,
) -> ApiResult<Value> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let patch_body = parse_json(body)?;
    let mut store = shared.lock();
    if content_type == "application/apply-patch+yaml" {
        let manager = query
            .get("fieldManager")
            .filter(|manager| !manager.is_empty())
            .ok_or_else(|| ApiError::bad_request("PATCH with apply requires fieldManager"))?;
        let force = query.get("force").is_some_and(|force| force == "true");
        let manager = store::FieldManager {
            name: manager,
            force,
        };
        return store.apply(resource, namespace, name, patch_body, manager, options);
    }
    let existing = store.get(resource, namespace, name)?;
    let mut patched = existing.clone();
    apply_patch(
        &content_type,
        &mut patched,
        patch_body,
        &resource.id(),
        name,
    )?;
    let key = crate::keys::key(resource, namespace, name);
    store.update(resource, key, existing, patched, options)
}

/// Applies a JSON, merge or strategic merge patch to `target`.
fn apply_patch(
    content_type: &str,
    target: &mut Value,
    patch_body: Value,
    resource: &str,
    name: &str,
) -> ApiResult<()> {
    match content_type {
        "application/json-patch+json" => {
            let mut operations: json_patch::Patch =
                serde_json::from_value(patch_body).map_err(|error| {
                    ApiError::bad_request(format!("the JSON patch is not valid: {error}"))
                })?;
            // As Kubernetes does: `test` for null passes on a missing path
            // (kube-runtime's finalizer helper relies on it).
            operations.0.retain(|operation| match operation {
                json_patch::PatchOperation::Test(test) => {
                    !(test.value.is_null() && target.pointer(test.path.as_str()).is_none())
                }
                _ => true,
            });
            json_patch::patch(target, &operations)
                .map_err(|error| ApiError::invalid(resource, name, "patch", &error.to_string()))?;
        }
        "application/merge-patch+json" => patch::merge(target, &patch_body),
        "application/strategic-merge-patch+json" => patch::strategic_merge(target, &patch_body),
        other => return Err(ApiError::unsupported_media_type(other)),
    }
    Ok(())
}
