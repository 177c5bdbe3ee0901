//! SIGTERM with a request in flight: the portal stops taking new
//! connections, finishes the request it has (within its grace period), and
//! only then exits. The request is held in flight without sleeping: another
//! connection holds SQLite's write lock, so the sign-in's session write waits
//! until the test lets it go.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use sqlx::Connection as _;
use support::process::Running;

mod support;

const PASSWORD: &str = "coras-long-password";

// Two workers: reading the portal's log blocks one while the request runs on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_request_in_flight_before_stopping() {
    let dir = tempfile::tempdir().unwrap();
    support::process::create_user(dir.path(), "cora", "customer", PASSWORD);
    // tower_http at debug logs each request as it starts.
    let mut running = Running::start_in(
        dir.path(),
        &[
            "--shutdown-grace-secs",
            "20",
            "--log",
            "info,tower_http=debug",
        ],
    );
    let address = running.address();

    let url = format!("sqlite://{}", dir.path().join("portal.db").display());
    let mut holder = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let in_flight = tokio::spawn({
        let client = client.clone();
        let address = address.clone();
        async move {
            client
                .post(format!("{address}/auth/sign-in"))
                .form(&[("username", "cora"), ("password", PASSWORD), ("next", "/")])
                .send()
                .await
        }
    });
    running.wait_for("started processing request");

    support::process::sigterm(&running.child);
    running.wait_for("shutting down: finishing requests in flight");
    // Still running: it waits for the request, which waits for the lock.
    assert!(running.child.try_wait().unwrap().is_none());
    let refused = client.get(format!("{address}/healthz")).send().await;
    assert!(
        refused.is_err(),
        "no new connections once stopping: {refused:?}"
    );

    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    let answer = in_flight.await.unwrap().unwrap();
    assert_eq!(answer.status(), 303, "the request in flight was finished");
    assert_eq!(answer.headers()["location"], "/");
    assert!(answer.headers().get("set-cookie").is_some(), "signed in");
    let status = running.terminate();
    assert!(status.success(), "{status:?}");
}
