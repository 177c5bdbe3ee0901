//! Watch: a list's events from a resourceVersion on, as a stream that
//! ends on the client's timeout, a fault's cut or a version too old (410).

use super::*;

/// A watch: one JSON event a line, from `resourceVersion` on (or from the
/// current state), until `timeoutSeconds` or the client leaves.
pub(super) async fn watch(
    shared: Shared,
    resource: ResourceType,
    namespace: Option<String>,
    query: &BTreeMap<String, String>,
    printer: Option<table::Printer>,
) -> Response {
    let labels = match LabelSelector::parse(query.get("labelSelector").map_or("", String::as_str)) {
        Ok(labels) => labels,
        Err(error) => return error.into_response(),
    };
    let fields = match FieldSelector::parse(query.get("fieldSelector").map_or("", String::as_str)) {
        Ok(fields) => fields,
        Err(error) => return error.into_response(),
    };
    let bookmarks = query
        .get("allowWatchBookmarks")
        .is_some_and(|value| value == "true");
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|seconds| seconds.parse::<u64>().ok())
        .map_or(Duration::from_secs(1800), Duration::from_secs);
    let since = query
        .get("resourceVersion")
        .and_then(|version| version.parse::<u64>().ok())
        .filter(|version| *version > 0);

    let cut = shared.faults.watch_cut();
    let expired = since.is_some() && shared.faults.resumes_expired();
    let (backlog, mut receiver, mut last_revision) = {
        let store = shared.lock();
        let receiver = store.subscribe();
        let backlog: Result<Vec<(EventKind, Value)>, ApiError> = match since {
            Some(_) if expired => Err(ApiError::gone(
                "too old resource version (an injected expiry)",
            )),
            Some(since) => store.events_since(since).map(|events| {
                events
                    .iter()
                    .filter_map(|event| {
                        visible(event, &resource, namespace.as_deref(), &labels, &fields)
                    })
                    .collect()
            }),
            None => Ok(store
                .snapshot(&resource, namespace.as_deref())
                .into_iter()
                .filter(|object| labels.matches(&object_labels(object)) && fields.matches(object))
                .map(|object| (EventKind::Added, object))
                .collect()),
        };
        (backlog, receiver, store.revision())
    };

    let (sender, lines) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(256);
    let send_line = |value: Value| Ok::<_, Infallible>(Bytes::from(format!("{value}\n")));
    // kubectl get -w asks for each changed object as a one-row Table.
    let printed = move |object: Value| match &printer {
        Some(printer) => printer.table(
            std::slice::from_ref(&object),
            json!({"resourceVersion": object["metadata"]["resourceVersion"]}),
        ),
        None => object,
    };
    let kind = resource.kind.clone();
    let api_version = resource.api_version();
    tokio::spawn(async move {
        let backlog = match backlog {
            Ok(backlog) => backlog,
            Err(gone) => {
                let _ = sender
                    .send(send_line(
                        json!({"type": "ERROR", "object": gone.to_status()}),
                    ))
                    .await;
                return;
            }
        };
        for (event_kind, object) in backlog {
            if sender
                .send(send_line(
                    json!({"type": event_kind.as_str(), "object": printed(object)}),
                ))
                .await
                .is_err()
            {
                return;
            }
        }
        let deadline = tokio::time::Instant::now() + cut.map_or(timeout, |cut| cut.min(timeout));
        let mut bookmark_timer = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return,
                _ = bookmark_timer.tick(), if bookmarks => {
                    let bookmark = json!({"type": "BOOKMARK", "object": {
                        "kind": kind, "apiVersion": api_version,
                        "metadata": {"resourceVersion": last_revision.to_string()}
                    }});
                    if sender.send(send_line(bookmark)).await.is_err() {
                        return;
                    }
                }
                received = receiver.recv() => match received {
                    Ok(event) => {
                        last_revision = last_revision.max(event.revision);
                        if let Some((event_kind, object)) = visible(&event, &resource, namespace.as_deref(), &labels, &fields)
                            && sender.send(send_line(json!({"type": event_kind.as_str(), "object": printed(object)}))).await.is_err()
                        {
                            return;
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        let gone = ApiError::gone("the watch fell behind; list again");
                        let _ = sender.send(send_line(json!({"type": "ERROR", "object": gone.to_status()}))).await;
                        return;
                    }
                    Err(RecvError::Closed) => return,
                },
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(
            tokio_stream::wrappers::ReceiverStream::new(lines),
        ))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// How an event looks to one watch: an object that stops matching its
/// selector is DELETED for it, one that starts matching is ADDED.
pub(super) fn visible(
    event: &Event,
    resource: &ResourceType,
    namespace: Option<&str>,
    labels: &LabelSelector,
    fields: &FieldSelector,
) -> Option<(EventKind, Value)> {
    if event.resource != resource.id()
        || namespace.is_some_and(|namespace| event.namespace != namespace)
    {
        return None;
    }
    let matches = |object: &Value| labels.matches(&object_labels(object)) && fields.matches(object);
    let now = matches(&event.object);
    let before = event.previous.as_ref().is_some_and(matches);
    let kind = match (event.kind, before, now) {
        (EventKind::Deleted, true, _) | (EventKind::Deleted, _, true) => EventKind::Deleted,
        (EventKind::Deleted, false, false) => return None,
        (EventKind::Added, _, true) => EventKind::Added,
        (EventKind::Modified, true, true) => EventKind::Modified,
        (EventKind::Modified, false, true) => EventKind::Added,
        (EventKind::Modified, true, false) => EventKind::Deleted,
        _ => return None,
    };
    Some((kind, event.object.clone()))
}
