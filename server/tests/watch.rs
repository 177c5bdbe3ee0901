//! The engines' watches on their own, with no engine timer in play: a change
//! reaches `on_change` through the watch; a cut watch resumes from the last
//! resourceVersion it saw (nothing replayed); one whose version expired
//! (410) lists afresh. The sandbox's client is wrapped to record each watch
//! request's `resourceVersion`, so the test sees which way it resumed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{Api, PostParams};
use sandbox::Sandbox;
use server::cluster::Kind;
use server::engine::watch;

const SELECTOR: &str = "dscloud.io/test=watch";

/// What the watch reported (object names, in order) and asked (the
/// `resourceVersion` of each watch request).
#[derive(Clone, Default)]
struct Record {
    seen: Arc<Mutex<Vec<String>>>,
    resumed_from: Arc<Mutex<Vec<String>>>,
}

impl Record {
    fn seen(&self, name: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|seen| *seen == name)
            .count()
    }

    fn requests(&self) -> Vec<String> {
        self.resumed_from.lock().unwrap().clone()
    }

    async fn until(&self, what: &str, done: impl Fn(&Record) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !done(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: not within 10 s; seen {:?}, watch requests from {:?}",
                self.seen.lock().unwrap(),
                self.requests()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A client on the sandbox that records each watch request's resourceVersion.
fn recording_client(sandbox: &Sandbox, record: &Record) -> kube::Client {
    let resumed_from = record.resumed_from.clone();
    let service = tower::ServiceBuilder::new()
        .map_request(move |request: axum::http::Request<kube::client::Body>| {
            let query = request.uri().query().unwrap_or_default().to_string();
            if query.contains("watch=true") {
                let version = query
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("resourceVersion="))
                    .unwrap_or("none")
                    .to_string();
                resumed_from.lock().unwrap().push(version);
            }
            request
        })
        .service(sandbox.router());
    kube::Client::new(service, "default")
}

async fn secret(client: &kube::Client, name: &str, labelled: bool) {
    let labels = if labelled {
        serde_json::json!({"dscloud.io/test": "watch"})
    } else {
        serde_json::json!({})
    };
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), "default");
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                serde_json::json!({"metadata": {"name": name, "labels": labels}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_watch_wakes_resumes_where_it_was_and_lists_afresh_after_410() {
    let sandbox = Sandbox::new();
    let record = Record::default();
    let client = recording_client(&sandbox, &record);
    secret(&client, "before", true).await;
    // Every watch is cut after 400 ms; the watch reopens a second later.
    sandbox
        .faults()
        .cut_watches_after(Some(Duration::from_millis(400)));
    let seen = record.seen.clone();
    watch::spawn(
        client.clone(),
        &[Kind::SECRET],
        SELECTOR.to_string(),
        Arc::new(move |object| {
            let name = object.metadata.name.clone().unwrap_or_default();
            seen.lock().unwrap().push(name);
        }),
    );
    record
        .until("the first watch lists what exists", |record| {
            record.seen("before") == 1
        })
        .await;
    assert_eq!(
        record.requests(),
        ["0"],
        "the first watch starts from a list"
    );

    // A change is reported by the watch itself (no engine, no timer here);
    // an object outside the selector is not.
    secret(&client, "unlabelled", false).await;
    secret(&client, "after", true).await;
    record
        .until("the new object is reported", |record| {
            record.seen("after") == 1
        })
        .await;

    // Two cuts later: each reopened watch asked for a version past "0", and
    // nothing was reported twice.
    record
        .until("two resumed watches", |record| record.requests().len() >= 3)
        .await;
    let requests = record.requests();
    assert!(
        requests[1..]
            .iter()
            .all(|version| version.parse::<u64>().unwrap() > 0),
        "resumes from the last version seen: {requests:?}"
    );
    assert_eq!(record.seen("before"), 1);
    assert_eq!(record.seen("after"), 1);
    assert_eq!(record.seen("unlabelled"), 0);

    // Now every resume is answered 410 Gone: the watch starts again from a
    // fresh list, which reports what exists once more.
    sandbox.faults().expire_resumes(true);
    record
        .until("a fresh list after 410", |record| {
            record.seen("before") == 2
        })
        .await;
    assert_eq!(record.seen("after"), 2);
    let requests = record.requests();
    assert!(
        requests[1..].iter().any(|version| version == "0"),
        "after 410 a watch lists from 0 again: {requests:?}"
    );
}
