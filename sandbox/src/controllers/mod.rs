//! Simulated controllers: what kubelets, the workload controllers and the two
//! database operators would do, driven by the store's events and a clock.
//!
//! Each behaviour is generic Kubernetes or documented operator behaviour
//! (`../shared/docs/operators.md`); delays and outcomes are configurable so
//! tests can drive success and failure.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::resources::ResourceType;
use crate::store::{Changes, Store, WriteOptions};

mod events;
mod operators;
mod revisions;
mod workloads;

use events::*;
use operators::*;
use revisions::*;
use workloads::*;

/// Decides how a Job's pod ends: exit code and log. The default reads the pod
/// template's annotations `sandbox.dscloud.io/exit-code` and `…/log`, else
/// its container's variables `SANDBOX_EXIT_CODE` and `SANDBOX_LOG`.
pub type JobOutcome = Arc<dyn Fn(&Value) -> (i32, String) + Send + Sync>;

/// Decides whether an operator refuses a database resource for good, and
/// why. The default reads the resource's annotation
/// `sandbox.dscloud.io/operator-failure`.
pub type OperatorFailure = Arc<dyn Fn(&Value) -> Option<String> + Send + Sync>;

/// How the simulated cluster behaves.
#[derive(Clone)]
pub struct Behaviour {
    /// From a Deployment's or StatefulSet's new generation to all replicas ready.
    pub rollout: Duration,
    /// A rollout whose pod template uses an image containing this text (or
    /// sets `SANDBOX_ROLLOUT=fail`) never becomes available:
    /// `Progressing=False`, reason `ProgressDeadlineExceeded`.
    pub failing_image: String,
    /// How long a Job's pod runs.
    pub job_run: Duration,
    pub job_outcome: JobOutcome,
    /// From a database resource's new generation to ready.
    pub operator_ready: Duration,
    /// How long an operator takes to let go of a deleted resource (its finalizer).
    pub operator_cleanup: Duration,
    /// Which resources the operators report as failed, as the real ones do
    /// (cass-operator `Valid=False`, CloudNativePG's "Invalid cluster
    /// definition" phase).
    pub operator_failure: OperatorFailure,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            rollout: Duration::from_millis(200),
            failing_image: "sandbox-fail".to_string(),
            job_run: Duration::from_millis(200),
            job_outcome: Arc::new(annotated_outcome),
            operator_ready: Duration::from_millis(500),
            operator_cleanup: Duration::from_millis(100),
            operator_failure: Arc::new(annotated_operator_failure),
        }
    }
}

impl Behaviour {
    /// Everything at once: for benchmarks and fast tests.
    pub fn instant() -> Self {
        Behaviour {
            rollout: Duration::ZERO,
            job_run: Duration::ZERO,
            operator_ready: Duration::ZERO,
            operator_cleanup: Duration::ZERO,
            ..Behaviour::default()
        }
    }
}

fn annotated_outcome(job: &Value) -> (i32, String) {
    let annotations = &job["spec"]["template"]["metadata"]["annotations"];
    let variable = |name: &str| container_variable(&job["spec"]["template"], name);
    let code = annotations["sandbox.dscloud.io/exit-code"]
        .as_str()
        .or_else(|| variable(EXIT_CODE_VARIABLE))
        .and_then(|code| code.trim().parse().ok())
        .unwrap_or(0);
    let log = annotations["sandbox.dscloud.io/log"]
        .as_str()
        .or_else(|| variable(LOG_VARIABLE))
        .map_or_else(|| format!("exited with code {code}\n"), str::to_string);
    (code, log)
}

/// A Job's container with this variable ends with that exit code, as if
/// the program had: how a repository's own configuration (its test env)
/// chooses a test's outcome in the sandbox.
pub const EXIT_CODE_VARIABLE: &str = "SANDBOX_EXIT_CODE";
/// A Job's container with this variable writes it as its log.
pub const LOG_VARIABLE: &str = "SANDBOX_LOG";
/// A Deployment's or StatefulSet's container with this variable set to
/// `fail` never becomes ready (`ProgressDeadlineExceeded`).
pub const ROLLOUT_VARIABLE: &str = "SANDBOX_ROLLOUT";

/// The plain value of an environment variable of a pod template's first
/// container that sets it.
pub(crate) fn container_variable<'a>(template: &'a Value, name: &str) -> Option<&'a str> {
    template["spec"]["containers"]
        .as_array()?
        .iter()
        .filter_map(|container| container["env"].as_array())
        .flatten()
        .find(|variable| variable["name"] == name)
        .and_then(|variable| variable["value"].as_str())
}

fn annotated_operator_failure(resource: &Value) -> Option<String> {
    resource["metadata"]["annotations"]["sandbox.dscloud.io/operator-failure"]
        .as_str()
        .map(str::to_string)
}

pub const CASSANDRA_FINALIZER: &str = "finalizer.cassandra.datastax.com";
/// Runs the controllers until the sandbox is dropped.
pub async fn run(store: Weak<Mutex<Store>>, behaviour: Behaviour) {
    let Some(mut events) = store.upgrade().map(|store| lock(&store).subscribe()) else {
        return;
    };
    // When each object's current step started: (uid, generation, step) → instant.
    let mut clocks: HashMap<(String, i64, &'static str), Instant> = HashMap::new();
    // Namespaces where some object waits for a delay to run out: looked at
    // again on every tick until it has.
    let mut waiting: BTreeSet<String> = BTreeSet::new();
    loop {
        // Sleep until something changes, or a delay may have run out.
        let tick = tokio::time::sleep(Duration::from_millis(20));
        tokio::select! {
            received = events.recv() => {
                if let Err(tokio::sync::broadcast::error::RecvError::Closed) = received {
                    return;
                }
            }
            _ = tick, if !waiting.is_empty() => {}
        }
        // Level-triggered: one pass sees every change, so a burst of events
        // (a thousand writes) makes one pass, not a thousand. A short pause
        // lets the burst finish arriving; the store's lock stays free for
        // the API meanwhile.
        tokio::time::sleep(Duration::from_millis(5)).await;
        loop {
            match events.try_recv() {
                Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::TryRecvError::Closed) => return,
                Err(tokio::sync::broadcast::error::TryRecvError::Empty) => break,
            }
        }
        let Some(store) = store.upgrade() else { return };
        let mut store = lock(&store);
        let scope = match store.take_changes() {
            Changes::Everywhere => Scope::Everywhere,
            Changes::In(mut namespaces) => {
                namespaces.append(&mut waiting);
                Scope::In(namespaces)
            }
        };
        waiting = step(&mut store, &behaviour, &mut clocks, Instant::now(), &scope);
        if clocks.len() > 100_000 {
            // Objects long gone: their steps restart if they ever come back.
            clocks.retain(|_, started| started.elapsed() < Duration::from_secs(3600));
        }
    }
}

fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where a controller pass looks.
enum Scope {
    Everywhere,
    In(BTreeSet<String>),
}

/// The objects of one resource within the scope.
fn objects_in(store: &Store, resource: &ResourceType, scope: &Scope) -> Vec<Value> {
    match scope {
        Scope::Everywhere => store.snapshot(resource, None),
        Scope::In(namespaces) => namespaces
            .iter()
            .flat_map(|namespace| store.snapshot(resource, Some(namespace)))
            .collect(),
    }
}

/// One pass over the objects the controllers look after, in the namespaces
/// where something changed or waits; returns the namespaces where some
/// object waits for a delay to run out.
fn step(
    store: &mut Store,
    behaviour: &Behaviour,
    clocks: &mut HashMap<(String, i64, &'static str), Instant>,
    now: Instant,
    scope: &Scope,
) -> BTreeSet<String> {
    let mut elapsed = |object: &Value, step: &'static str| -> Duration {
        let uid = object["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let generation = object["metadata"]["generation"].as_i64().unwrap_or(1);
        let started = *clocks.entry((uid, generation, step)).or_insert(now);
        now.saturating_duration_since(started)
    };
    let phase = |object: &Value| {
        if object["metadata"].get("deletionTimestamp").is_some() {
            "cleanup"
        } else {
            "progress"
        }
    };
    let mut waiting = BTreeSet::new();
    let mut wait = |object: &Value, waits: bool| {
        if waits {
            waiting.insert(namespace_of(object).to_string());
        }
    };
    for resource_id in ["deployments.apps", "statefulsets.apps"] {
        let Some(resource) = find(store, resource_id) else {
            continue;
        };
        for object in objects_in(store, &resource, scope) {
            let waited = elapsed(&object, phase(&object));
            wait(&object, waited < behaviour.rollout);
            roll_out_pods(store, &object, behaviour, waited >= behaviour.rollout);
            if let Some(status) = rollout_status(&object, behaviour, waited) {
                write_status(store, &resource, &object, status);
            }
            if resource.kind == "Deployment"
                && let Ok(fresh) = store.get(&resource, namespace_of(&object), name_of(&object))
            {
                record_revisions(store, &fresh);
            }
        }
    }
    if let Some(pods) = find(store, "pods") {
        for pod in objects_in(store, &pods, scope) {
            if pod["status"]["phase"].is_string() {
                continue;
            }
            let waited = elapsed(&pod, "run");
            let waits = run_bare_pod(store, &pods, &pod, behaviour, waited);
            wait(&pod, waits);
        }
    }
    if let Some(jobs) = find(store, "jobs.batch") {
        for job in objects_in(store, &jobs, scope) {
            let waited = elapsed(&job, phase(&job));
            let waits = run_job(store, &jobs, &job, behaviour, waited);
            wait(&job, waits);
        }
    }
    if let Some(resource) = find(store, CASSANDRA) {
        for object in objects_in(store, &resource, scope) {
            let waited = elapsed(&object, phase(&object));
            let waits = cassandra(store, &resource, &object, behaviour, waited);
            wait(&object, waits);
        }
    }
    if let Some(resource) = find(store, CNPG) {
        for object in objects_in(store, &resource, scope) {
            let waited = elapsed(&object, phase(&object));
            let waits = cloudnative_pg(store, &resource, &object, behaviour, waited);
            wait(&object, waits);
        }
    }
    waiting
}

fn find(store: &Store, id: &str) -> Option<ResourceType> {
    store
        .types()
        .iter()
        .find(|resource| resource.id() == id)
        .cloned()
}

fn namespace_of(object: &Value) -> &str {
    object["metadata"]["namespace"].as_str().unwrap_or_default()
}

fn name_of(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

/// Writes `status` through the status subresource when it differs.
/// Conditions whose status did not change keep their `lastTransitionTime`,
/// as a real controller's do, so a repeated pass writes nothing.
fn write_status(store: &mut Store, resource: &ResourceType, object: &Value, status: Value) {
    let status = keep_transition_times(object.get("status").unwrap_or(&Value::Null), status);
    if object.get("status") == Some(&status) {
        return;
    }
    let mut updated = object.clone();
    updated["status"] = status;
    let key = crate::keys::key(resource, namespace_of(object), name_of(object));
    let options = WriteOptions {
        status: true,
        ..WriteOptions::default()
    };
    if let Err(error) = store.update(resource, key, object.clone(), updated, options) {
        tracing::debug!(?error, "a simulated controller could not write a status");
    }
}

fn condition(kind: &str, status: bool, reason: &str, message: &str) -> Value {
    json!({
        "type": kind,
        "status": if status { "True" } else { "False" },
        "reason": reason,
        "message": message,
        "lastTransitionTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// Keeps `lastTransitionTime` of conditions whose status did not change, so a
/// repeated pass writes nothing.
fn keep_transition_times(previous: &Value, mut status: Value) -> Value {
    if let (Some(old), Some(new)) = (
        previous["conditions"].as_array(),
        status["conditions"].as_array_mut(),
    ) {
        for condition in new.iter_mut() {
            if let Some(same) = old.iter().find(|old| {
                old["type"] == condition["type"] && old["status"] == condition["status"]
            }) {
                condition["lastTransitionTime"] = same["lastTransitionTime"].clone();
            }
        }
    }
    status
}
