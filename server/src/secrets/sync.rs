//! What the deploy engine writes of an app's secrets into an environment:
//! the app's Secret (`app-secrets`) and one per secret group, each holding
//! every value set there, and on each pod template the *versions* (never
//! the values) of the keys it reads, so a changed value rolls the
//! workloads that read it, and only those.

use std::collections::BTreeMap;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::crypto::Keyring;
use crate::manifests::{APP_SECRET, secret_group};
use crate::store::{SecretSlot, SecretVersion, SecretVersions};

/// The pod-template annotation listing the versions of the keys it reads.
pub const VERSIONS_ANNOTATION: &str = "dscloud.io/secret-versions";

/// The Secret a slot lives in.
pub fn secret_name(group: &str) -> String {
    if group.is_empty() {
        APP_SECRET.to_string()
    } else {
        secret_group(group)
    }
}

/// The versions in force: every slot with a value, sorted.
pub fn versions_of(latest: &[SecretVersion]) -> SecretVersions {
    let mut versions: SecretVersions = latest
        .iter()
        .filter(|row| row.sealed.is_some())
        .map(|row| (row.slot.clone(), row.version))
        .collect();
    versions.sort();
    versions
}

/// The slots with no value among those expected.
pub fn missing<'a>(
    expected: impl IntoIterator<Item = &'a SecretSlot>,
    latest: &[SecretVersion],
) -> Vec<String> {
    expected
        .into_iter()
        .filter(|slot| {
            !latest
                .iter()
                .any(|row| &row.slot == *slot && row.sealed.is_some())
        })
        .map(SecretSlot::label)
        .collect()
}

/// The environment's values, opened, by Secret name and key.
pub struct Desired {
    pub secrets: BTreeMap<String, BTreeMap<String, SecretString>>,
    pub versions: SecretVersions,
    /// The newest row read: what the cluster will hold once written.
    pub through: i64,
}

/// Opens every value in force. A value that does not open (changed in the
/// database, moved from another row, or sealed with a key the keyring lacks)
/// is not used: the reason names its key and version, never its content.
pub fn open(
    keyring: Option<&Keyring>,
    app: Uuid,
    environment: &str,
    latest: &[SecretVersion],
) -> Result<Desired, String> {
    let mut secrets: BTreeMap<String, BTreeMap<String, SecretString>> = BTreeMap::new();
    for row in latest {
        let Some(sealed) = &row.sealed else { continue };
        let Some(keyring) = keyring else {
            return Err(
                "the portal runs without a keyring: the secrets set here cannot be opened"
                    .to_string(),
            );
        };
        let purpose = super::purpose(environment, &row.slot.group);
        let value = keyring
            .open_text(&super::scope(app, &purpose, &row.slot, row.version), sealed)
            .map_err(|error| {
                format!(
                    "the secret {} (version {}) in {environment} does not open: {error}; it was not used",
                    row.slot.label(),
                    row.version
                )
            })?;
        secrets
            .entry(secret_name(&row.slot.group))
            .or_default()
            .insert(row.slot.name.clone(), value);
    }
    Ok(Desired {
        secrets,
        versions: versions_of(latest),
        through: latest.iter().map(|row| row.id).max().unwrap_or_default(),
    })
}

/// The Secrets to apply, labelled as the engine's.
pub fn objects(desired: &Desired, namespace: &str, labels: &Value) -> Vec<Value> {
    desired
        .secrets
        .iter()
        .map(|(name, values)| {
            let data: Map<String, Value> = values
                .iter()
                .map(|(key, value)| {
                    (
                        key.clone(),
                        Value::String(
                            base64::engine::general_purpose::STANDARD
                                .encode(value.expose_secret().as_bytes()),
                        ),
                    )
                })
                .collect();
            json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": { "name": name, "namespace": namespace, "labels": labels },
                "type": "Opaque",
                "data": data,
            })
        })
        .collect()
}

/// Stamps the pod template of a workload or CronJob with the versions of
/// the keys its containers read; removes the stamp when they read none.
pub fn stamp(object: &mut Value, versions: &SecretVersions) {
    let template = if object["kind"] == "CronJob" {
        object.pointer_mut("/spec/jobTemplate/spec/template")
    } else {
        object.pointer_mut("/spec/template")
    };
    let Some(template) = template else { return };
    let mut read: Vec<String> = Vec::new();
    if let Some(containers) = template
        .pointer("/spec/containers")
        .and_then(Value::as_array)
    {
        for variable in containers
            .iter()
            .filter_map(|container| container["env"].as_array())
            .flatten()
        {
            let reference = &variable["valueFrom"]["secretKeyRef"];
            let (Some(secret), Some(key)) = (reference["name"].as_str(), reference["key"].as_str())
            else {
                continue;
            };
            if let Some((_, version)) = versions
                .iter()
                .find(|(slot, _)| secret_name(&slot.group) == secret && slot.name == key)
            {
                read.push(format!("{secret}/{key}={version}"));
            }
        }
    }
    read.sort();
    read.dedup();
    let Some(metadata) = template.as_object_mut().map(|template| {
        template
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()))
    }) else {
        return;
    };
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    let annotations = metadata
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(annotations) = annotations.as_object_mut() {
        if read.is_empty() {
            annotations.remove(VERSIONS_ANNOTATION);
        } else {
            annotations.insert(
                VERSIONS_ANNOTATION.to_string(),
                Value::String(read.join(",")),
            );
        }
    }
}

/// For the history: `DB_PASSWORD v3, group api-tests: TOKEN v1, OLD deleted`.
pub fn describe_change(before: &SecretVersions, after: &SecretVersions) -> String {
    let mut changes: Vec<String> = after
        .iter()
        .filter(|entry| !before.contains(entry))
        .map(|(slot, version)| format!("{} v{version}", slot.label()))
        .collect();
    changes.extend(
        before
            .iter()
            .filter(|(slot, _)| !after.iter().any(|(other, _)| other == slot))
            .map(|(slot, _)| format!("{} deleted", slot.label())),
    );
    format!("secrets changed: {}", changes.join(", "))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_pod_template_carries_the_versions_of_the_keys_it_reads() {
        let mut deployment = json!({
            "kind": "Deployment",
            "spec": { "template": { "metadata": {}, "spec": { "containers": [{ "env": [
                { "name": "HOST", "value": "db" },
                { "name": "DB_PASSWORD", "valueFrom": { "secretKeyRef": { "name": "app-secrets", "key": "DB_PASSWORD" } } },
            ] }] } } }
        });
        let versions = vec![
            (SecretSlot::app("DB_PASSWORD"), 3),
            (SecretSlot::app("UNREAD"), 1),
        ];
        stamp(&mut deployment, &versions);
        assert_eq!(
            deployment["spec"]["template"]["metadata"]["annotations"][VERSIONS_ANNOTATION],
            "app-secrets/DB_PASSWORD=3"
        );
        stamp(&mut deployment, &vec![(SecretSlot::app("UNREAD"), 1)]);
        assert!(
            deployment["spec"]["template"]["metadata"]["annotations"]
                .get(VERSIONS_ANNOTATION)
                .is_none()
        );
    }

    #[test]
    fn the_history_says_what_changed() {
        let before = vec![(SecretSlot::app("A"), 1), (SecretSlot::app("OLD"), 2)];
        let after = vec![
            (SecretSlot::app("A"), 2),
            (SecretSlot::in_group("t", "B"), 1),
        ];
        assert_eq!(
            describe_change(&before, &after),
            "secrets changed: A v2, group t: B v1, OLD deleted"
        );
    }
}
