//! A pod's log (`kubectl logs`), and with `follow=true` (`kubectl logs -f`)
//! a stream that carries what the pod logs next and ends when the pod does.

use super::*;

pub(super) fn log(shared: Shared, namespace: String, pod: String, follow: bool) -> Response {
    let (log, mut changes) = {
        let store = shared.lock();
        match store.log(&namespace, &pod) {
            Ok(log) => (log, store.subscribe()),
            Err(error) => return error.into_response(),
        }
    };
    if !follow || pod_ended(&shared, &namespace, &pod) {
        return ([(header::CONTENT_TYPE, "text/plain")], log).into_response();
    }
    let (sender, lines) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(16);
    tokio::spawn(async move {
        let mut sent = log.len();
        if sender.send(Ok(Bytes::from(log))).await.is_err() {
            return;
        }
        loop {
            // Woken by any change; the pod's own status change comes with its log.
            let changed = tokio::time::timeout(Duration::from_secs(1), changes.recv()).await;
            if let Ok(Err(RecvError::Closed)) = changed {
                return;
            }
            let (log, ended) = {
                let store = shared.lock();
                (
                    store.log(&namespace, &pod),
                    pod_ended_in(&store, &namespace, &pod),
                )
            };
            let Ok(log) = log else {
                return; // the pod is gone
            };
            if log.len() > sent {
                let new = log.get(sent..).unwrap_or_default().to_string();
                sent = log.len();
                if sender.send(Ok(Bytes::from(new))).await.is_err() {
                    return;
                }
            }
            if ended {
                return;
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from_stream(
            tokio_stream::wrappers::ReceiverStream::new(lines),
        ))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn pod_ended(shared: &Shared, namespace: &str, pod: &str) -> bool {
    pod_ended_in(&shared.lock(), namespace, pod)
}

/// Whether a pod has run to its end (or is gone): nothing more will be logged.
fn pod_ended_in(store: &Store, namespace: &str, pod: &str) -> bool {
    let Some(pods) = store.types().iter().find(|kind| kind.id() == "pods") else {
        return true;
    };
    match store.get(pods, namespace, pod) {
        Ok(pod) => matches!(
            pod["status"]["phase"].as_str(),
            Some("Succeeded" | "Failed")
        ),
        Err(_) => true,
    }
}
