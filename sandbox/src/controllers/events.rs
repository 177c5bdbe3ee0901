//! Events the simulated controllers record, as the real ones do, so
//! `kubectl describe` and `kubectl get events` tell what happened.

use serde_json::{Value, json};

use super::*;

/// Records a `Normal` event about `object` from `component`.
pub(super) fn record_event(
    store: &mut Store,
    object: &Value,
    component: &str,
    reason: &str,
    message: &str,
) {
    let Some(events) = find(store, "events") else {
        return;
    };
    let namespace = namespace_of(object).to_string();
    let now = chrono::Utc::now();
    // Named by the time, as Kubernetes does: names sort as the events happened.
    let suffix = format!("{:016x}", now.timestamp_nanos_opt().unwrap_or_default());
    let now = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let event = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{}.{suffix}", name_of(object)), "namespace": namespace},
        "involvedObject": {"kind": object["kind"], "apiVersion": object["apiVersion"],
            "namespace": namespace, "name": name_of(object), "uid": object["metadata"]["uid"]},
        "reason": reason, "message": message, "type": "Normal",
        "source": {"component": component}, "reportingComponent": component,
        "firstTimestamp": now, "lastTimestamp": now, "count": 1,
    });
    if let Err(error) = store.create(&events, &namespace, event, WriteOptions::default()) {
        tracing::debug!(?error, "a simulated controller could not record an event");
    }
    expire_events(store, &events, &namespace);
}

/// Events older than an hour go, as on a real cluster (`--event-ttl`), so a
/// long-running sandbox does not keep them for ever.
fn expire_events(store: &mut Store, events: &ResourceType, namespace: &str) {
    let cutoff = chrono::Utc::now() - chrono::Duration::hours(1);
    for event in store.snapshot(events, Some(namespace)) {
        let old = event["metadata"]["creationTimestamp"]
            .as_str()
            .and_then(|time| chrono::DateTime::parse_from_rfc3339(time).ok())
            .is_some_and(|time| time < cutoff);
        if old {
            let _ = store.delete(events, namespace, name_of(&event), WriteOptions::default());
        }
    }
}
