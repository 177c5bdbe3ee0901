//! The HTTP stack, driven through the router without a socket: health,
//! readiness, security headers, the 404 page and the protective layers;
//! one binary, a module per topic, the shared set-up here.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;

use axum::{
    Router,
    body::{Body, to_bytes},
    http::{Request, StatusCode, header},
};
use server::{
    cli::ServeArgs,
    http::{AppState, leptos_options, router},
    store::{self, Store},
};
use sqlx::Connection;
use tower::ServiceExt;

#[path = "../support/mod.rs"]
mod support;

mod assets;
mod audit;
mod health;
mod pages;
mod refusals;
mod sign_in;
mod theme;
mod webhooks;

/// The portal as a signed-in admin sees it: every request carries a session.
async fn portal_with(store: Arc<dyn Store>) -> Router {
    let admin = store
        .create_user(store::NewUser {
            username: "test-admin".to_string(),
            display_name: "Test Admin".to_string(),
            email: None,
            role: app::roles::Role::Admin,
            password_hash: None,
            oidc_identity: None,
            audit: None,
        })
        .await
        .unwrap();
    let (cookie, _) = support::session(store.as_ref(), admin.id).await;
    let cookie = header::HeaderValue::from_str(&cookie).unwrap();
    anonymous_portal(store).layer(
        tower_http::set_header::SetRequestHeaderLayer::if_not_present(header::COOKIE, cookie),
    )
}

/// The portal as someone without a session sees it.
fn anonymous_portal(store: Arc<dyn Store>) -> Router {
    support::router_on(store, &ServeArgs::default())
}

async fn sqlite_portal() -> (Router, tempfile::TempDir) {
    let (store, dir) = support::sqlite().await;
    (portal_with(store).await, dir)
}

async fn get(app: &Router, path: &str) -> axum::response::Response {
    app.clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap()
}

async fn text(response: axum::response::Response) -> String {
    let bytes = to_bytes(response.into_body(), 10 * 1024 * 1024)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn portal_with_user(
    username: &str,
    password: &str,
) -> (Router, Arc<dyn Store>, tempfile::TempDir) {
    let (store, dir) = support::sqlite().await;
    server::auth::accounts::create_local_user(
        store.as_ref(),
        &server::audit::Actor::command_line(),
        server::auth::accounts::NewLocalUser {
            username: username.to_string(),
            display_name: Some("Kim Developer".to_string()),
            email: None,
            role: app::roles::Role::Developer,
            password: Some(password.to_string()),
        },
    )
    .await
    .unwrap();
    (anonymous_portal(store.clone()), store, dir)
}

fn sign_in_request(username: &str, password: &str, next: &str) -> Request<Body> {
    let body = format!("username={username}&password={password}&next={next}");
    Request::post("/auth/sign-in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}
