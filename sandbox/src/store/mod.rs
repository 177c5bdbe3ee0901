//! The objects, their revisions and the event log watches resume from.
//!
//! All of it sits behind one mutex held by the HTTP layer for the length of
//! one operation, which makes every write atomic and every revision unique.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::crd;
use crate::journal::Journal;
use crate::keys::{ObjectKey, key, namespace_key, pod_key};
use crate::patch::Managers;
use crate::resources::{ResourceType, builtins};
use crate::status::{ApiError, ApiResult};
use objects::*;

mod deletion;
mod objects;
mod schemas;
mod updates;

pub(crate) use objects::finalizers;
use schemas::CRDS;

/// How many events a watch can resume across before it gets 410 Gone.
const LOG_CAPACITY: usize = 10_000;

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
