//! The columns of the built-in kinds, as a real API server prints them
//! (after the name; `cell: None` is the age).

use serde_json::{Value, json};

pub(super) struct BuiltinColumn {
    pub name: &'static str,
    pub kind: &'static str,
    pub priority: u8,
    pub description: &'static str,
    pub cell: Option<fn(&Value) -> Value>,
}

const fn column(
    name: &'static str,
    kind: &'static str,
    description: &'static str,
    cell: fn(&Value) -> Value,
) -> BuiltinColumn {
    BuiltinColumn {
        name,
        kind,
        priority: 0,
        description,
        cell: Some(cell),
    }
}

const fn wide(
    name: &'static str,
    description: &'static str,
    cell: fn(&Value) -> Value,
) -> BuiltinColumn {
    BuiltinColumn {
        priority: 1,
        ..column(name, "string", description, cell)
    }
}

const AGE: BuiltinColumn = BuiltinColumn {
    name: "Age",
    kind: "string",
    priority: 0,
    description: "How long ago the object was created.",
    cell: None,
};

pub(super) fn columns(resource: &str) -> Option<&'static [BuiltinColumn]> {
    Some(match resource {
        "pods" => {
            const COLUMNS: &[BuiltinColumn] = &[
                column("Ready", "string", "Ready containers of all.", pod_ready),
                column("Status", "string", "The pod's state.", pod_status),
                column("Restarts", "string", "Container restarts.", pod_restarts),
                AGE,
                wide("IP", "The pod's IP address.", pod_ip),
                wide("Node", "The node the pod runs on.", node_name),
                wide("Nominated Node", "The node it is nominated for.", none),
                wide("Readiness Gates", "Readiness gates met of all.", none),
            ];
            COLUMNS
        }
        "deployments.apps" => {
            const COLUMNS: &[BuiltinColumn] = &[
                column(
                    "Ready",
                    "string",
                    "Ready replicas of desired.",
                    ready_of_desired,
                ),
                column("Up-to-date", "integer", "Replicas updated.", |object| {
                    count(&object["status"]["updatedReplicas"])
                }),
                column("Available", "integer", "Replicas available.", |object| {
                    count(&object["status"]["availableReplicas"])
                }),
                AGE,
                wide("Containers", "Container names.", containers),
                wide("Images", "Container images.", images),
                wide("Selector", "The label selector.", match_labels),
            ];
            COLUMNS
        }
        "statefulsets.apps" => {
            const COLUMNS: &[BuiltinColumn] = &[
                column(
                    "Ready",
                    "string",
                    "Ready replicas of desired.",
                    ready_of_desired,
                ),
                AGE,
                wide("Containers", "Container names.", containers),
                wide("Images", "Container images.", images),
            ];
            COLUMNS
        }
        "jobs.batch" => {
            const COLUMNS: &[BuiltinColumn] = &[
                column("Status", "string", "The job's state.", job_status),
                column(
                    "Completions",
                    "string",
                    "Succeeded of wanted.",
                    job_completions,
                ),
                column("Duration", "string", "How long it ran.", job_duration),
                AGE,
                wide("Containers", "Container names.", containers),
                wide("Images", "Container images.", images),
                wide("Selector", "The label selector.", match_labels),
            ];
            COLUMNS
        }
        "cronjobs.batch" => {
            const COLUMNS: &[BuiltinColumn] = &[
                column("Schedule", "string", "The cron schedule.", |object| {
                    object["spec"]["schedule"].clone()
                }),
                column(
                    "Timezone",
                    "string",
                    "The schedule's time zone.",
                    |object| text_or_none(&object["spec"]["timeZone"]),
                ),
                column("Suspend", "boolean", "Whether it is suspended.", |object| {
                    json!(object["spec"]["suspend"].as_bool().unwrap_or(false))
                }),
                column("Active", "integer", "Jobs running.", |object| {
                    json!(object["status"]["active"].as_array().map_or(0, Vec::len))
                }),
                column(
                    "Last Schedule",
                    "string",
                    "When it last ran.",
                    |object| match object["status"]["lastScheduleTime"] {
                        Value::Null => json!("<none>"),
                        ref time => json!(super::since(time, chrono::Utc::now())),
                    },
                ),
                AGE,
                wide("Containers", "Container names.", |object| {
                    containers(&object["spec"]["jobTemplate"])
                }),
                wide("Images", "Container images.", |object| {
                    images(&object["spec"]["jobTemplate"])
                }),
            ];
            COLUMNS
        }
        "services" => {
            const COLUMNS: &[BuiltinColumn] = &[
                column("Type", "string", "The service's type.", |object| {
                    json!(object["spec"]["type"].as_str().unwrap_or("ClusterIP"))
                }),
                column("Cluster-IP", "string", "The cluster address.", |object| {
                    text_or_none(&object["spec"]["clusterIP"])
                }),
                column("External-IP", "string", "External addresses.", external_ips),
                column("Port(s)", "string", "The ports served.", service_ports),
                AGE,
                wide("Selector", "The pods it selects.", |object| {
                    labels_text(&object["spec"]["selector"])
                }),
            ];
            COLUMNS
        }
        "namespaces" => {
            const COLUMNS: &[BuiltinColumn] = &[
                column("Status", "string", "The namespace's phase.", |object| {
                    json!(object["status"]["phase"].as_str().unwrap_or("Active"))
                }),
                AGE,
            ];
            COLUMNS
        }
        "secrets" => {
            const COLUMNS: &[BuiltinColumn] = &[
                column("Type", "string", "The secret's type.", |object| {
                    json!(object["type"].as_str().unwrap_or("Opaque"))
                }),
                column("Data", "integer", "Keys held.", |object| {
                    json!(keys(&object["data"]))
                }),
                AGE,
            ];
            COLUMNS
        }
        "configmaps" => {
            const COLUMNS: &[BuiltinColumn] = &[
                column("Data", "integer", "Keys held.", |object| {
                    json!(keys(&object["data"]) + keys(&object["binaryData"]))
                }),
                AGE,
            ];
            COLUMNS
        }
        "serviceaccounts" => {
            const COLUMNS: &[BuiltinColumn] = &[
                column("Secrets", "integer", "Secrets listed.", |object| {
                    json!(object["secrets"].as_array().map_or(0, Vec::len))
                }),
                AGE,
            ];
            COLUMNS
        }
        "events" => {
            const COLUMNS: &[BuiltinColumn] = &[
                column("Last Seen", "string", "When it last happened.", |event| {
                    let time = match &event["lastTimestamp"] {
                        Value::Null => &event["metadata"]["creationTimestamp"],
                        time => time,
                    };
                    json!(super::since(time, chrono::Utc::now()))
                }),
                column("Type", "string", "Normal or Warning.", |event| {
                    event["type"].clone()
                }),
                column("Reason", "string", "Why it happened.", |event| {
                    event["reason"].clone()
                }),
                column("Object", "string", "What it is about.", |event| {
                    let object = &event["involvedObject"];
                    json!(format!(
                        "{}/{}",
                        object["kind"].as_str().unwrap_or_default().to_lowercase(),
                        object["name"].as_str().unwrap_or_default()
                    ))
                }),
                column("Message", "string", "What happened.", |event| {
                    event["message"].clone()
                }),
            ];
            COLUMNS
        }
        _ => return None,
    })
}

fn none(_: &Value) -> Value {
    json!("<none>")
}

fn count(value: &Value) -> Value {
    json!(value.as_i64().unwrap_or(0))
}

fn keys(value: &Value) -> usize {
    value.as_object().map_or(0, serde_json::Map::len)
}

fn text_or_none(value: &Value) -> Value {
    match value.as_str() {
        Some(text) if !text.is_empty() => json!(text),
        _ => json!("<none>"),
    }
}

fn labels_text(labels: &Value) -> Value {
    match labels.as_object() {
        Some(labels) if !labels.is_empty() => json!(
            labels
                .iter()
                .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        ),
        _ => json!("<none>"),
    }
}

fn pod_ready(pod: &Value) -> Value {
    let total = pod["spec"]["containers"].as_array().map_or(0, Vec::len);
    let ready = pod["status"]["containerStatuses"]
        .as_array()
        .map_or(0, |statuses| {
            statuses
                .iter()
                .filter(|status| status["ready"] == true)
                .count()
        });
    json!(format!("{ready}/{total}"))
}

/// What `kubectl get pods` says: a container's waiting or terminated reason
/// when it has one, else the phase; `Terminating` while being deleted.
fn pod_status(pod: &Value) -> Value {
    if pod["metadata"].get("deletionTimestamp").is_some() {
        return json!("Terminating");
    }
    let reason = pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|status| {
            status["state"]["waiting"]["reason"]
                .as_str()
                .or(status["state"]["terminated"]["reason"].as_str())
        });
    json!(
        reason
            .or(pod["status"]["reason"].as_str())
            .or(pod["status"]["phase"].as_str())
            .unwrap_or("Pending")
    )
}

fn pod_restarts(pod: &Value) -> Value {
    let restarts: i64 = pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|status| status["restartCount"].as_i64())
        .sum();
    json!(restarts.to_string())
}

fn pod_ip(pod: &Value) -> Value {
    text_or_none(&pod["status"]["podIP"])
}

fn node_name(pod: &Value) -> Value {
    text_or_none(&pod["spec"]["nodeName"])
}

fn ready_of_desired(workload: &Value) -> Value {
    let ready = workload["status"]["readyReplicas"].as_i64().unwrap_or(0);
    let desired = workload["spec"]["replicas"].as_i64().unwrap_or(1);
    json!(format!("{ready}/{desired}"))
}

/// Of a workload, or (given `spec.jobTemplate`) of a CronJob's jobs.
fn template_containers(object: &Value) -> impl Iterator<Item = &Value> {
    object["spec"]["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
}

fn containers(object: &Value) -> Value {
    let names: Vec<&str> = template_containers(object)
        .filter_map(|container| container["name"].as_str())
        .collect();
    json!(names.join(","))
}

fn images(object: &Value) -> Value {
    let images: Vec<&str> = template_containers(object)
        .filter_map(|container| container["image"].as_str())
        .collect();
    json!(images.join(","))
}

fn match_labels(object: &Value) -> Value {
    labels_text(&object["spec"]["selector"]["matchLabels"])
}

fn job_status(job: &Value) -> Value {
    let condition = |kind: &str| {
        job["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|condition| condition["type"] == kind && condition["status"] == "True")
    };
    json!(if condition("Complete") {
        "Complete"
    } else if condition("Failed") {
        "Failed"
    } else if job["spec"]["suspend"] == true {
        "Suspended"
    } else {
        "Running"
    })
}

fn job_completions(job: &Value) -> Value {
    let succeeded = job["status"]["succeeded"].as_i64().unwrap_or(0);
    let wanted = job["spec"]["completions"].as_i64().unwrap_or(1);
    json!(format!("{succeeded}/{wanted}"))
}

fn job_duration(job: &Value) -> Value {
    let time = |field: &str| {
        job["status"][field]
            .as_str()
            .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
            .map(|time| time.with_timezone(&chrono::Utc))
    };
    match time("startTime") {
        Some(start) => {
            let end = time("completionTime").unwrap_or_else(chrono::Utc::now);
            json!(super::human_duration((end - start).num_seconds()))
        }
        None => json!(""),
    }
}

fn external_ips(service: &Value) -> Value {
    let mut addresses: Vec<&str> = service["spec"]["externalIPs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    addresses.extend(
        service["status"]["loadBalancer"]["ingress"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|ingress| ingress["ip"].as_str().or(ingress["hostname"].as_str())),
    );
    match (addresses.is_empty(), service["spec"]["type"].as_str()) {
        (false, _) => json!(addresses.join(",")),
        (true, Some("LoadBalancer")) => json!("<pending>"),
        (true, Some("ExternalName")) => service["spec"]["externalName"].clone(),
        (true, _) => json!("<none>"),
    }
}

fn service_ports(service: &Value) -> Value {
    let ports: Vec<String> = service["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|port| {
            let protocol = port["protocol"].as_str().unwrap_or("TCP");
            match port["nodePort"].as_i64() {
                Some(node_port) => format!("{}:{node_port}/{protocol}", port["port"]),
                None => format!("{}/{protocol}", port["port"]),
            }
        })
        .collect();
    if ports.is_empty() {
        json!("<none>")
    } else {
        json!(ports.join(","))
    }
}
