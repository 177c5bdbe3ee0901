//! The request-timeout layer (`--request-timeout-secs`): a request that
//! cannot finish in time is answered 408, and the portal goes on serving.
//! The slowness is made, not waited for: another connection holds SQLite's
//! write lock, so the sign-in's session write waits (up to the store's
//! 5-second busy timeout, far past the 1-second limit here).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use app::roles::Role;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use server::audit::Actor;
use server::auth::accounts::{self, NewLocalUser};
use sqlx::Connection as _;
use tower::ServiceExt;

mod support;

const PASSWORD: &str = "correct horse battery";

fn sign_in() -> Request<Body> {
    let mut request = Request::post("/auth/sign-in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "username=cora&password={}&next=%2F",
            PASSWORD.replace(' ', "+")
        )))
        .unwrap();
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

#[tokio::test]
async fn a_request_past_the_timeout_is_answered_408_and_the_next_one_is_served() {
    let (store, dir) = support::sqlite().await;
    accounts::create_local_user(
        store.as_ref(),
        &Actor::command_line(),
        NewLocalUser {
            username: "cora".into(),
            display_name: None,
            email: None,
            role: Role::Customer,
            password: Some(PASSWORD.into()),
        },
    )
    .await
    .unwrap();
    let args = server::cli::ServeArgs {
        request_timeout_secs: 1,
        ..server::cli::ServeArgs::default()
    };
    let router = support::router_on(store, &args);

    let url = format!("sqlite://{}", dir.path().join("portal.db").display());
    let mut holder = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();
    let started = Instant::now();
    let answer = router.clone().oneshot(sign_in()).await.unwrap();
    let waited = started.elapsed();
    assert_eq!(answer.status(), StatusCode::REQUEST_TIMEOUT);
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(4),
        "answered after {waited:?}: the layer's 1 s, not the store's 5 s"
    );

    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    let answer = router.oneshot(sign_in()).await.unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER, "served again");
    assert_eq!(answer.headers()[header::LOCATION], "/");
}
