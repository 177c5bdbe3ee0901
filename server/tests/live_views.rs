//! A database page's live status (`GET /databases/{id}/events`) through the
//! whole router: a change reaches the open stream; the stream ends soon
//! after its session does or its user's role changes; one session holds a
//! bounded number of them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;
use std::time::Duration;

use app::databases::Status;
use app::roles::Role;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures_util::StreamExt;
use server::cli::ServeArgs;
use server::databases::events::{MAX_PER_SESSION, SESSION_CHECK};
use server::store::{EngineReport, Store};
use tower::ServiceExt;
use uuid::Uuid;

mod support;

struct Bed {
    app: Router,
    store: Arc<dyn Store>,
    cookie: String,
    session_hash: String,
    user: Uuid,
    database: Uuid,
    _dir: support::TestDir,
}

async fn bed() -> Bed {
    let (store, dir) = support::store().await;
    let cora = support::user(store.as_ref(), "cora", Role::Customer).await;
    let (cookie, session_hash) = support::session(store.as_ref(), cora.id).await;
    let database = store
        .create_database(support::new_database(
            cora.id,
            "orders",
            "postgresql",
            "starter",
        ))
        .await
        .unwrap()
        .into_record()
        .id;
    let app = support::router_on(store.clone(), &ServeArgs::default());
    Bed {
        app,
        store,
        cookie,
        session_hash,
        user: cora.id,
        database,
        _dir: dir,
    }
}

/// An open stream's events, as the text of each chunk.
struct Open {
    chunks: std::pin::Pin<Box<dyn futures_util::Stream<Item = String> + Send>>,
}

impl Open {
    /// The next event's data, or `None` when the stream ended; fails after
    /// `within` with no word from the server but keep-alives.
    async fn next(&mut self, within: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let chunk = tokio::time::timeout_at(deadline, self.chunks.next())
                .await
                .expect("the stream said nothing in time")?;
            if chunk.contains("data:") {
                return Some(chunk);
            }
        }
    }
}

impl Bed {
    async fn open(&self) -> Result<Open, (StatusCode, String)> {
        let response = self
            .app
            .clone()
            .oneshot(
                Request::get(format!("/databases/{}/events", self.database))
                    .header(header::COOKIE, &self.cookie)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        if response.status() != StatusCode::OK {
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .unwrap();
            return Err((status, String::from_utf8_lossy(&body).into_owned()));
        }
        let chunks = response
            .into_body()
            .into_data_stream()
            .map(|chunk| String::from_utf8_lossy(&chunk.unwrap()).into_owned());
        Ok(Open {
            chunks: Box::pin(chunks),
        })
    }

    async fn report(&self, status: Status) {
        let record = self.store.database(self.database).await.unwrap();
        self.store
            .report_database(
                self.database,
                None,
                &EngineReport {
                    generation: record.generation,
                    status,
                    message: None,
                    settled: false,
                    configured: false,
                    configured_version: 0,
                },
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_change_reaches_the_open_page_within_two_seconds() {
    let bed = bed().await;
    let mut stream = bed.open().await.unwrap();
    let first = stream.next(Duration::from_secs(5)).await.unwrap();
    assert!(first.contains(r#""status":"PENDING""#), "{first}");
    bed.report(Status::Initializing).await;
    let started = std::time::Instant::now();
    let next = stream.next(Duration::from_secs(5)).await.unwrap();
    assert!(next.contains(r#""status":"INITIALIZING""#), "{next}");
    // A 200 ms tick and one read; the bound leaves room for a loaded CI.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_stream_ends_soon_after_its_session_does() {
    let bed = bed().await;
    let mut stream = bed.open().await.unwrap();
    stream.next(Duration::from_secs(5)).await.unwrap();
    bed.store.delete_session(&bed.session_hash).await.unwrap();
    // Nothing more is sent: the stream closes at its next session check.
    let ended = stream.next(SESSION_CHECK * 3).await;
    assert_eq!(ended, None);
}

#[tokio::test]
async fn the_stream_ends_soon_after_its_users_role_changes() {
    let bed = bed().await;
    let mut stream = bed.open().await.unwrap();
    stream.next(Duration::from_secs(5)).await.unwrap();
    bed.store
        .update_user_access(bed.user, Role::Developer, false, None)
        .await
        .unwrap();
    assert_eq!(stream.next(SESSION_CHECK * 3).await, None);
}

#[tokio::test]
async fn one_session_holds_a_bounded_number_of_live_views() {
    let bed = bed().await;
    let mut open = Vec::new();
    for _ in 0..MAX_PER_SESSION {
        open.push(bed.open().await.unwrap());
    }
    let Err((status, message)) = bed.open().await else {
        panic!("one stream too many was opened");
    };
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(message.contains("close some of those tabs"), "{message}");
    // Closing one gives its place back.
    drop(open.pop());
    assert!(bed.open().await.is_ok());
}
