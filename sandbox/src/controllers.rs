//! Simulated controllers: what kubelets, the workload controllers and the two
//! database operators would do, driven by the store's events and a clock.
//!
//! Each behaviour is generic Kubernetes or documented operator behaviour
//! (`../shared/docs/operators.md`); delays and outcomes are configurable so
//! tests can drive success and failure.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::resources::ResourceType;
use crate::store::{Changes, Store, WriteOptions};

/// Decides how a Job's pod ends: exit code and log. The default reads the pod
/// template's annotations `sandbox.dscloud.io/exit-code` and `…/log`.
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
    /// A rollout whose pod template uses an image containing this text never
    /// becomes available: `Progressing=False`, reason `ProgressDeadlineExceeded`.
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
    let code = annotations["sandbox.dscloud.io/exit-code"]
        .as_str()
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let log = annotations["sandbox.dscloud.io/log"]
        .as_str()
        .map_or_else(|| format!("exited with code {code}\n"), str::to_string);
    (code, log)
}

fn annotated_operator_failure(resource: &Value) -> Option<String> {
    resource["metadata"]["annotations"]["sandbox.dscloud.io/operator-failure"]
        .as_str()
        .map(str::to_string)
}

pub const CASSANDRA_FINALIZER: &str = "finalizer.cassandra.datastax.com";
const CASSANDRA: &str = "cassandradatacenters.cassandra.datastax.com";
const CNPG: &str = "clusters.postgresql.cnpg.io";

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
    let key = crate::store::key(resource, namespace_of(object), name_of(object));
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

const GENERATION_LABEL: &str = "sandbox.dscloud.io/generation";

/// The pods of a Deployment or StatefulSet: one per replica of the current
/// generation (StatefulSets by ordinal), older ones deleted; ready once the
/// rollout delay has passed, unless the image is the failing one.
fn roll_out_pods(store: &mut Store, workload: &Value, behaviour: &Behaviour, done: bool) {
    let Some(pods) = find(store, "pods") else {
        return;
    };
    if workload["metadata"].get("deletionTimestamp").is_some() {
        return;
    }
    let namespace = namespace_of(workload).to_string();
    let name = name_of(workload).to_string();
    let uid = workload["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let generation = workload["metadata"]["generation"].as_i64().unwrap_or(1);
    let replicas = workload["spec"]["replicas"].as_i64().unwrap_or(1).max(0);
    let stateful = workload["kind"] == "StatefulSet";
    let wanted: Vec<String> = (0..replicas)
        .map(|index| {
            if stateful {
                format!("{name}-{index}")
            } else {
                format!("{name}-g{generation}-{index}")
            }
        })
        .collect();
    let owned: Vec<Value> = store
        .snapshot(&pods, Some(&namespace))
        .into_iter()
        .filter(|pod| {
            pod["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|owners| owners.iter().any(|owner| owner["uid"] == uid.as_str()))
        })
        .collect();
    for pod in &owned {
        let current =
            pod["metadata"]["labels"][GENERATION_LABEL] == generation.to_string().as_str();
        if !current || !wanted.iter().any(|wanted| wanted == name_of(pod)) {
            let _ = store.delete(&pods, &namespace, name_of(pod), WriteOptions::default());
        }
    }
    let fails = rollout_fails(workload, behaviour);
    let kind = workload["kind"].as_str().unwrap_or("Deployment");
    for pod_name in wanted {
        if !store.contains(&pods, &namespace, &pod_name) {
            let mut labels = workload["spec"]["template"]["metadata"]["labels"].clone();
            if !labels.is_object() {
                labels = json!({});
            }
            labels[GENERATION_LABEL] = json!(generation.to_string());
            let pod = json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod_name, "namespace": namespace, "labels": labels,
                    "ownerReferences": [{"apiVersion": workload["apiVersion"], "kind": kind, "name": name,
                        "uid": uid, "controller": true, "blockOwnerDeletion": true}]},
                "spec": workload["spec"]["template"]["spec"],
            });
            let _ = store.create(&pods, &namespace, pod, WriteOptions::default());
        }
        let Ok(pod) = store.get(&pods, &namespace, &pod_name) else {
            continue;
        };
        let ready = done && !fails;
        let container = &pod["spec"]["containers"][0];
        let state = if fails {
            json!({"waiting": {"reason": "ImagePullBackOff", "message": "the sandbox fails this image by design"}})
        } else if ready {
            json!({"running": {}})
        } else {
            json!({"waiting": {"reason": "ContainerCreating"}})
        };
        let status = json!({
            "phase": if ready { "Running" } else { "Pending" },
            "conditions": [condition("Ready", ready, "", "")],
            "containerStatuses": [{"name": container["name"], "image": container["image"], "imageID": "",
                "ready": ready, "restartCount": 0, "state": state}],
        });
        write_status(store, &pods, &pod, status);
    }
}

/// Whether the pod template uses the image the behaviour fails by design.
fn rollout_fails(workload: &Value, behaviour: &Behaviour) -> bool {
    workload["spec"]["template"]["spec"]["containers"]
        .as_array()
        .is_some_and(|containers| {
            containers.iter().any(|container| {
                container["image"]
                    .as_str()
                    .is_some_and(|image| image.contains(&behaviour.failing_image))
            })
        })
}

fn rollout_status(object: &Value, behaviour: &Behaviour, waited: Duration) -> Option<Value> {
    let generation = object["metadata"]["generation"].as_i64().unwrap_or(1);
    let replicas = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let fails = rollout_fails(object, behaviour);
    let done = waited >= behaviour.rollout;
    let ready = if done && !fails { replicas } else { 0 };
    let is_deployment = object["kind"] == "Deployment";
    let mut status = json!({
        "observedGeneration": generation,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": ready,
        "availableReplicas": ready,
    });
    if is_deployment {
        let progressing = match (done, fails) {
            (true, true) => condition(
                "Progressing",
                false,
                "ProgressDeadlineExceeded",
                "the rollout did not become available",
            ),
            (true, false) => condition(
                "Progressing",
                true,
                "NewReplicaSetAvailable",
                "the rollout is complete",
            ),
            (false, _) => condition(
                "Progressing",
                true,
                "ReplicaSetUpdated",
                "the rollout is progressing",
            ),
        };
        let available = if ready >= replicas {
            condition(
                "Available",
                true,
                "MinimumReplicasAvailable",
                "has minimum availability",
            )
        } else {
            condition(
                "Available",
                false,
                "MinimumReplicasUnavailable",
                "does not have minimum availability",
            )
        };
        status["conditions"] = json!([available, progressing]);
    } else {
        status["currentReplicas"] = json!(replicas);
        status["currentRevision"] = json!(format!("{}-{generation}", name_of(object)));
        status["updateRevision"] = json!(format!("{}-{generation}", name_of(object)));
    }
    Some(status)
}

/// A Job runs one pod to the exit code the behaviour chooses.
fn run_job(
    store: &mut Store,
    jobs: &ResourceType,
    job: &Value,
    behaviour: &Behaviour,
    waited: Duration,
) -> bool {
    let finished = job["status"]["succeeded"].as_i64().unwrap_or(0) > 0
        || job["status"]["failed"].as_i64().unwrap_or(0) > 0;
    if finished || job["metadata"].get("deletionTimestamp").is_some() {
        return false;
    }
    let Some(pods) = find(store, "pods") else {
        return false;
    };
    let namespace = namespace_of(job).to_string();
    let pod_name = format!("{}-run", name_of(job));
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if !store.contains(&pods, &namespace, &pod_name) {
        let mut labels = job["spec"]["template"]["metadata"]["labels"].clone();
        if !labels.is_object() {
            labels = json!({});
        }
        labels["job-name"] = json!(name_of(job));
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": pod_name, "namespace": namespace, "labels": labels,
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name_of(job),
                    "uid": job["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}],
            },
            "spec": job["spec"]["template"]["spec"],
        });
        if store
            .create(&pods, &namespace, pod, WriteOptions::default())
            .is_ok()
            && let Ok(pod) = store.get(&pods, &namespace, &pod_name)
        {
            write_status(
                store,
                &pods,
                &pod,
                json!({"phase": "Running", "startTime": now}),
            );
        }
        write_status(store, jobs, job, json!({"active": 1, "startTime": now}));
        return true;
    }
    if waited < behaviour.job_run {
        return true;
    }
    let (code, log) = (behaviour.job_outcome)(job);
    store.set_log(&namespace, &pod_name, log);
    if let Ok(pod) = store.get(&pods, &namespace, &pod_name) {
        let phase = if code == 0 { "Succeeded" } else { "Failed" };
        let mut status = pod["status"].clone();
        status["phase"] = json!(phase);
        status["containerStatuses"] = json!([{
            "name": pod["spec"]["containers"][0]["name"], "ready": false, "restartCount": 0, "image": pod["spec"]["containers"][0]["image"],
            "imageID": "", "state": {"terminated": {"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" }}},
        }]);
        write_status(store, &pods, &pod, status);
    }
    let mut status = job["status"].clone();
    if let Some(map) = status.as_object_mut() {
        map.remove("active");
    }
    if code == 0 {
        status["succeeded"] = json!(1);
        status["completionTime"] = json!(now);
        status["conditions"] = json!([
            condition(
                "SuccessCriteriaMet",
                true,
                "CompletionsReached",
                "reached the expected number of succeeded pods"
            ),
            condition(
                "Complete",
                true,
                "CompletionsReached",
                "reached the expected number of succeeded pods"
            ),
        ]);
    } else {
        status["failed"] = json!(1);
        status["conditions"] = json!([
            condition(
                "FailureTarget",
                true,
                "BackoffLimitExceeded",
                "the job has reached the specified backoff limit"
            ),
            condition(
                "Failed",
                true,
                "BackoffLimitExceeded",
                "the job has reached the specified backoff limit"
            ),
        ]);
    }
    write_status(store, jobs, job, status);
    false
}

/// cass-operator: finalizer, Updating → Ready, the superuser Secret, stopped.
fn cassandra(
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
fn cloudnative_pg(
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

fn set_finalizers(
    store: &mut Store,
    resource: &ResourceType,
    object: &Value,
    finalizers: Vec<String>,
) {
    let mut updated = object.clone();
    updated["metadata"]["finalizers"] = json!(finalizers);
    let key = crate::store::key(resource, namespace_of(object), name_of(object));
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
fn ensure_secret(
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

fn generated_password() -> String {
    let bytes: Vec<u8> = uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .chain(uuid::Uuid::new_v4().as_bytes())
        .copied()
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
