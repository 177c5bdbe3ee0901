//! Wake-ups from Kubernetes: one watch per kind, selected by the engine's
//! own label, each event mapped to the item it concerns. A watch that is
//! cut resumes from the last resourceVersion it saw (as kube-runtime's
//! watcher does); one whose version expired (410 Gone) starts again from a
//! fresh list. The runner's resync stays: a broken watch is slower, never
//! wrong.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use kube::api::{Api, DynamicObject, WatchEvent, WatchParams};

use crate::cluster::Kind;

/// What an engine does with a changed object: usually, schedule its item.
pub type OnChange = Arc<dyn Fn(&DynamicObject) + Send + Sync>;

/// Starts one watch per kind on objects matching `selector`; each runs
/// until the process ends, re-opening after every error or cut.
pub fn spawn(client: kube::Client, kinds: &[Kind], selector: String, on_change: OnChange) {
    for kind in kinds {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &kind.resource());
        let params = WatchParams::default().labels(&selector).timeout(290);
        let on_change = on_change.clone();
        let kind = kind.kind;
        tokio::spawn(async move {
            let mut version = "0".to_string();
            loop {
                version = follow(&api, &params, version, &on_change, kind).await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}

/// One watch request until it ends; returns the version to resume from.
async fn follow(
    api: &Api<DynamicObject>,
    params: &WatchParams,
    mut version: String,
    on_change: &OnChange,
    kind: &str,
) -> String {
    let stream = match api.watch(params, &version).await {
        Ok(stream) => stream,
        Err(error) => {
            tracing::debug!(kind, %error, "cannot watch; the engine's resync carries on");
            return version;
        }
    };
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(
                WatchEvent::Added(object)
                | WatchEvent::Modified(object)
                | WatchEvent::Deleted(object),
            ) => {
                if let Some(seen) = &object.metadata.resource_version {
                    version.clone_from(seen);
                }
                on_change(&object);
            }
            Ok(WatchEvent::Bookmark(bookmark)) => {
                version = bookmark.metadata.resource_version;
            }
            Ok(WatchEvent::Error(status)) if status.code == 410 => {
                tracing::debug!(kind, "the watch's version expired; listing afresh");
                return "0".to_string();
            }
            Ok(WatchEvent::Error(status)) => {
                tracing::debug!(kind, message = %status.message, "the watch ended");
                break;
            }
            Err(error) => {
                tracing::debug!(kind, %error, "the watch broke");
                break;
            }
        }
    }
    version
}
