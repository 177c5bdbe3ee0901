//! Injected faults: clients see real API errors, and kube-runtime's watch
//! machinery converges through cut watches, expired resumes and outages.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Client, Error};
use sandbox::{Failure, Fault, Sandbox, Verb};
use serde_json::json;
use tower::ServiceExt;

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {"set": "a"}}})).unwrap()
}

#[tokio::test]
async fn an_injected_error_reaches_the_client_as_an_api_error() {
    let sandbox = Sandbox::new();
    sandbox.faults().inject(
        Fault::always(Failure::Internal)
            .on(Verb::Create)
            .for_resource("configmaps")
            .times(1),
    );
    let maps: Api<ConfigMap> = Api::namespaced(Client::new(sandbox.router(), "default"), "default");
    match maps.create(&PostParams::default(), &config_map("a")).await {
        Err(Error::Api(status)) => assert_eq!(
            (status.code, status.reason.as_str()),
            (500, "InternalError")
        ),
        other => panic!("expected an injected 500, got {other:?}"),
    }
    // Only once: the retry goes through.
    maps.create(&PostParams::default(), &config_map("a"))
        .await
        .unwrap();
    // Other verbs were never touched.
    maps.get("a").await.unwrap();
}

#[tokio::test]
async fn rate_limits_say_when_to_come_back() {
    let sandbox = Sandbox::new();
    sandbox.faults().inject(
        Fault::always(Failure::TooManyRequests {
            retry_after_seconds: 2,
        })
        .on(Verb::List),
    );
    let response = sandbox
        .router()
        .oneshot(
            Request::get("/api/v1/namespaces/default/configmaps")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    sandbox.faults().clear();
    let response = sandbox
        .router()
        .oneshot(
            Request::get("/api/v1/namespaces/default/configmaps")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn latency_is_added_before_the_answer() {
    let sandbox = Sandbox::new();
    sandbox
        .faults()
        .inject(Fault::latency(Duration::from_millis(150)).on(Verb::Get));
    let maps: Api<ConfigMap> = Api::namespaced(Client::new(sandbox.router(), "default"), "default");
    maps.create(&PostParams::default(), &config_map("a"))
        .await
        .unwrap();
    let started = Instant::now();
    maps.get("a").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
}

/// A reflector's cache ends up exactly as the server is, although watches are
/// cut every 100 ms, every resume gets 410 Gone, and a third of the lists fail.
#[tokio::test]
async fn a_reflector_converges_through_cut_watches_expired_resumes_and_outages() {
    let sandbox = Sandbox::new();
    let client = Client::new(sandbox.router(), "default");
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    sandbox
        .faults()
        .cut_watches_after(Some(Duration::from_millis(100)));
    sandbox.faults().expire_resumes(true);
    sandbox.faults().inject(
        Fault::always(Failure::Unavailable)
            .on(Verb::List)
            .rate(0.33),
    );

    let (reader, writer) = reflector::store::<ConfigMap>();
    let stream = reflector(
        writer,
        watcher(maps.clone(), watcher::Config::default().labels("set=a")),
    )
    .default_backoff()
    .applied_objects()
    .for_each(|_| async {});
    let running = tokio::spawn(stream);

    let total = 40;
    for index in 0..total {
        maps.create(&PostParams::default(), &config_map(&format!("m{index:02}")))
            .await
            .unwrap();
        if index % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while reader.state().len() < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut names: Vec<String> = reader
        .state()
        .iter()
        .map(|map| map.metadata.name.clone().unwrap())
        .collect();
    names.sort();
    let expected: Vec<String> = (0..total).map(|index| format!("m{index:02}")).collect();
    assert_eq!(names, expected);
    running.abort();
}

/// Raw watch lines, read until `count` lines or the stream ends.
async fn watch_lines(sandbox: &Sandbox, query: &str, count: usize) -> Vec<serde_json::Value> {
    let response = sandbox
        .router()
        .oneshot(
            Request::get(format!(
                "/api/v1/namespaces/default/configmaps?watch=true&{query}"
            ))
            .body(Body::empty())
            .unwrap(),
        )
        .await
        .unwrap();
    let mut stream = response.into_body().into_data_stream();
    let mut buffer = Vec::new();
    let mut lines = Vec::new();
    while lines.len() < count {
        let Some(Ok(chunk)) = stream.next().await else {
            break;
        };
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|byte| *byte == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            lines.push(serde_json::from_slice(&line).unwrap());
        }
    }
    lines
}

#[tokio::test]
async fn watches_resume_send_bookmarks_and_answer_410_past_the_log() {
    let sandbox = Sandbox::new();
    let maps: Api<ConfigMap> = Api::namespaced(Client::new(sandbox.router(), "default"), "default");
    let first = maps
        .create(&PostParams::default(), &config_map("first"))
        .await
        .unwrap();
    let since = first.metadata.resource_version.unwrap();
    maps.create(&PostParams::default(), &config_map("second"))
        .await
        .unwrap();

    // Resuming from `first` replays only what came after it, then bookmarks.
    let lines = watch_lines(
        &sandbox,
        &format!("resourceVersion={since}&allowWatchBookmarks=true&timeoutSeconds=5"),
        2,
    )
    .await;
    assert_eq!(lines[0]["type"], "ADDED");
    assert_eq!(lines[0]["object"]["metadata"]["name"], "second");
    assert_eq!(lines[1]["type"], "BOOKMARK");
    assert!(
        lines[1]["object"]["metadata"]["resourceVersion"]
            .as_str()
            .is_some()
    );

    // 10,000 more changes push `first` out of the event log: resuming from it is 410 Gone.
    for index in 0..10_000 {
        maps.create(&PostParams::default(), &config_map(&format!("bulk{index}")))
            .await
            .unwrap();
    }
    let lines = watch_lines(
        &sandbox,
        &format!("resourceVersion={since}&timeoutSeconds=5"),
        1,
    )
    .await;
    assert_eq!(lines[0]["type"], "ERROR");
    assert_eq!(lines[0]["object"]["code"], 410);
}
