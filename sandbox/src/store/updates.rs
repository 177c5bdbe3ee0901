//! Changes to objects that exist: replace, the three patch types and
//! server-side apply, each checked against the object's resourceVersion
//! and, for custom kinds, its schema.

use serde_json::{Value, json};

use super::objects::*;
use super::{FieldManager, Store, WriteOptions};
use crate::keys::{ObjectKey, key};
use crate::patch;
use crate::resources::ResourceType;
use crate::status::{ApiError, ApiResult};

impl Store {
    pub fn replace(
        &mut self,
        resource: &ResourceType,
        namespace: &str,
        name: &str,
        object: Value,
        options: WriteOptions,
    ) -> ApiResult<Value> {
        let existing = self.get(resource, namespace, name)?;
        let key = key(resource, namespace, name);
        let given = object
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str);
        let stored = existing
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str);
        if given.is_some_and(|given| Some(given) != stored) {
            return Err(ApiError::conflict(
                &resource.id(),
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        self.update(resource, key, existing, object, options)
    }

    /// The common end of PUT, PATCH and apply: keep what the client may not
    /// change, bump the generation when the spec changed, store.
    pub fn update(
        &mut self,
        resource: &ResourceType,
        key: ObjectKey,
        existing: Value,
        mut object: Value,
        options: WriteOptions,
    ) -> ApiResult<Value> {
        if object.pointer("/metadata/name").and_then(Value::as_str) != Some(key.name.as_str()) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({})",
                object
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                key.name
            )));
        }
        if options.status {
            // Only the status changes.
            let status = object.get("status").cloned();
            object = existing.clone();
            match status {
                Some(status) => object["status"] = status,
                None => {
                    if let Some(map) = object.as_object_mut() {
                        map.remove("status");
                    }
                }
            }
        } else if resource.status {
            // Main-path writes keep the stored status.
            match existing.get("status") {
                Some(status) => object["status"] = status.clone(),
                None => {
                    if let Some(map) = object.as_object_mut() {
                        map.remove("status");
                    }
                }
            }
        }
        fold_string_data(&mut object, resource);
        set_type(&mut object, resource);
        // What the server owns stays the server's.
        for field in ["uid", "creationTimestamp", "deletionTimestamp", "namespace"] {
            match existing["metadata"].get(field) {
                Some(value) => object["metadata"][field] = value.clone(),
                None => {
                    if let Some(metadata) = object["metadata"].as_object_mut() {
                        metadata.remove(field);
                    }
                }
            }
        }
        self.admit(resource, &key.name, &mut object)?;
        let generation = existing["metadata"]["generation"].as_i64().unwrap_or(1);
        let spec_changed =
            without_metadata_and_status(&existing) != without_metadata_and_status(&object);
        object["metadata"]["generation"] = json!(if spec_changed {
            generation + 1
        } else {
            generation
        });
        if object == existing || options.dry_run {
            return Ok(if options.dry_run { object } else { existing });
        }
        let finished =
            object["metadata"].get("deletionTimestamp").is_some() && finalizers(&object).is_empty();
        if finished {
            return Ok(self.remove(&key, Some(object)));
        }
        let stored = self.commit(key, object, Some(existing));
        self.register_crd(resource, &stored);
        Ok(stored)
    }

    /// Server-side apply by `manager`: creates when absent.
    pub fn apply(
        &mut self,
        resource: &ResourceType,
        namespace: &str,
        name: &str,
        applied: Value,
        manager: FieldManager<'_>,
        options: WriteOptions,
    ) -> ApiResult<Value> {
        let key = key(resource, namespace, name);
        let existing = self.objects.get(&key).cloned();
        let mut managers = self.managers.get(&key).cloned().unwrap_or_default();
        let merged = patch::apply(
            existing.as_ref(),
            &applied,
            manager.name,
            manager.force,
            &mut managers,
        )
        .map_err(|conflicts| {
            let fields: Vec<String> = conflicts
                .iter()
                .map(|conflict| {
                    format!("conflict with \"{}\": {}", conflict.manager, conflict.field)
                })
                .collect();
            ApiError::conflict(
                &resource.id(),
                name,
                &format!(
                    "Apply failed with {} conflicts: {}",
                    fields.len(),
                    fields.join(", ")
                ),
            )
        })?;
        let result = match existing {
            None => {
                let mut created = merged;
                created["metadata"]["name"] = json!(name);
                self.create(resource, namespace, created, options)?
            }
            Some(existing) => self.update(resource, key.clone(), existing, merged, options)?,
        };
        if !options.dry_run {
            if let Some(journal) = self.journal.as_mut() {
                journal.managers(&key, &managers);
            }
            self.managers.insert(key, managers);
        }
        Ok(result)
    }
}
