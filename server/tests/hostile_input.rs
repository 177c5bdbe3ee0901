//! Every server function, called by a visitor its role allows, with what a
//! hostile or broken client sends: nothing, the wrong types, megabytes,
//! control and invisible characters, invalid UTF-8, JSON with a lone
//! surrogate. Each answer is a refusal with a reason or a normal answer,
//! never a server error, and the portal keeps answering afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use app::access;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

mod support;

use support::visitors::portal;

/// A field value of 300 KB: past any limit a field has, within the body's.
fn huge() -> String {
    "x".repeat(300 * 1024)
}

/// Bodies as `(content type, body)`, each with what it tries.
fn hostile_bodies() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let form = "application/x-www-form-urlencoded";
    let fields = [
        "name", "search", "username", "text", "app", "value", "key", "id", "tier",
    ];
    let every_field = |value: &str| {
        fields
            .iter()
            .map(|field| format!("{field}={value}"))
            .collect::<Vec<_>>()
            .join("&")
            .into_bytes()
    };
    vec![
        ("nothing", form, Vec::new()),
        (
            "wrong types",
            form,
            b"page=-1&id=not-a-number&disabled=maybe&before=1e99".to_vec(),
        ),
        ("megabytes in every field", form, every_field(&huge())),
        // Right-to-left override, zero-width space, NUL, a line break.
        (
            "control and invisible characters",
            form,
            every_field("%E2%80%AEevil%E2%80%8B%00%0D%0A"),
        ),
        ("invalid UTF-8", form, every_field("%FF%FE%C0%AF")),
        ("not a form at all", form, b"%%%&&==\x00\xff".to_vec()),
        (
            "JSON with a lone surrogate",
            "application/json",
            br#"{"name":"\ud800","search":"\udfff"}"#.to_vec(),
        ),
        (
            "a type nobody speaks",
            "application/x-dscloud-nonsense",
            b"<xml/>".to_vec(),
        ),
    ]
}

#[tokio::test]
async fn no_server_function_answers_hostile_input_with_a_server_error() {
    let (app, visitors, _dir) = portal().await;
    let mut problems = Vec::new();
    for (endpoint, rule) in access::SERVER_FUNCTIONS {
        let Some(visitor) = visitors.iter().find(|visitor| rule.allows(visitor.role)) else {
            continue;
        };
        for (what, content_type, body) in hostile_bodies() {
            let mut request = Request::post(format!("/api/{endpoint}"))
                .header(header::CONTENT_TYPE, content_type);
            if let Some(cookie) = &visitor.cookie {
                request = request.header(header::COOKIE, cookie);
            }
            let response = app
                .clone()
                .oneshot(request.body(Body::from(body)).unwrap())
                .await
                .unwrap();
            let status = response.status();
            let text = String::from_utf8_lossy(
                &axum::body::to_bytes(response.into_body(), 1 << 20)
                    .await
                    .unwrap(),
            )
            .into_owned();
            // This bed runs no cluster, apps or secrets: those say so (503).
            let missing = status == StatusCode::SERVICE_UNAVAILABLE
                && text.contains("not available on this server");
            if status.is_server_error() && !missing {
                problems.push(format!("{endpoint} ({what}): {status} {text:.200}"));
            }
            if status.is_client_error() && text.trim().is_empty() {
                problems.push(format!("{endpoint} ({what}): {status} without a reason"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Still answering.
    let health = app
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}
