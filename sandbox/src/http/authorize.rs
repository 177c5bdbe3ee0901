//! The RBAC check of a request made as an identity ([`crate::rbac`]).

use std::collections::BTreeMap;

use axum::http::Method;
use serde_json::Value;

use super::Shared;
use crate::rbac::{Attributes, Identity, Policy, binding_needs};
use crate::resources::ResourceType;
use crate::status::ApiError;
use crate::store::Store;

/// One request judged: what it asked and whether the roles allowed it.
#[derive(Clone, Debug)]
pub struct Judged {
    pub attributes: Attributes,
    pub allowed: bool,
}

/// What a request names, for the check.
pub(super) struct Asked<'a> {
    pub resource: &'a ResourceType,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
    pub subresource: Option<&'a str>,
    pub method: &'a Method,
    pub query: &'a BTreeMap<String, String>,
    pub body: &'a [u8],
}

/// Allowed, or Kubernetes' 403; every judgement is noted in `shared`.
pub(super) fn authorize(
    shared: &Shared,
    identity: &Identity,
    asked: Asked<'_>,
) -> Result<(), ApiError> {
    let watch = asked
        .query
        .get("watch")
        .is_some_and(|watch| watch == "true" || watch == "1");
    let attributes = Attributes {
        verb: Attributes::verb_of(asked.method, asked.name.is_some(), watch).to_string(),
        group: asked.resource.group.clone(),
        resource: asked.resource.plural.clone(),
        subresource: asked.subresource.map(str::to_string),
        namespace: asked.namespace.map(str::to_string),
        name: asked.name.map(str::to_string),
    };
    let body: Value = serde_json::from_slice(asked.body).unwrap_or(Value::Null);
    let policy = policy(&shared.lock());
    let mut needed = vec![attributes.clone()];
    needed.extend(binding_needs(&attributes, &body));
    let refused = needed
        .into_iter()
        .find(|attributes| !policy.allows(identity, attributes));
    shared.note(Judged {
        attributes,
        allowed: refused.is_none(),
    });
    match refused {
        None => Ok(()),
        Some(refused) => Err(ApiError::forbidden(refused.forbidden_message(identity))),
    }
}

fn policy(store: &Store) -> Policy {
    let objects = |plural: &str| -> Vec<Value> {
        store
            .types()
            .iter()
            .find(|resource| {
                resource.group == "rbac.authorization.k8s.io" && resource.plural == plural
            })
            .map(|resource| store.snapshot(resource, None))
            .unwrap_or_default()
    };
    Policy {
        cluster_roles: objects("clusterroles"),
        cluster_role_bindings: objects("clusterrolebindings"),
        roles: objects("roles"),
        role_bindings: objects("rolebindings"),
    }
}
