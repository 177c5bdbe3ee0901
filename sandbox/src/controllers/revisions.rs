//! A Deployment's revisions, kept as a real Deployment controller keeps
//! them: one ReplicaSet per pod template (named by the template's hash,
//! annotated with its revision number), scaled to the Deployment's replicas
//! when current and to zero otherwise, the oldest pruned past
//! `revisionHistoryLimit`. `kubectl rollout history` and `rollout undo` read
//! them. (The sandbox's pods stay owned by the Deployment itself.)

use serde_json::{Value, json};

use super::*;

pub(crate) const REVISION: &str = "deployment.kubernetes.io/revision";
const TEMPLATE_HASH: &str = "pod-template-hash";

pub(super) fn record_revisions(store: &mut Store, deployment: &Value) {
    let (Some(replica_sets), Some(deployments)) = (
        find(store, "replicasets.apps"),
        find(store, "deployments.apps"),
    ) else {
        return;
    };
    if deployment["metadata"].get("deletionTimestamp").is_some() {
        return;
    }
    let namespace = namespace_of(deployment).to_string();
    let name = name_of(deployment).to_string();
    let uid = deployment["metadata"]["uid"].clone();
    let template = &deployment["spec"]["template"];
    let hash = template_hash(template);
    let current_name = format!("{name}-{hash}");
    let mut owned: Vec<Value> = store
        .snapshot(&replica_sets, Some(&namespace))
        .into_iter()
        .filter(|replica_set| {
            replica_set["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|owners| owners.iter().any(|owner| owner["uid"] == uid))
        })
        .collect();
    let newest = owned.iter().map(revision).max().unwrap_or(0);
    let replicas = deployment["spec"]["replicas"].as_i64().unwrap_or(1);
    let current_revision = match owned.iter().find(|set| name_of(set) == current_name) {
        // A template seen before (a rollback) becomes the newest revision again.
        Some(current) if revision(current) < newest => newest + 1,
        Some(current) => revision(current),
        None => {
            let mut labels = template["metadata"]["labels"].clone();
            if !labels.is_object() {
                labels = json!({});
            }
            labels[TEMPLATE_HASH] = json!(hash);
            let mut selector = deployment["spec"]["selector"].clone();
            selector["matchLabels"][TEMPLATE_HASH] = json!(hash);
            let mut pod_template = template.clone();
            pod_template["metadata"]["labels"] = labels.clone();
            let replica_set = json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": current_name, "namespace": namespace, "labels": labels,
                    "annotations": {REVISION: (newest + 1).to_string()},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                        "uid": uid, "controller": true, "blockOwnerDeletion": true}]},
                "spec": {"replicas": replicas, "selector": selector, "template": pod_template},
            });
            if store
                .create(
                    &replica_sets,
                    &namespace,
                    replica_set,
                    WriteOptions::default(),
                )
                .is_err()
            {
                return;
            }
            if let Ok(created) = store.get(&replica_sets, &namespace, &current_name) {
                owned.push(created);
            }
            record_event(
                store,
                deployment,
                "deployment-controller",
                "ScalingReplicaSet",
                &format!("Scaled up replica set {current_name} from 0 to {replicas}"),
            );
            newest + 1
        }
    };
    for replica_set in &owned {
        let current = name_of(replica_set) == current_name;
        let mut updated = replica_set.clone();
        let wanted = if current { replicas } else { 0 };
        updated["spec"]["replicas"] = json!(wanted);
        let before = replica_set["spec"]["replicas"].as_i64().unwrap_or(0);
        if before != wanted {
            let direction = if wanted > before { "up" } else { "down" };
            record_event(
                store,
                deployment,
                "deployment-controller",
                "ScalingReplicaSet",
                &format!(
                    "Scaled {direction} replica set {} from {before} to {wanted}",
                    name_of(replica_set)
                ),
            );
        }
        if current {
            updated["metadata"]["annotations"][REVISION] = json!(current_revision.to_string());
        }
        write(store, &replica_sets, replica_set, updated);
        let ready = if current {
            deployment["status"]["readyReplicas"].as_i64().unwrap_or(0)
        } else {
            0
        };
        let status = json!({"replicas": if current { replicas } else { 0 },
            "readyReplicas": ready, "availableReplicas": ready,
            "observedGeneration": replica_set["metadata"]["generation"]});
        if let Ok(stored) = store.get(&replica_sets, &namespace, name_of(replica_set)) {
            write_status(store, &replica_sets, &stored, status);
        }
    }
    prune(store, &replica_sets, deployment, &current_name, owned);
    let mut annotated = deployment.clone();
    annotated["metadata"]["annotations"][REVISION] = json!(current_revision.to_string());
    write(store, &deployments, deployment, annotated);
}

/// Old revisions past `revisionHistoryLimit` (10 by default) go, oldest first.
fn prune(
    store: &mut Store,
    replica_sets: &ResourceType,
    deployment: &Value,
    current_name: &str,
    owned: Vec<Value>,
) {
    let limit = deployment["spec"]["revisionHistoryLimit"]
        .as_u64()
        .unwrap_or(10) as usize;
    let mut old: Vec<&Value> = owned
        .iter()
        .filter(|set| name_of(set) != current_name)
        .collect();
    old.sort_by_key(|set| revision(set));
    let excess = old.len().saturating_sub(limit);
    for replica_set in old.into_iter().take(excess) {
        let _ = store.delete(
            replica_sets,
            namespace_of(replica_set),
            name_of(replica_set),
            WriteOptions::default(),
        );
    }
}

/// Writes a main-resource change when there is one.
fn write(store: &mut Store, resource: &ResourceType, object: &Value, updated: Value) {
    if &updated == object {
        return;
    }
    let key = crate::keys::key(resource, namespace_of(object), name_of(object));
    if let Err(error) = store.update(
        resource,
        key,
        object.clone(),
        updated,
        WriteOptions::default(),
    ) {
        tracing::debug!(?error, "the revision controller could not write");
    }
}

fn revision(replica_set: &Value) -> i64 {
    replica_set["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|text| text.parse().ok())
        .unwrap_or(0)
}

/// A stable short name for a pod template. The template is hashed without
/// empty values and the hash label, so one that went through a client's
/// types and back (`rollout undo` sends `creationTimestamp: null`,
/// `resources: {}`) names the same revision; serde_json's maps are ordered.
fn template_hash(template: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut template = without_empty(template).unwrap_or(Value::Null);
    if let Some(labels) = template["metadata"]["labels"].as_object_mut() {
        labels.remove(TEMPLATE_HASH);
    }
    let mut hash = without_empty(&template)
        .unwrap_or(Value::Null)
        .to_string()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    (0..10)
        .map(|_| {
            let letter = ALPHABET[(hash % ALPHABET.len() as u64) as usize] as char;
            hash /= ALPHABET.len() as u64;
            letter
        })
        .collect()
}

fn without_empty(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Object(map) => {
            let kept: serde_json::Map<String, Value> = map
                .iter()
                .filter_map(|(key, value)| Some((key.clone(), without_empty(value)?)))
                .collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        Value::Array(items) => {
            let kept: Vec<Value> = items.iter().filter_map(without_empty).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        other => Some(other.clone()),
    }
}
