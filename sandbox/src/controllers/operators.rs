//! The two database operators, as documented (`../shared/docs/operators.md`):
//! cass-operator's CassandraDatacenter and CloudNativePG's Cluster, their
//! finalizers, statuses and generated Secrets.

use base64::Engine as _;
use serde_json::{Value, json};

use super::*;

pub(super) const CASSANDRA: &str = "cassandradatacenters.cassandra.datastax.com";
pub(super) const CNPG: &str = "clusters.postgresql.cnpg.io";

/// cass-operator: finalizer, Updating → Ready, the superuser Secret, stopped.
pub(super) fn cassandra(
    store: &mut Store,
    resource: &ResourceType,
    object: &Value,
    behaviour: &Behaviour,
    waited: Duration,
) -> bool {
    let namespace = namespace_of(object).to_string();
    let name = name_of(object).to_string();
    let finalizers = crate::store::finalizers(object);
    if object["metadata"].get("deletionTimestamp").is_some() {
        let held = finalizers.iter().any(|f| f == CASSANDRA_FINALIZER);
        if held && waited >= behaviour.operator_cleanup {
            set_finalizers(
                store,
                resource,
                object,
                finalizers
                    .into_iter()
                    .filter(|f| f != CASSANDRA_FINALIZER)
                    .collect(),
            );
            return false;
        }
        return held;
    }
    let skip_finalizer =
        object["metadata"]["annotations"]["cassandra.datastax.com/no-finalizer"].is_string();
    if !skip_finalizer && !finalizers.iter().any(|f| f == CASSANDRA_FINALIZER) {
        let mut with = finalizers;
        with.push(CASSANDRA_FINALIZER.to_string());
        set_finalizers(store, resource, object, with);
        return true;
    }
    let generation = object["metadata"]["generation"].as_i64().unwrap_or(1);
    if let Some(reason) = (behaviour.operator_failure)(object) {
        let status = json!({
            "cassandraOperatorProgress": "Updating",
            "conditions": [
                condition("Valid", false, "ValidationFailed", &reason),
                condition("Ready", false, "", ""),
            ],
        });
        write_status(store, resource, object, status);
        return false;
    }
    let stopped = object["spec"]["stopped"].as_bool() == Some(true);
    let ready = waited >= behaviour.operator_ready;
    let cluster_name = object["spec"]["clusterName"]
        .as_str()
        .unwrap_or(&name)
        .to_string();
    if ready {
        let secret_name = object["spec"]["superuserSecretName"].as_str().map_or_else(
            || {
                format!(
                    "{}-superuser",
                    cluster_name.replace('_', "-").to_lowercase()
                )
            },
            str::to_string,
        );
        ensure_secret(
            store,
            &namespace,
            &secret_name,
            json!({"username": format!("{cluster_name}-superuser"), "password": generated_password()}),
            None,
        );
    }
    let progress = if ready { "Ready" } else { "Updating" };
    let previous = object.get("status").cloned().unwrap_or(Value::Null);
    let initialized = ready
        || previous["conditions"].as_array().is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c["type"] == "Initialized" && c["status"] == "True")
        });
    let mut status = json!({
        "cassandraOperatorProgress": progress,
        "observedGeneration": if ready { json!(generation) } else { previous["observedGeneration"].clone() },
        "conditions": [
            condition("Initialized", initialized, if initialized { "" } else { "Initializing" }, ""),
            condition("Ready", ready && !stopped, "", ""),
            condition("Stopped", ready && stopped, "", ""),
        ],
    });
    if status["observedGeneration"].is_null()
        && let Some(map) = status.as_object_mut()
    {
        map.remove("observedGeneration");
    }
    write_status(store, resource, object, status);
    !ready
}

/// CloudNativePG: phases to "Cluster in healthy state", `Ready`, the `<name>-app` Secret.
pub(super) fn cloudnative_pg(
    store: &mut Store,
    resource: &ResourceType,
    object: &Value,
    behaviour: &Behaviour,
    waited: Duration,
) -> bool {
    if object["metadata"].get("deletionTimestamp").is_some() {
        return false;
    }
    let namespace = namespace_of(object).to_string();
    let name = name_of(object).to_string();
    let instances = object["spec"]["instances"].as_i64().unwrap_or(1);
    if let Some(reason) = (behaviour.operator_failure)(object) {
        let phase = "Invalid cluster definition";
        let status = json!({
            "phase": phase,
            "phaseReason": reason,
            "instances": instances,
            "readyInstances": 0,
            "conditions": [condition("Ready", false, "ClusterIsNotReady", phase)],
        });
        write_status(store, resource, object, status);
        return false;
    }
    let hibernated = object["metadata"]["annotations"]["cnpg.io/hibernation"] == "on";
    let ready = waited >= behaviour.operator_ready;
    if ready {
        let database = object["spec"]["bootstrap"]["initdb"]["database"]
            .as_str()
            .unwrap_or("app")
            .to_string();
        let owner = object["spec"]["bootstrap"]["initdb"]["owner"]
            .as_str()
            .unwrap_or("app")
            .to_string();
        let password = generated_password();
        let host = format!("{name}-rw");
        let owner_reference = json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "name": name,
            "uid": object["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true});
        ensure_secret(
            store,
            &namespace,
            &format!("{name}-app"),
            json!({
                "username": owner, "user": owner, "password": password, "dbname": database, "host": host, "port": "5432",
                "pgpass": format!("{host}:5432:{database}:{owner}:{password}\n"),
                "uri": format!("postgresql://{owner}:{password}@{host}.{namespace}:5432/{database}"),
                "jdbc-uri": format!("jdbc:postgresql://{host}.{namespace}:5432/{database}?password={password}&user={owner}"),
                "fqdn-uri": format!("postgresql://{owner}:{password}@{host}.{namespace}.svc.cluster.local:5432/{database}"),
                "fqdn-jdbc-uri": format!("jdbc:postgresql://{host}.{namespace}.svc.cluster.local:5432/{database}?password={password}&user={owner}"),
            }),
            Some(owner_reference),
        );
    }
    let (phase, is_ready) = match (ready, hibernated) {
        (false, _) => ("Setting up primary", false),
        (true, true) => ("Cluster in hibernation", false),
        (true, false) => ("Cluster in healthy state", true),
    };
    let status = json!({
        "phase": phase,
        "instances": instances,
        "readyInstances": if is_ready { instances } else { 0 },
        "writeService": format!("{name}-rw"),
        "readService": format!("{name}-r"),
        "conditions": [
            condition("Ready", is_ready, if is_ready { "ClusterIsReady" } else { "ClusterIsNotReady" }, phase),
        ],
    });
    write_status(store, resource, object, status);
    !ready
}

pub(super) fn set_finalizers(
    store: &mut Store,
    resource: &ResourceType,
    object: &Value,
    finalizers: Vec<String>,
) {
    let mut updated = object.clone();
    updated["metadata"]["finalizers"] = json!(finalizers);
    let key = crate::keys::key(resource, namespace_of(object), name_of(object));
    if let Err(error) = store.update(
        resource,
        key,
        object.clone(),
        updated,
        WriteOptions::default(),
    ) {
        tracing::debug!(?error, "a simulated operator could not change finalizers");
    }
}

/// Creates a Secret once; an operator never rotates what it generated.
pub(super) fn ensure_secret(
    store: &mut Store,
    namespace: &str,
    name: &str,
    string_data: Value,
    owner: Option<Value>,
) {
    let Some(secrets) = find(store, "secrets") else {
        return;
    };
    if store.contains(&secrets, namespace, name) {
        return;
    }
    let mut secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
        "metadata": {"name": name, "namespace": namespace}, "stringData": string_data});
    if let Some(owner) = owner {
        secret["metadata"]["ownerReferences"] = json!([owner]);
    }
    if let Err(error) = store.create(&secrets, namespace, secret, WriteOptions::default()) {
        tracing::debug!(?error, "a simulated operator could not create its Secret");
    }
}

pub(super) fn generated_password() -> String {
    let bytes: Vec<u8> = uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .chain(uuid::Uuid::new_v4().as_bytes())
        .copied()
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
