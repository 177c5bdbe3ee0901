//! Throughput of the sandbox through its HTTP router (no socket):
//! creates per second, watch events per second, memory for 10,000 objects.
//!
//! `cargo bench -p sandbox --bench throughput`

use std::time::Instant;

use axum::body::Body;
use axum::http::{Request, header};
use futures::StreamExt;
use sandbox::Sandbox;
use serde_json::json;
use tower::ServiceExt;

const OBJECTS: usize = 10_000;

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

fn create(name: &str) -> Request<Body> {
    let body = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": "bench", "tier": "web"}},
        "data": {"DATABASE_HOST": "example.com", "TRACING": "false", "REPLICAS": "3"}
    });
    Request::post("/api/v1/namespaces/default/configmaps")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sandbox = Sandbox::new();
    let router = sandbox.router();
    let before = resident_kib();

    // A watch open from the start counts the events it receives.
    let watch = router
        .clone()
        .oneshot(
            Request::get("/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=600")
                .body(Body::empty())
                .unwrap_or_default(),
        )
        .await
        .map(|response| response.into_body().into_data_stream());
    let watching = tokio::spawn(async move {
        let mut events = 0usize;
        let mut stream = match watch {
            Ok(stream) => stream,
            Err(_) => return (0, Instant::now()),
        };
        let mut last = Instant::now();
        while let Some(Ok(chunk)) = stream.next().await {
            events += chunk.iter().filter(|byte| **byte == b'\n').count();
            last = Instant::now();
            if events >= OBJECTS {
                break;
            }
        }
        (events, last)
    });

    let started = Instant::now();
    for index in 0..OBJECTS {
        let response = router
            .clone()
            .oneshot(create(&format!("object-{index:05}")))
            .await;
        if !response.is_ok_and(|response| response.status().is_success()) {
            eprintln!("create {index} failed");
            std::process::exit(1);
        }
    }
    let created = started.elapsed();
    let (events, last_event) = watching.await.unwrap_or((0, Instant::now()));
    let watched = last_event.saturating_duration_since(started);
    let after = resident_kib();

    let list_started = Instant::now();
    let response = router
        .clone()
        .oneshot(
            Request::get("/api/v1/configmaps?labelSelector=app%3Dbench")
                .body(Body::empty())
                .unwrap_or_default(),
        )
        .await;
    let listed_bytes = match response {
        Ok(response) => axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map_or(0, |bytes| bytes.len()),
        Err(_) => 0,
    };
    let listed = list_started.elapsed();

    println!("objects:            {OBJECTS} ConfigMaps");
    println!(
        "creates:            {:.0}/s ({:.2} s for all)",
        OBJECTS as f64 / created.as_secs_f64(),
        created.as_secs_f64()
    );
    println!(
        "watch events:       {events} received, {:.0}/s (first create to last event)",
        events as f64 / watched.as_secs_f64()
    );
    println!(
        "memory:             {:.1} MiB more resident for {OBJECTS} objects and their event log",
        (after.saturating_sub(before)) as f64 / 1024.0
    );
    println!(
        "list all (selector): {:.1} ms, {listed_bytes} bytes",
        listed.as_secs_f64() * 1e3
    );
}
