//! Sessions as a browser meets them, through the portal's router: idle and
//! absolute expiry decided by the middleware (time is moved by ageing the
//! stored session, not by waiting), a role change or a disable ending the
//! user's sessions, and a password change that keeps the session it was
//! made from and ends the others.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;

use app::roles::Role;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{Duration, Utc};
use server::audit::Actor;
use server::auth::accounts::{self, NewLocalUser};
use server::store::{NewSession, Store, StoreError};
use tower::ServiceExt;

mod support;

const PASSWORD: &str = "correct horse battery";

async fn bed() -> (Router, Arc<dyn Store>, tempfile::TempDir) {
    let (store, dir) = support::sqlite().await;
    let router = support::router_on(store.clone(), &server::cli::ServeArgs::default());
    (router, store, dir)
}

async fn local_user(store: &dyn Store, username: &str, role: Role) -> uuid::Uuid {
    accounts::create_local_user(
        store,
        &Actor::command_line(),
        NewLocalUser {
            username: username.into(),
            display_name: None,
            email: None,
            role,
            password: Some(PASSWORD.into()),
        },
    )
    .await
    .unwrap()
    .0
    .id
}

/// A page's status for this cookie: 200 signed in, 303 sent to sign in.
async fn account_page(router: &Router, cookie: &str) -> StatusCode {
    router
        .clone()
        .oneshot(
            Request::get("/account")
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap()
        .status()
}

async fn post(router: &Router, cookie: &str, endpoint: &str, form: &str) -> StatusCode {
    router
        .clone()
        .oneshot(
            Request::post(format!("/api/{endpoint}"))
                .header(header::COOKIE, cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form.to_string()))
                .unwrap(),
        )
        .await
        .unwrap()
        .status()
}

/// A session begun `age` ago and last used `idle` ago.
async fn aged_session(
    store: &dyn Store,
    user: uuid::Uuid,
    age: Duration,
    idle: Duration,
) -> (String, String) {
    let token = server::auth::session::new_token();
    let hash = server::auth::session::token_hash(&token);
    let now = Utc::now();
    store
        .create_session(NewSession {
            token_hash: hash.clone(),
            user_id: user,
            created_at: now - age,
            expires_at: now + Duration::hours(1),
            client_address: None,
            user_agent: None,
        })
        .await
        .unwrap();
    store.touch_session(&hash, now - idle).await.unwrap();
    (format!("dscloud_session={token}"), hash)
}

#[tokio::test]
async fn a_session_ends_after_30_minutes_unused_and_8_hours_after_sign_in() {
    let (router, store, _dir) = bed().await;
    let dora = local_user(store.as_ref(), "dora", Role::Developer).await;

    let (cookie, _) = aged_session(
        store.as_ref(),
        dora,
        Duration::hours(2),
        Duration::minutes(29),
    )
    .await;
    assert_eq!(account_page(&router, &cookie).await, StatusCode::OK);

    let (cookie, hash) = aged_session(
        store.as_ref(),
        dora,
        Duration::hours(2),
        Duration::minutes(31),
    )
    .await;
    assert_eq!(account_page(&router, &cookie).await, StatusCode::SEE_OTHER);
    assert!(
        matches!(store.session(&hash).await, Err(StoreError::NotFound)),
        "an idle session is forgotten, not only refused"
    );

    let (cookie, _) = aged_session(
        store.as_ref(),
        dora,
        Duration::minutes(7 * 60 + 59),
        Duration::zero(),
    )
    .await;
    assert_eq!(account_page(&router, &cookie).await, StatusCode::OK);
    let (cookie, hash) = aged_session(
        store.as_ref(),
        dora,
        Duration::minutes(8 * 60 + 1),
        Duration::zero(),
    )
    .await;
    assert_eq!(account_page(&router, &cookie).await, StatusCode::SEE_OTHER);
    assert!(matches!(
        store.session(&hash).await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn a_role_change_or_a_disable_ends_the_users_sessions() {
    let (router, store, _dir) = bed().await;
    let root = local_user(store.as_ref(), "root", Role::Admin).await;
    let dev = local_user(store.as_ref(), "dev", Role::Developer).await;
    let (admin, _) = support::session(store.as_ref(), root).await;

    let (theirs, _) = support::session(store.as_ref(), dev).await;
    assert_eq!(account_page(&router, &theirs).await, StatusCode::OK);
    let changed = post(
        &router,
        &admin,
        "update_user",
        "username=dev&role=customer&disabled=false",
    )
    .await;
    assert_eq!(changed, StatusCode::OK);
    assert_eq!(account_page(&router, &theirs).await, StatusCode::SEE_OTHER);

    let (theirs, _) = support::session(store.as_ref(), dev).await;
    assert_eq!(account_page(&router, &theirs).await, StatusCode::OK);
    let disabled = post(
        &router,
        &admin,
        "update_user",
        "username=dev&role=customer&disabled=true",
    )
    .await;
    assert_eq!(disabled, StatusCode::OK);
    assert_eq!(account_page(&router, &theirs).await, StatusCode::SEE_OTHER);
    // The admin's own session is untouched.
    assert_eq!(account_page(&router, &admin).await, StatusCode::OK);
}

#[tokio::test]
async fn a_password_change_keeps_its_own_session_and_ends_the_others() {
    let (router, store, _dir) = bed().await;
    let dora = local_user(store.as_ref(), "dora", Role::Developer).await;
    let (here, _) = support::session(store.as_ref(), dora).await;
    let (elsewhere, _) = support::session(store.as_ref(), dora).await;

    let wrong = post(
        &router,
        &here,
        "change_my_password",
        "current_password=not+it&new_password=a+brand+new+passphrase&repeat_password=a+brand+new+passphrase",
    )
    .await;
    assert_eq!(wrong, StatusCode::BAD_REQUEST);
    assert_eq!(
        account_page(&router, &elsewhere).await,
        StatusCode::OK,
        "a refused change ends nothing"
    );

    let changed = post(
        &router,
        &here,
        "change_my_password",
        "current_password=correct+horse+battery&new_password=a+brand+new+passphrase&repeat_password=a+brand+new+passphrase",
    )
    .await;
    assert_eq!(changed, StatusCode::OK);
    assert_eq!(account_page(&router, &here).await, StatusCode::OK);
    assert_eq!(
        account_page(&router, &elsewhere).await,
        StatusCode::SEE_OTHER
    );
}
