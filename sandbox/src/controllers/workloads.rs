//! What the workload controllers and kubelets do: Deployments and
//! StatefulSets roll out pods (ready after a delay, or never, by design),
//! and Jobs run a pod to the exit code and log a test chooses.

use serde_json::{Value, json};

use super::*;

pub(super) const GENERATION_LABEL: &str = "sandbox.dscloud.io/generation";

/// The pods of a Deployment or StatefulSet: one per replica of the current
/// generation (StatefulSets by ordinal), older ones deleted; ready once the
/// rollout delay has passed, unless the image is the failing one.
pub(super) fn roll_out_pods(
    store: &mut Store,
    workload: &Value,
    behaviour: &Behaviour,
    done: bool,
) {
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

/// Whether the pod template uses the image the behaviour fails by design,
/// or asks to fail (`SANDBOX_ROLLOUT=fail`).
pub(super) fn rollout_fails(workload: &Value, behaviour: &Behaviour) -> bool {
    if container_variable(&workload["spec"]["template"], ROLLOUT_VARIABLE) == Some("fail") {
        return true;
    }
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

pub(super) fn rollout_status(
    object: &Value,
    behaviour: &Behaviour,
    waited: Duration,
) -> Option<Value> {
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

/// A pod nobody owns (`kubectl run`) starts running once the rollout delay
/// has passed, its containers ready; returns whether it still waits.
pub(super) fn run_bare_pod(
    store: &mut Store,
    pods: &ResourceType,
    pod: &Value,
    behaviour: &Behaviour,
    waited: Duration,
) -> bool {
    let owned = pod["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|owners| !owners.is_empty());
    if owned
        || pod["metadata"].get("deletionTimestamp").is_some()
        || pod["status"]["phase"].is_string()
    {
        return false;
    }
    if waited < behaviour.rollout {
        return true;
    }
    let statuses: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|container| {
            json!({"name": container["name"], "image": container["image"], "imageID": "",
                "ready": true, "started": true, "restartCount": 0,
                "state": {"running": {"startedAt": now()}}})
        })
        .collect();
    let bytes = *uuid::Uuid::new_v4().as_bytes();
    let address = format!("10.244.{}.{}", bytes[0], bytes[1].max(1));
    let status = json!({
        "phase": "Running",
        "conditions": [condition("Ready", true, "", "")],
        "containerStatuses": statuses,
        "podIP": address,
        "podIPs": [{"ip": address}],
        "hostIP": "10.0.0.1",
        "startTime": now(),
    });
    write_status(store, pods, pod, status);
    record_event(
        store,
        pod,
        "default-scheduler",
        "Scheduled",
        &format!(
            "Successfully assigned {}/{} to sandbox",
            namespace_of(pod),
            name_of(pod)
        ),
    );
    record_event(
        store,
        pod,
        "kubelet",
        "Started",
        "Started its containers (simulated: the sandbox runs none)",
    );
    false
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A Job runs one pod to the exit code the behaviour chooses.
pub(super) fn run_job(
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
        record_event(
            store,
            job,
            "job-controller",
            "SuccessfulCreate",
            &format!("Created pod: {pod_name}"),
        );
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
        let mut terminated =
            json!({"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" }});
        if let Some(message) = termination_message(&pod["spec"]["containers"][0], code) {
            terminated["message"] = json!(message);
        }
        status["containerStatuses"] = json!([{
            "name": pod["spec"]["containers"][0]["name"], "ready": false, "restartCount": 0, "image": pod["spec"]["containers"][0]["image"],
            "imageID": "", "state": {"terminated": terminated},
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
    let (reason, message) = if code == 0 {
        ("Completed", "Job completed".to_string())
    } else {
        (
            "BackoffLimitExceeded",
            format!("Job has reached the specified backoff limit (exit code {code})"),
        )
    };
    record_event(store, job, "job-controller", reason, &message);
    false
}

/// What a container leaves in its termination message. An image builder
/// (BuildKit: `--metadata-file=/dev/termination-log`) that succeeds writes
/// the pushed image's digest, made up here from the image's name: the same
/// name gives the same digest.
fn termination_message(container: &Value, code: i32) -> Option<String> {
    let args: Vec<&str> = container["args"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if code != 0 || !args.contains(&"--metadata-file=/dev/termination-log") {
        return None;
    }
    let output = args
        .iter()
        .find(|arg| arg.starts_with("--output="))
        .copied()
        .unwrap_or_default();
    let digest: String = (0u64..4)
        .map(|part| format!("{:016x}", fnv1a(output.as_bytes(), part)))
        .collect();
    Some(json!({"containerimage.digest": format!("sha256:{digest}")}).to_string())
}

fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325 ^ seed, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}
