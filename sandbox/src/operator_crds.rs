//! The sandbox's own CRDs for the two database operators, written from the
//! facts in `../shared/docs/operators.md` (not copies of the operators'
//! files): the fields the portal uses, their types and rules; everything
//! else in cass-operator's `spec` is kept as given, as the real CRD does.

use serde_json::{Value, json};

fn preserved() -> Value {
    json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}

struct Names<'a> {
    group: &'a str,
    version: &'a str,
    kind: &'a str,
    plural: &'a str,
    short_names: &'a [&'a str],
}

fn definition(names: Names<'_>, spec: Value, spec_required_at_root: bool) -> Value {
    let mut schema = json!({"type": "object", "properties": {"spec": spec, "status": preserved()}});
    if spec_required_at_root {
        schema["required"] = json!(["spec"]);
    }
    let version = json!({
        "name": names.version, "served": true, "storage": true,
        "subresources": {"status": {}},
        "schema": {"openAPIV3Schema": schema},
    });
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{}.{}", names.plural, names.group)},
        "spec": {
            "group": names.group,
            "scope": "Namespaced",
            "names": {
                "kind": names.kind, "listKind": format!("{}List", names.kind), "plural": names.plural,
                "singular": names.kind.to_lowercase(), "shortNames": names.short_names,
            },
            "versions": [version],
        }
    })
}

/// cass-operator's `CassandraDatacenter` (cassandra.datastax.com/v1beta1).
pub fn cassandra_datacenter() -> Value {
    let racks = json!({"type": "array", "items": {
        "type": "object", "x-kubernetes-preserve-unknown-fields": true,
        "required": ["name"], "properties": {"name": {"type": "string", "minLength": 2}}}});
    let properties = json!({
        "clusterName": {"type": "string", "minLength": 2},
        "serverType": {"type": "string", "enum": ["cassandra", "dse", "hcd"]},
        "serverVersion": {"type": "string"},
        "size": {"type": "integer", "format": "int32", "minimum": 1},
        "stopped": {"type": "boolean"},
        "superuserSecretName": {"type": "string"},
        "resources": preserved(),
        "racks": racks,
        "storageConfig": {"type": "object", "properties": {"cassandraDataVolumeClaimSpec": preserved()}},
        "config": preserved(),
    });
    let spec = json!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
        "required": ["clusterName", "serverType", "serverVersion", "size", "storageConfig"],
        "properties": properties,
    });
    let names = Names {
        group: "cassandra.datastax.com",
        version: "v1beta1",
        kind: "CassandraDatacenter",
        plural: "cassandradatacenters",
        short_names: &["cassdc", "cassdcs"],
    };
    definition(names, spec, false)
}

/// CloudNativePG's `Cluster` (postgresql.cnpg.io/v1).
pub fn cloudnative_pg_cluster() -> Value {
    let storage = json!({"type": "object", "properties": {
        "size": {"type": "string"}, "storageClass": {"type": "string"},
        "resizeInUseVolumes": {"type": "boolean"}, "pvcTemplate": preserved()}});
    let initdb = json!({"type": "object", "properties": {
        "database": {"type": "string"}, "owner": {"type": "string"},
        "secret": {"type": "object", "properties": {"name": {"type": "string"}}}}});
    let properties = json!({
        "instances": {"type": "integer", "minimum": 1},
        "imageName": {"type": "string"},
        "enableSuperuserAccess": {"type": "boolean"},
        "storage": storage,
        "resources": preserved(),
        "postgresql": preserved(),
        "affinity": preserved(),
        "bootstrap": {"type": "object", "properties": {"initdb": initdb}},
        "superuserSecret": {"type": "object", "properties": {"name": {"type": "string"}}},
    });
    let spec = json!({"type": "object", "required": ["instances"], "properties": properties});
    let names = Names {
        group: "postgresql.cnpg.io",
        version: "v1",
        kind: "Cluster",
        plural: "clusters",
        short_names: &[],
    };
    definition(names, spec, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::served_versions;

    #[test]
    fn both_definitions_are_accepted() {
        for crd in [cassandra_datacenter(), cloudnative_pg_cluster()] {
            let served = served_versions(&crd).unwrap_or_default();
            assert_eq!(served.len(), 1);
            assert!(served[0].resource.status && served[0].schema.is_some());
        }
    }
}
