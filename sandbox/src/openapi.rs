//! Just enough OpenAPI v3 for kubectl: it reads `/openapi/v3` to learn whether
//! the server validates fields itself (the `fieldValidation` parameter on each
//! kind's PATCH). Saying yes spares it downloading schemas the sandbox does
//! not have; it then sends `fieldValidation=Strict` and trusts the answer.
//! Custom kinds also get their CRD's schema, which `kubectl explain` reads.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::resources::ResourceType;

/// `/openapi/v3`: one document per group-version.
pub fn root(types: &[ResourceType]) -> Value {
    let group_versions: BTreeSet<String> = types.iter().map(path_of).collect();
    let paths: Map<String, Value> = group_versions
        .into_iter()
        .map(|path| {
            let url = format!("/openapi/v3/{path}");
            (path, json!({"serverRelativeURL": url}))
        })
        .collect();
    json!({"paths": paths})
}

/// `/openapi/v3/api/v1`, `/openapi/v3/apis/apps/v1`, …: the PATCH operations.
pub fn group_version<'a>(
    types: &[ResourceType],
    schema_of: impl Fn(&ResourceType) -> Option<&'a Value>,
    path: &str,
) -> Option<Value> {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for resource in types.iter().filter(|resource| path_of(resource) == path) {
        if let Some(schema) = schema_of(resource) {
            let mut schema = schema.clone();
            schema["x-kubernetes-group-version-kind"] = json!([
                {"group": resource.group, "version": resource.version, "kind": resource.kind}
            ]);
            let reversed_group: Vec<&str> = resource.group.split('.').rev().collect();
            let name = format!(
                "{}.{}.{}",
                reversed_group.join("."),
                resource.version,
                resource.kind
            );
            schemas.insert(name, schema);
        }
        let collection = if resource.namespaced {
            format!("/{path}/namespaces/{{namespace}}/{}", resource.plural)
        } else {
            format!("/{path}/{}", resource.plural)
        };
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({"patch": {
                "x-kubernetes-group-version-kind": {"group": resource.group, "version": resource.version, "kind": resource.kind},
                "parameters": [
                    {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                    {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                    {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                    {"name": "force", "in": "query", "schema": {"type": "boolean"}},
                ],
                "responses": {"200": {"description": "OK"}},
            }}),
        );
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes sandbox", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

fn path_of(resource: &ResourceType) -> String {
    if resource.group.is_empty() {
        format!("api/{}", resource.version)
    } else {
        format!("apis/{}/{}", resource.group, resource.version)
    }
}
