//! `--log-format json`, as a collector reads it: a line per event, the
//! request's id on every line logged while answering it (an id the client
//! sent is kept), and every engine step naming the item it acts on.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use app::roles::Role;
use serde_json::Value;

mod support;

use support::process::Running;

/// Reads JSON lines until one satisfies `wanted`.
fn line_where(running: &mut Running, wanted: impl Fn(&Value) -> bool) -> Value {
    loop {
        let line = running.wait_for("{");
        let Ok(value) = serde_json::from_str::<Value>(&line) else {
            panic!("not JSON: {line}");
        };
        if wanted(&value) {
            return value;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn json_lines_carry_the_request_id_and_the_engines_item() {
    let dir = tempfile::tempdir().unwrap();
    let mut running = Running::start_with(
        dir.path(),
        &[
            "--log-format",
            "json",
            "--log",
            "info,tower_http=debug",
            "--kubernetes",
            "sandbox",
            "--sandbox-operator-delay-ms",
            "0",
        ],
        &[],
    );
    let serving = line_where(&mut running, |line| {
        line["message"]
            .as_str()
            .is_some_and(|message| message.contains("serving on http://"))
    });
    let message = serving["message"].as_str().unwrap();
    let address = &message[message.find("http://").unwrap()..];

    let answer = reqwest::Client::new()
        .get(format!("{address}/healthz"))
        .header("x-request-id", "req-7f3a")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["x-request-id"], "req-7f3a");
    let line = line_where(&mut running, |line| line["span"]["id"] == "req-7f3a");
    assert_eq!(line["span"]["name"], "request");
    assert!(line["level"].is_string() && line["timestamp"].is_string());

    // A database created in the store (as the create form does) is
    // provisioned; each step's line names it, inside the engine's span.
    let url = format!("sqlite://{}", dir.path().join("portal.db").display());
    let store = server::store::connect(&url).await.unwrap();
    let owner = support::user(store.as_ref(), "cora", Role::Customer).await;
    let database = support::create_database(store.as_ref(), owner.id, "orders", "postgresql").await;
    let id = database.id.to_string();
    let step = line_where(&mut running, |line| {
        line["message"] == "provisioning step" && line["database"] == id.as_str()
    });
    assert_eq!(step["span"]["name"], "reconcile");
    assert_eq!(step["span"]["engine"], "provisioning");
    assert!(
        step["span"]["item"].as_str().unwrap().contains(&id),
        "{step}"
    );
    assert!(step["step"].is_string(), "{step}");
    running.terminate();
}
