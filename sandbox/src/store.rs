//! The objects, their revisions and the event log watches resume from.
//!
//! All of it sits behind one mutex held by the HTTP layer for the length of
//! one operation, which makes every write atomic and every revision unique.

use std::collections::{BTreeMap, HashMap, VecDeque};

use base64::Engine as _;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use crate::crd;
use crate::journal::Journal;
use crate::patch::{self, Managers};
use crate::resources::{ResourceType, builtins};
use crate::status::{ApiError, ApiResult};

/// How many events a watch can resume across before it gets 410 Gone.
const LOG_CAPACITY: usize = 10_000;

#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct ObjectKey {
    pub resource: String,
    pub namespace: String,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Added,
    Modified,
    Deleted,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Added => "ADDED",
            EventKind::Modified => "MODIFIED",
            EventKind::Deleted => "DELETED",
        }
    }
}

/// One change, as watches see it.
#[derive(Clone, Debug)]
pub struct Event {
    pub revision: u64,
    pub kind: EventKind,
    pub resource: String,
    pub namespace: String,
    pub object: Value,
    /// The object before the change, so a watch with a selector can tell
    /// "stopped matching" (sent as DELETED) from "never matched".
    pub previous: Option<Value>,
}

pub struct Store {
    types: Vec<ResourceType>,
    /// Custom resource id → its schema, from the registered CRDs.
    schemas: HashMap<String, Value>,
    objects: BTreeMap<ObjectKey, Value>,
    managers: HashMap<ObjectKey, Managers>,
    /// What each pod's run printed, for `pods/{name}/log`.
    logs: HashMap<ObjectKey, String>,
    revision: u64,
    log: VecDeque<Event>,
    events: broadcast::Sender<Event>,
    /// Where changes are kept across restarts, when asked for.
    journal: Option<Journal>,
    /// What changed since the simulated controllers last looked.
    changes: Changes,
}

/// Where objects changed, so the simulated controllers look only there (a
/// pass over every object would stall the API behind the store's lock once
/// the sandbox holds thousands of them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Changes {
    /// Something outside any namespace changed (a CRD, say), or nothing has
    /// been looked at yet: look at everything.
    Everywhere,
    /// The namespaces where an object changed (a namespace's own change
    /// counts as a change in it).
    In(std::collections::BTreeSet<String>),
}

impl Changes {
    fn add(&mut self, resource: &str, namespace: &str, name: &str) {
        let Changes::In(namespaces) = self else {
            return;
        };
        if !namespace.is_empty() {
            namespaces.insert(namespace.to_string());
        } else if resource == "namespaces" {
            namespaces.insert(name.to_string());
        } else {
            *self = Changes::Everywhere;
        }
    }
}

/// What a list returns.
pub struct Listed {
    pub items: Vec<Value>,
    pub revision: u64,
    pub next: Option<String>,
}

/// Who applies (server-side apply), and whether they take fields from others.
#[derive(Clone, Copy, Debug)]
pub struct FieldManager<'a> {
    pub name: &'a str,
    pub force: bool,
}

/// Options every write takes.
#[derive(Clone, Copy, Debug, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    /// A write to the `/status` subresource: only the status changes.
    pub status: bool,
    /// DELETE with `propagationPolicy: Orphan`: dependents lose their owner
    /// reference instead of being deleted.
    pub orphan: bool,
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl Store {
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(4096);
        let mut store = Store {
            types: builtins(),
            schemas: HashMap::new(),
            objects: BTreeMap::new(),
            managers: HashMap::new(),
            logs: HashMap::new(),
            revision: 1,
            log: VecDeque::new(),
            events,
            journal: None,
            changes: Changes::Everywhere,
        };
        for namespace in ["default", "kube-system", "kube-public"] {
            let object =
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
            let _ = store.create_unchecked("namespaces", "", object);
        }
        store
    }

    /// A store kept in `directory`: what was there is loaded, every change is
    /// journaled.
    pub fn open(directory: &std::path::Path) -> std::io::Result<Self> {
        let (journal, replayed) = Journal::open(directory)?;
        let mut store = Store::new();
        if !replayed.objects.is_empty() {
            store.objects = replayed.objects;
            store.managers = replayed.managers.into_iter().collect();
            store.revision = store.revision.max(replayed.revision);
            // Custom kinds come back with their CRDs.
            if let Some(crds) = store.types.iter().find(|t| t.id() == CRDS).cloned() {
                let definitions: Vec<Value> = store
                    .objects
                    .iter()
                    .filter(|(key, _)| key.resource == CRDS)
                    .map(|(_, object)| object.clone())
                    .collect();
                for definition in definitions {
                    store.register_crd(&crds, &definition);
                }
            }
        }
        let mut journal = journal;
        // Start from a compact file holding exactly what was loaded.
        journal.compact(store.revision, store.objects.iter(), store.managers.iter())?;
        store.journal = Some(journal);
        Ok(store)
    }

    pub fn types(&self) -> &[ResourceType] {
        &self.types
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// What changed since the last call (everything, the first time).
    pub fn take_changes(&mut self) -> Changes {
        std::mem::replace(&mut self.changes, Changes::In(Default::default()))
    }

    /// Whether an object exists, without copying it.
    pub fn contains(&self, resource: &ResourceType, namespace: &str, name: &str) -> bool {
        self.objects.contains_key(&key(resource, namespace, name))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The logged events after `revision`, or 410 when the log no longer reaches back that far.
    pub fn events_since(&self, revision: u64) -> ApiResult<Vec<Event>> {
        if let Some(oldest) = self.log.front()
            && revision + 1 < oldest.revision
        {
            return Err(ApiError::gone(format!(
                "too old resource version: {revision} ({})",
                oldest.revision - 1
            )));
        }
        Ok(self
            .log
            .iter()
            .filter(|event| event.revision > revision)
            .cloned()
            .collect())
    }

    /// Every stored object of one resource, for a watch that starts "now".
    pub fn snapshot(&self, resource: &ResourceType, namespace: Option<&str>) -> Vec<Value> {
        self.objects_of(resource, namespace)
            .map(|(_, object)| object.clone())
            .collect()
    }

    /// The objects of one resource (in one namespace), in key order: a range
    /// of the ordered map, not a scan of every object the sandbox holds.
    fn objects_of<'a>(
        &'a self,
        resource: &ResourceType,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Value)> + 'a {
        let id = resource.id();
        let start = ObjectKey {
            resource: id.clone(),
            namespace: namespace.unwrap_or_default().to_string(),
            name: String::new(),
        };
        self.objects.range(start..).take_while(move |(key, _)| {
            key.resource == id && namespace.is_none_or(|ns| key.namespace == ns)
        })
    }

    pub fn set_log(&mut self, namespace: &str, pod: &str, log: String) {
        let key = pod_key(namespace, pod);
        self.logs.insert(key, log);
    }

    /// A pod's log: empty while it runs, what it printed once it ended.
    pub fn log(&self, namespace: &str, pod: &str) -> ApiResult<String> {
        let key = pod_key(namespace, pod);
        if !self.objects.contains_key(&key) {
            return Err(ApiError::not_found("pods", pod));
        }
        Ok(self.logs.get(&key).cloned().unwrap_or_default())
    }

    pub fn get(&self, resource: &ResourceType, namespace: &str, name: &str) -> ApiResult<Value> {
        self.objects
            .get(&key(resource, namespace, name))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&resource.id(), name))
    }

    pub fn list(
        &self,
        resource: &ResourceType,
        namespace: Option<&str>,
        matches: impl Fn(&Value) -> bool,
        limit: Option<usize>,
        after: Option<&str>,
    ) -> ApiResult<Listed> {
        let start = match after {
            Some(token) => Some(decode_continue(token)?),
            None => None,
        };
        let mut items = Vec::new();
        let mut next = None;
        for (key, object) in self.objects_of(resource, namespace) {
            if start
                .as_ref()
                .is_some_and(|(ns, name)| (&key.namespace, &key.name) <= (ns, name))
            {
                continue;
            }
            if !matches(object) {
                continue;
            }
            if limit.is_some_and(|limit| items.len() >= limit) {
                next = items.last().map(|last: &Value| encode_continue(last));
                break;
            }
            items.push(object.clone());
        }
        Ok(Listed {
            items,
            revision: self.revision,
            next,
        })
    }

    pub fn create(
        &mut self,
        resource: &ResourceType,
        namespace: &str,
        mut object: Value,
        options: WriteOptions,
    ) -> ApiResult<Value> {
        let name = object_name(&object, resource)?;
        if resource.namespaced {
            self.check_namespace_accepts(namespace)?;
        }
        let key = key(resource, namespace, &name);
        if self.objects.contains_key(&key) {
            return Err(ApiError::already_exists(&resource.id(), &name));
        }
        prepare_new(&mut object, resource, namespace);
        self.admit(resource, &name, &mut object)?;
        if resource.id() == CRDS {
            object["status"] = crd::established_status(&object);
        }
        if options.dry_run {
            return Ok(object);
        }
        let stored = self.commit(key, object, None);
        self.register_crd(resource, &stored);
        Ok(stored)
    }

    /// Validation beyond the shape every object has: custom resources against
    /// their CRD's schema (pruning unknown fields), CRDs against what a CRD must say.
    fn admit(&self, resource: &ResourceType, name: &str, object: &mut Value) -> ApiResult<()> {
        if resource.id() == CRDS {
            return crd::served_versions(object).map(|_| ()).map_err(|why| {
                let (field, message) = why.split_once(": ").unwrap_or(("spec", why.as_str()));
                ApiError::invalid_causes(
                    &resource.id(),
                    name,
                    &[(field.to_string(), message.to_string())],
                )
            });
        }
        if let Some(schema) = self.schemas.get(&schema_key(resource)) {
            let causes = crd::validate(schema, object);
            if !causes.is_empty() {
                let kind = format!("{}.{}", resource.kind, resource.group);
                return Err(ApiError::invalid_causes(&kind, name, &causes));
            }
        }
        Ok(())
    }

    /// Makes the kinds a CRD defines servable (again, after an update).
    fn register_crd(&mut self, resource: &ResourceType, crd: &Value) {
        if resource.id() != CRDS {
            return;
        }
        let Ok(served) = crd::served_versions(crd) else {
            return;
        };
        let ids: Vec<String> = served.iter().map(|served| served.resource.id()).collect();
        self.types
            .retain(|existing| existing.group.is_empty() || !ids.contains(&existing.id()));
        for version in served {
            if let Some(schema) = version.schema {
                self.schemas.insert(schema_key(&version.resource), schema);
            }
            self.types.push(version.resource);
        }
    }

    /// Forgets a deleted CRD's kinds and deletes their objects.
    fn unregister_crd(&mut self, crd: &Value) {
        let Ok(served) = crd::served_versions(crd) else {
            return;
        };
        for version in &served {
            let id = version.resource.id();
            let keys: Vec<ObjectKey> = self
                .objects
                .keys()
                .filter(|key| key.resource == id)
                .cloned()
                .collect();
            for key in keys {
                self.remove(&key, None);
            }
            self.schemas.remove(&schema_key(&version.resource));
            self.types.retain(|existing| existing.id() != id);
        }
    }

    fn create_unchecked(
        &mut self,
        resource: &str,
        namespace: &str,
        object: Value,
    ) -> Option<Value> {
        let resource = self
            .types
            .iter()
            .find(|candidate| candidate.id() == resource)?
            .clone();
        self.create(&resource, namespace, object, WriteOptions::default())
            .ok()
    }

    /// PUT: the whole object, guarded by its resourceVersion when it gives one.
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
    fn empty_namespace(&mut self, namespace: &str) {
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
    fn remove(&mut self, key: &ObjectKey, last: Option<Value>) -> Value {
        self.remove_with(key, last, false)
    }

    fn remove_with(&mut self, key: &ObjectKey, last: Option<Value>, orphan: bool) -> Value {
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
    fn orphan(&mut self, key: &ObjectKey, uid: &str) {
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

    fn commit(&mut self, key: ObjectKey, mut object: Value, previous: Option<Value>) -> Value {
        self.revision += 1;
        object["metadata"]["resourceVersion"] = json!(self.revision.to_string());
        let kind = if previous.is_some() {
            EventKind::Modified
        } else {
            EventKind::Added
        };
        if let Some(journal) = self.journal.as_mut() {
            journal.put(self.revision, &key, &object);
        }
        self.objects.insert(key.clone(), object.clone());
        self.record(Event {
            revision: self.revision,
            kind,
            resource: key.resource,
            namespace: key.namespace,
            object: object.clone(),
            previous,
        });
        object
    }

    fn record(&mut self, event: Event) {
        if let Some(journal) = self.journal.as_mut()
            && journal.wants_compaction(self.objects.len())
            && let Err(error) =
                journal.compact(self.revision, self.objects.iter(), self.managers.iter())
        {
            tracing::error!(%error, "cannot compact the sandbox journal");
        }
        if self.log.len() >= LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(event.clone());
        let name = event.object["metadata"]["name"]
            .as_str()
            .unwrap_or_default();
        self.changes.add(&event.resource, &event.namespace, name);
        // No receiver is fine: nobody is watching.
        let _ = self.events.send(event);
    }

    fn check_namespace_accepts(&self, namespace: &str) -> ApiResult<()> {
        let key = namespace_key(namespace);
        match self.objects.get(&key) {
            None => Err(ApiError::not_found("namespaces", namespace)),
            Some(object) if object["metadata"].get("deletionTimestamp").is_some() => {
                Err(ApiError::forbidden(format!(
                    "unable to create new content in namespace {namespace} because it is being terminated"
                )))
            }
            Some(_) => Ok(()),
        }
    }

    fn namespace_terminating(&self, namespace: &str) -> bool {
        let key = namespace_key(namespace);
        self.objects
            .get(&key)
            .is_some_and(|object| object["metadata"].get("deletionTimestamp").is_some())
    }
}

const CRDS: &str = "customresourcedefinitions.apiextensions.k8s.io";

/// Schemas are per version: `clusters.postgresql.cnpg.io/v1`.
fn schema_key(resource: &ResourceType) -> String {
    format!("{}/{}", resource.id(), resource.version)
}

fn namespace_key(name: &str) -> ObjectKey {
    ObjectKey {
        resource: "namespaces".to_string(),
        namespace: String::new(),
        name: name.to_string(),
    }
}

fn pod_key(namespace: &str, pod: &str) -> ObjectKey {
    ObjectKey {
        resource: "pods".to_string(),
        namespace: namespace.to_string(),
        name: pod.to_string(),
    }
}

pub fn key(resource: &ResourceType, namespace: &str, name: &str) -> ObjectKey {
    ObjectKey {
        resource: resource.id(),
        namespace: if resource.namespaced {
            namespace.to_string()
        } else {
            String::new()
        },
        name: name.to_string(),
    }
}

fn object_name(object: &Value, resource: &ResourceType) -> ApiResult<String> {
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

fn prepare_new(object: &mut Value, resource: &ResourceType, namespace: &str) {
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

fn set_type(object: &mut Value, resource: &ResourceType) {
    object["apiVersion"] = json!(resource.api_version());
    object["kind"] = json!(resource.kind);
}

/// Secrets: `stringData` is write-only; it lands base64-encoded in `data`.
fn fold_string_data(object: &mut Value, resource: &ResourceType) {
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

fn owned_by(object: &Value, uid: &str) -> bool {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|owners| {
            owners
                .iter()
                .any(|owner| owner["uid"].as_str() == Some(uid))
        })
}

fn without_metadata_and_status(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    copy
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn encode_continue(last: &Value) -> String {
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

fn decode_continue(token: &str) -> ApiResult<(String, String)> {
    let bad = || ApiError::bad_request("the continue token is not valid");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (namespace, name) = text.split_once('\u{0}').ok_or_else(bad)?;
    Ok((namespace.to_string(), name.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use super::*;

    #[test]
    fn changes_name_the_namespaces_to_look_at() {
        let mut changes = Changes::In(Default::default());
        changes.add("pods", "shop", "web-0");
        changes.add("namespaces", "", "billing");
        assert_eq!(
            changes,
            Changes::In(["billing".to_string(), "shop".to_string()].into())
        );
        // A change outside any namespace may concern every object.
        changes.add("customresourcedefinitions.apiextensions.k8s.io", "", "x");
        assert_eq!(changes, Changes::Everywhere);
    }

    #[test]
    fn the_controllers_first_look_everywhere_then_only_where_something_changed() {
        let mut store = Store::new();
        assert_eq!(store.take_changes(), Changes::Everywhere);
        assert_eq!(store.take_changes(), Changes::In(Default::default()));
        let namespace =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}});
        store.create_unchecked("namespaces", "", namespace).unwrap();
        assert_eq!(
            store.take_changes(),
            Changes::In(["shop".to_string()].into())
        );
    }
}
