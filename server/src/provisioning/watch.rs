//! Wakes the engine when Kubernetes reports a change to an object it
//! manages (an operator marking a database ready, a job finishing, a
//! namespace gone), so it reacts at once instead of at its next tick. The
//! tick stays: a watch that breaks is only slower, never wrong.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, WatchEvent, WatchParams};
use tokio::sync::Notify;

use super::objects::FIELD_MANAGER;

/// The kinds whose changes the engine waits for.
fn watched() -> Vec<ApiResource> {
    [
        ("", "v1", "Namespace", "namespaces"),
        ("batch", "v1", "Job", "jobs"),
        (
            "cassandra.datastax.com",
            "v1beta1",
            "CassandraDatacenter",
            "cassandradatacenters",
        ),
        ("postgresql.cnpg.io", "v1", "Cluster", "clusters"),
    ]
    .into_iter()
    .map(|(group, version, kind, plural)| {
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
    })
    .collect()
}

/// Starts one watch per kind; each re-opens after an error or a cut.
pub fn spawn(client: kube::Client, wake: Arc<Notify>) {
    for resource in watched() {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        let wake = wake.clone();
        tokio::spawn(async move {
            let params = WatchParams::default()
                .labels(&format!("app.kubernetes.io/managed-by={FIELD_MANAGER}"))
                .timeout(290);
            loop {
                match api.watch(&params, "0").await {
                    Ok(stream) => {
                        let mut stream = std::pin::pin!(stream);
                        while let Some(event) = stream.next().await {
                            match event {
                                Ok(
                                    WatchEvent::Added(_)
                                    | WatchEvent::Modified(_)
                                    | WatchEvent::Deleted(_),
                                ) => {
                                    wake.notify_one();
                                }
                                Ok(_) => {}
                                Err(_) => break,
                            }
                        }
                    }
                    Err(error) => {
                        tracing::debug!(kind = %resource.kind, %error, "cannot watch; the engine's timer carries on");
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}
