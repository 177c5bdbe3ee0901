//! Deletion: finalizers, namespaces that empty before they go, and owner
//! references (cascading and orphaning), as the API server does them.

use serde_json::{Value, json};

use super::objects::*;
use super::schemas::CRDS;
use super::{Event, EventKind, Store, WriteOptions};
use crate::keys::{ObjectKey, key, namespace_key};
use crate::resources::ResourceType;
use crate::status::ApiResult;

impl Store {
    /// DELETE: objects with finalizers get a deletionTimestamp and stay until
    /// the last finalizer goes; a namespace first deletes what it holds.
    pub fn delete(
        &mut self,
        resource: &ResourceType,
        namespace: &str,
        name: &str,
        options: WriteOptions,
    ) -> ApiResult<Value> {
        let existing = self.get(resource, namespace, name)?;
        let key = key(resource, namespace, name);
        if options.dry_run {
            return Ok(existing);
        }
        let is_namespace = resource.id() == "namespaces";
        if finalizers(&existing).is_empty() && !is_namespace {
            return Ok(self.remove_with(&key, None, options.orphan));
        }
        let mut marked = existing.clone();
        if marked["metadata"].get("deletionTimestamp").is_none() {
            marked["metadata"]["deletionTimestamp"] = json!(now());
            if is_namespace {
                marked["status"] = json!({"phase": "Terminating"});
            }
            marked = self.commit(key.clone(), marked, Some(existing));
        }
        if is_namespace {
            self.empty_namespace(name);
            return Ok(self.objects.get(&key).cloned().unwrap_or(marked));
        }
        Ok(marked)
    }

    /// Deletes every object in a terminating namespace; removes the namespace
    /// once nothing is left in it.
    pub(super) fn empty_namespace(&mut self, namespace: &str) {
        let contents: Vec<ObjectKey> = self
            .objects
            .keys()
            .filter(|key| key.namespace == namespace)
            .cloned()
            .collect();
        for key in contents {
            let Some(object) = self.objects.get(&key).cloned() else {
                continue;
            };
            if finalizers(&object).is_empty() {
                self.remove(&key, None);
            } else if object["metadata"].get("deletionTimestamp").is_none() {
                let mut marked = object.clone();
                marked["metadata"]["deletionTimestamp"] = json!(now());
                self.commit(key, marked, Some(object));
            }
        }
        let empty = !self.objects.keys().any(|key| key.namespace == namespace);
        let own_key = namespace_key(namespace);
        if empty && self.objects.contains_key(&own_key) {
            self.remove(&own_key, None);
        }
    }

    /// Removes an object for good, then its dependents (ownerReferences) and,
    /// when it was the last thing in a terminating namespace, the namespace.
    pub(super) fn remove(&mut self, key: &ObjectKey, last: Option<Value>) -> Value {
        self.remove_with(key, last, false)
    }

    pub(super) fn remove_with(
        &mut self,
        key: &ObjectKey,
        last: Option<Value>,
        orphan: bool,
    ) -> Value {
        let Some(stored) = self.objects.remove(key) else {
            return last.unwrap_or(Value::Null);
        };
        self.managers.remove(key);
        self.logs.remove(key);
        if key.resource == CRDS {
            self.unregister_crd(&stored);
        }
        let mut object = last.unwrap_or_else(|| stored.clone());
        self.revision += 1;
        if let Some(journal) = self.journal.as_mut() {
            journal.delete(self.revision, key);
        }
        object["metadata"]["resourceVersion"] = json!(self.revision.to_string());
        self.record(Event {
            revision: self.revision,
            kind: EventKind::Deleted,
            resource: key.resource.clone(),
            namespace: key.namespace.clone(),
            object: object.clone(),
            previous: Some(stored),
        });
        if let Some(uid) = object["metadata"]["uid"].as_str().map(str::to_string) {
            let dependents: Vec<ObjectKey> = self
                .objects
                .iter()
                .filter(|(_, candidate)| owned_by(candidate, &uid))
                .map(|(key, _)| key.clone())
                .collect();
            for dependent in dependents {
                if orphan {
                    self.orphan(&dependent, &uid);
                    continue;
                }
                if let Some(resource) = self
                    .types
                    .iter()
                    .find(|t| t.id() == dependent.resource)
                    .cloned()
                {
                    let _ = self.delete(
                        &resource,
                        &dependent.namespace,
                        &dependent.name,
                        WriteOptions::default(),
                    );
                }
            }
        }
        if !key.namespace.is_empty() && self.namespace_terminating(&key.namespace) {
            self.empty_namespace(&key.namespace.clone());
        }
        object
    }

    /// Drops the owner reference to `uid` from a dependent that stays.
    pub(super) fn orphan(&mut self, key: &ObjectKey, uid: &str) {
        let Some(existing) = self.objects.get(key).cloned() else {
            return;
        };
        let mut updated = existing.clone();
        if let Some(owners) = updated["metadata"]["ownerReferences"].as_array_mut() {
            owners.retain(|owner| owner["uid"].as_str() != Some(uid));
            if owners.is_empty()
                && let Some(metadata) = updated["metadata"].as_object_mut()
            {
                metadata.remove("ownerReferences");
            }
        }
        self.commit(key.clone(), updated, Some(existing));
    }
}
