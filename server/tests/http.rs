//! The HTTP stack, driven through the router without a socket: health,
//! readiness, security headers, the 404 page and the protective layers.

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

mod support;

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

#[tokio::test]
async fn healthz_answers_while_the_process_lives() {
    let (app, _dir) = sqlite_portal().await;
    let response = get(&app, "/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, "ok");
}

#[tokio::test]
async fn readyz_reports_the_store_it_reached() {
    let (app, _dir) = sqlite_portal().await;
    let response = get(&app, "/readyz").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = serde_json::from_str(&text(response).await).unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["store"], "sqlite");
}

#[tokio::test]
async fn readyz_fails_when_the_database_goes_away() {
    let admin_url = std::env::var("PORTAL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
    let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
        Ok(connection) => connection,
        Err(error) if std::env::var("PORTAL_REQUIRE_POSTGRES").as_deref() != Ok("1") => {
            eprintln!("SKIPPED: PostgreSQL unreachable ({error})");
            return;
        }
        Err(error) => panic!("PostgreSQL is required but unreachable: {error}"),
    };
    let database = format!("portal_ready_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {database}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let slash = admin_url.rfind('/').unwrap();
    let store = store::connect(&format!("{}/{database}", &admin_url[..slash]))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let app = portal_with(store).await;
    assert_eq!(get(&app, "/readyz").await.status(), StatusCode::OK);

    sqlx::query(&format!("DROP DATABASE {database} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    let response = get(&app, "/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = serde_json::from_str(&text(response).await).unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["store"], "postgres");
    // Liveness is not readiness: the process itself is fine.
    assert_eq!(get(&app, "/healthz").await.status(), StatusCode::OK);
    // A signed-in visitor is told the portal cannot answer, not sent to
    // sign in as if their session were gone.
    let page = get(&app, "/databases").await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(text(page).await.contains("your session is kept"));
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_a_matching_nonce() {
    let (app, _dir) = sqlite_portal().await;
    let response = get(&app, "/").await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::REFERRER_POLICY], "same-origin");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert!(headers.contains_key("x-request-id"));
    // A signed-in page is its viewer's own: never kept by any cache.
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let schema = get(&app, "/schema/dscloud.json").await;
    assert_ne!(
        schema
            .headers()
            .get(header::CACHE_CONTROL)
            .map(|value| value.to_str().unwrap()),
        Some("no-store"),
        "the schema is the same for everyone"
    );

    let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(policy.contains("'wasm-unsafe-eval'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the policy");

    let html = text(response).await;
    assert!(html.contains("Databases and deployments, self-service"));
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the hydration script must carry the header's nonce"
    );
}

#[tokio::test]
async fn every_response_gets_a_fresh_nonce() {
    let (app, _dir) = sqlite_portal().await;
    let first = get(&app, "/").await.headers()[header::CONTENT_SECURITY_POLICY].clone();
    let second = get(&app, "/").await.headers()[header::CONTENT_SECURITY_POLICY].clone();
    assert_ne!(first, second);
}

#[tokio::test]
async fn a_request_id_given_by_a_proxy_is_kept() {
    let (app, _dir) = sqlite_portal().await;
    let response = app
        .oneshot(
            Request::get("/healthz")
                .header("x-request-id", "trace-me-123")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-123");
}

#[tokio::test]
async fn unknown_addresses_get_the_404_page() {
    let (app, _dir) = sqlite_portal().await;
    let response = get(&app, "/no/such/page").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let html = text(response).await;
    assert!(html.contains("Page not found"));
    assert!(html.contains("/no/such/page"));
}

#[tokio::test]
async fn every_section_renders_on_the_server() {
    let (app, _dir) = sqlite_portal().await;
    for (path, heading) in [
        ("/databases", "Databases"),
        ("/apps", "Apps"),
        ("/deploys", "Deploys"),
        ("/secrets", "Secrets"),
        ("/admin/users", "Users"),
        ("/admin/audit", "Audit log"),
    ] {
        let response = get(&app, path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let html = text(response).await;
        assert!(html.contains(&format!("<h1>{heading}</h1>")), "{path}");
        assert!(html.contains(r#"aria-current="page""#), "{path}");
    }
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let (app, _dir) = sqlite_portal().await;
    let too_big = vec![b'x'; ServeArgs::default().max_body_bytes + 1];
    let response = app
        .oneshot(
            Request::post("/api/anything")
                .header(header::CONTENT_LENGTH, too_big.len())
                .body(Body::from(too_big))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn pages_are_compressed_for_clients_that_accept_it() {
    let (app, _dir) = sqlite_portal().await;
    let response = app
        .oneshot(
            Request::get("/")
                .header(header::ACCEPT_ENCODING, "gzip")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
}

#[tokio::test]
async fn the_dscloud_schema_is_published_for_editors() {
    let (app, _dir) = sqlite_portal().await;
    let response = get(&app, "/schema/dscloud.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/schema+json"
    );
    let schema: serde_json::Value = serde_json::from_str(&text(response).await).unwrap();
    assert_eq!(schema["title"], "dscloud.yaml");
    let microservice = &schema["$defs"]["Microservice"];
    assert_eq!(microservice["additionalProperties"], false);
    let mut keys: Vec<&str> = microservice["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    // The keys the reference allows on a microservice, spelt as in the file.
    assert_eq!(
        keys,
        [
            "deployment",
            "description",
            "environmentConfiguration",
            "ingress",
            "integrationTests",
            "secretValues"
        ]
    );
    assert_eq!(
        schema["$defs"]["Deployment"]["properties"]["memoryMB"]["maximum"],
        65536
    );
}

#[tokio::test]
async fn state_changes_from_another_origin_are_refused() {
    let (app, _dir) = sqlite_portal().await;
    let post = |headers: &[(&str, &str)]| {
        let mut request = Request::post("/api/render_manifests")
            .header(header::HOST, "localhost:3000")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
            .body(Body::from("text=&app=x&environment=dev"))
            .unwrap()
    };
    for refused in [
        vec![("sec-fetch-site", "cross-site")],
        vec![("origin", "http://evil.example")],
    ] {
        let response = app.clone().oneshot(post(&refused)).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{refused:?}");
        assert!(
            text(response)
                .await
                .contains("Cross-origin request refused")
        );
    }
    for allowed in [
        vec![("sec-fetch-site", "same-origin")],
        vec![("origin", "http://localhost:3000")],
    ] {
        let response = app.clone().oneshot(post(&allowed)).await.unwrap();
        assert_ne!(response.status(), StatusCode::FORBIDDEN, "{allowed:?}");
    }
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

#[tokio::test]
async fn signing_in_sets_a_safe_cookie_and_the_page_knows_the_user() {
    let (app, store, _dir) = portal_with_user("kim", "a-long-password").await;
    let response = app
        .clone()
        .oneshot(sign_in_request(
            "kim",
            "a-long-password",
            "%2Fapps%2Fvalidate",
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/apps/validate");
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("dscloud_session="), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }
    assert!(!cookie.contains("Secure"), "plain http: no Secure flag");
    let token = cookie.split(';').next().unwrap().to_string();

    let page = app
        .clone()
        .oneshot(
            Request::get("/")
                .header(header::COOKIE, &token)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let html = text(page).await;
    assert!(
        html.contains("Kim Developer") && html.contains("Sign out"),
        "{html}"
    );
    assert!(
        store
            .user_by_username("kim")
            .await
            .unwrap()
            .last_sign_in_at
            .is_some()
    );

    // Signing out ends the session on the server, not only in the browser.
    let out = app
        .clone()
        .oneshot(
            Request::post("/auth/sign-out")
                .header(header::COOKIE, &token)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(
        out.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let after = app
        .oneshot(
            Request::get("/")
                .header(header::COOKIE, &token)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(!text(after).await.contains("Kim Developer"));
}

#[tokio::test]
async fn wrong_passwords_are_refused_then_throttled_and_next_cannot_leave_the_site() {
    let (app, _store, _dir) = portal_with_user("kim", "a-long-password").await;
    let response = app
        .clone()
        .oneshot(sign_in_request(
            "kim",
            "wrong-password",
            "%2F%2Fevil.example",
        ))
        .await
        .unwrap();
    // The username comes back to the form; the password never does.
    assert_eq!(
        response.headers()[header::LOCATION],
        "/sign-in?error=invalid&next=/&username=kim"
    );
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    // An unknown user gets the same answer.
    let unknown = app
        .clone()
        .oneshot(sign_in_request("nobody", "whatever-long", "/"))
        .await
        .unwrap();
    assert_eq!(
        unknown.headers()[header::LOCATION],
        "/sign-in?error=invalid&next=/&username=nobody"
    );
    for _ in 0..4 {
        app.clone()
            .oneshot(sign_in_request("kim", "wrong-password", "/"))
            .await
            .unwrap();
    }
    // Five failures from this address: the next attempt, even with the
    // right password, waits a second (then two, four...: never a lock).
    let throttled = app
        .oneshot(sign_in_request("kim", "a-long-password", "/"))
        .await
        .unwrap();
    let location = throttled.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        location.starts_with("/sign-in?error=throttled&retry=1&"),
        "{location}"
    );
    assert!(throttled.headers().get(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn a_right_password_with_a_next_that_browsers_would_turn_into_a_host_goes_home() {
    let (app, _store, _dir) = portal_with_user("kim", "a-long-password").await;
    // `/<TAB>/evil.example`: browsers drop the tab from a Location and go to
    // `//evil.example`, another site.
    for trick in [
        "%2F%09%2Fevil.example",
        "%2F%0A%2Fevil.example",
        "%2F%20%2Fevil.example",
    ] {
        let response = app
            .clone()
            .oneshot(sign_in_request("kim", "a-long-password", trick))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{trick}");
        assert_eq!(response.headers()[header::LOCATION], "/", "{trick}");
    }
    let fine = app
        .oneshot(sign_in_request(
            "kim",
            "a-long-password",
            "%2Fapps%3Fpage%3D2",
        ))
        .await
        .unwrap();
    assert_eq!(fine.headers()[header::LOCATION], "/apps?page=2");
}

#[tokio::test]
async fn a_username_that_cannot_be_one_is_neither_logged_nor_kept_as_typed() {
    let (app, store, _dir) = portal_with_user("kim", "a-long-password").await;
    // A password typed into the username field, and a megabyte of junk.
    let typed_password = "correct%20horse%20battery%20staple";
    let junk = "x".repeat(1024 * 1024);
    for username in [typed_password, junk.as_str()] {
        let response = app
            .clone()
            .oneshot(sign_in_request(username, "whatever-long", "/"))
            .await
            .unwrap();
        let location = response.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_string();
        // Nor does it go back into the address bar.
        assert_eq!(location, "/sign-in?error=invalid&next=/&username=");
    }
    let events = store
        .list_audit(&server::store::AuditQuery {
            action: Some("session.sign_in".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.items.len(), 2);
    for event in &events.items {
        assert_eq!(event.actor_name, server::auth::sign_in::NOT_A_USERNAME);
        assert!(
            !event.target.contains("horse") && event.target.len() < 100,
            "{}",
            event.target
        );
    }
    // The real account is not throttled by the junk.
    let kim = app
        .oneshot(sign_in_request("kim", "a-long-password", "/"))
        .await
        .unwrap();
    assert_eq!(kim.headers()[header::LOCATION], "/");
}

#[tokio::test]
async fn paths_with_dot_segments_are_refused_before_any_access_decision() {
    let (store, _dir) = support::sqlite().await;
    let app = anonymous_portal(store);
    // Each would be normalised to a page the visitor may not open.
    for path in [
        "/pkg/../admin/users",
        "/pkg/%2e%2e/admin/users",
        "/pkg/%2E./admin/audit",
        "/databases/../admin/audit",
        "/hooks/apps/../../admin/users",
        "/schema/./../admin/users",
        "/pkg/..%2fadmin/users",
        "/pkg/..%5cadmin/users",
    ] {
        let response = get(&app, path).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        assert!(text(response).await.contains("dot segments"), "{path}");
    }
}

#[tokio::test]
async fn without_a_session_pages_lead_to_sign_in_and_everything_else_is_refused() {
    let (store, _dir) = support::sqlite().await;
    let app = anonymous_portal(store);
    let page = get(&app, "/apps/validate?text=x").await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        page.headers()[header::LOCATION],
        "/sign-in?next=/apps/validate%3Ftext%3Dx"
    );
    for path in ["/sign-in", "/healthz", "/schema/dscloud.json"] {
        assert_eq!(get(&app, path).await.status(), StatusCode::OK, "{path}");
    }
    let call = app
        .clone()
        .oneshot(
            Request::post("/api/render_manifests")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("text=&app=x&environment=dev"))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(call.status(), StatusCode::UNAUTHORIZED);
    // A cookie that names no session is no session.
    let forged = app
        .oneshot(
            Request::get("/")
                .header(header::COOKIE, "dscloud_session=made-up")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn admins_export_the_filtered_audit_log_as_csv_and_json() {
    let (app, store, _dir) = portal_with_user("kim", "a-long-password").await;
    // A failed sign-in, then a good one: two events about kim.
    for password in ["wrong-password!", "a-long-password"] {
        app.clone()
            .oneshot(sign_in_request("kim", password, "/"))
            .await
            .unwrap();
    }
    let admin = portal_with(store).await;
    let response = get(
        &admin,
        "/admin/audit/export?format=csv&action=session.sign_in&target=user:kim",
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("dscloud-audit-")
    );
    let csv = text(response).await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "id,at,actor,address,action,target,target_name,outcome,details"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[1].contains(",success,") && lines[2].contains(",failure,"),
        "{csv}"
    );
    assert!(!csv.contains("a-long-password") && !csv.contains("wrong-password"));

    // JSON: the details are objects (not strings of JSON), times RFC 3339.
    let json = text(
        get(
            &admin,
            "/admin/audit/export?format=json&action=session.sign_in&target=user:kim",
        )
        .await,
    )
    .await;
    let events: serde_json::Value = serde_json::from_str(&json).unwrap();
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 2, "{json}");
    for event in events {
        assert!(event["details"].is_object(), "{json}");
        let at = event["at"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
        assert!(at.ends_with('Z'), "{at}");
    }
    let json = text(get(&admin, "/admin/audit/export?format=json&actor=nobody").await).await;
    assert_eq!(json.trim(), "[]");
    let bad = get(&admin, "/admin/audit/export?format=xml").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let bad = get(&admin, "/admin/audit/export?since=soon").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(text(bad).await.contains("from:"));

    // Not for the developer who signed in above.
    let response = app
        .clone()
        .oneshot(sign_in_request("kim", "a-long-password", "/"))
        .await
        .unwrap();
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    let session = cookie.split(';').next().unwrap().to_string();
    let refused = app
        .clone()
        .oneshot(
            Request::get("/admin/audit/export")
                .header(header::COOKIE, session)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

fn portal_configured(
    store: Arc<dyn Store>,
    args: ServeArgs,
    sso: Option<server::auth::sso::SsoConfig>,
) -> Result<Router, String> {
    router(
        AppState {
            leptos_options: leptos_options(&args),
            store,
            kubernetes: None,
            regions: Vec::new(),
            webhooks: None,
            apps: None,
            deploys: None,
            secrets: None,
        },
        &args,
        sso,
    )
}

const ONE_PROVIDER: &str = "providers:\n  - id: corp\n    name: Corp SSO\n    issuer: http://127.0.0.1:9\n    client_id: portal\n    default_role: customer\n";

#[tokio::test]
async fn with_local_sign_in_off_passwords_are_refused_and_only_sso_is_offered() {
    let (_, store, _dir) = portal_with_user("kim", "a-long-password").await;
    let args = ServeArgs {
        local_sign_in: false,
        ..ServeArgs::default()
    };
    let error = portal_configured(store.clone(), args.clone(), None).unwrap_err();
    assert!(error.contains("nobody could sign in"), "{error}");

    let sso = server::auth::sso::config::parse(ONE_PROVIDER).unwrap();
    let app = portal_configured(store, args, Some(sso)).unwrap();
    let response = app
        .clone()
        .oneshot(sign_in_request("kim", "a-long-password", "/"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    assert!(
        response.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .contains("error=local_off")
    );
    let page = text(get(&app, "/sign-in").await).await;
    assert!(page.contains("Sign in with Corp SSO"), "{page}");
    assert!(page.contains("/auth/sso/corp/start"));
    assert!(
        !page.contains("name=\"password\""),
        "no password form when it is off"
    );
}

#[tokio::test]
async fn sso_failures_lead_back_to_sign_in_with_a_reason() {
    let (_, store, _dir) = portal_with_user("kim", "a-long-password").await;
    let sso = server::auth::sso::config::parse(ONE_PROVIDER).unwrap();
    let app = portal_configured(store, ServeArgs::default(), Some(sso)).unwrap();
    let post = |path: &str| {
        Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("next=%2Fapps"))
            .unwrap()
    };
    let location = |response: axum::response::Response| {
        response.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_string()
    };
    // The provider is down (nothing listens on port 9).
    let response = app
        .clone()
        .oneshot(post("/auth/sso/corp/start"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location(response).starts_with("/sign-in?error=sso_failed&provider=Corp%20SSO"));
    let response = app
        .clone()
        .oneshot(post("/auth/sso/nobody/start"))
        .await
        .unwrap();
    assert!(location(response).starts_with("/sign-in?error=sso_unknown"));
    // A callback without this browser's flow cookie is a replay or a forgery.
    let response = get(&app, "/auth/sso/corp/callback?code=abc&state=xyz").await;
    assert!(location(response).starts_with("/sign-in?error=sso_expired"));
    // Starting a sign-in changes state: never over GET, never cross-origin.
    let response = get(&app, "/auth/sso/corp/start").await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let cross = Request::post("/auth/sso/corp/start")
        .header("sec-fetch-site", "cross-site")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(cross).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_audit_server_function_answers_with_no_filter_and_with_one() {
    let (app, _dir) = sqlite_portal().await;
    for body in [
        "",
        "filter[actor]=nobody",
        "filter[since]=2026-01-01&before=1000",
    ] {
        let response = app
            .clone()
            .oneshot(
                Request::post("/api/list_audit")
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header(header::ACCEPT, "application/json")
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{body}");
        let list: serde_json::Value = serde_json::from_str(&text(response).await).unwrap();
        assert!(list["items"].is_array(), "{body}: {list}");
    }
}

#[tokio::test]
async fn refusals_of_server_functions_are_client_errors_with_the_reason() {
    let (app, _dir) = sqlite_portal().await;
    let call = |endpoint: &str, body: &'static str| {
        Request::post(format!("/api/{endpoint}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    let response = app
        .clone()
        .oneshot(call("delete_user", "username=test-admin"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(text(response).await.contains("your own account"));
    let response = app
        .clone()
        .oneshot(call(
            "render_manifests",
            "text=jobs%3A+%7B%7D&app=Bad_Name&environment=dev",
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

/// The forges' push webhooks reach the portal without a session (they sign
/// their deliveries instead), through the cross-origin and sign-in guards.
#[tokio::test]
async fn push_webhooks_are_public_and_checked_by_their_signature() {
    use hmac::Mac as _;
    let (store, _dir) = support::sqlite().await;
    let keyring = Arc::new(
        server::crypto::Keyring::parse(&server::crypto::new_key_line("k1"), "test").unwrap(),
    );
    let id = uuid::Uuid::now_v7();
    let secret = "hook-secret";
    store
        .create_app(server::store::NewApp {
            id,
            name: "orders".into(),
            repository_url: "https://git.example.test/orders.git".into(),
            branch: "main".into(),
            poll_interval_seconds: 60,
            credentials: None,
            webhook_secret_sealed: keyring
                .seal(&server::apps::webhook_scope(id, 1), secret.as_bytes())
                .unwrap(),
            created_by: None,
            maintainers: Vec::new(),
            build: server::store::BuildMode::Portal,
            audit: None,
        })
        .await
        .unwrap();
    let args = ServeArgs::default();
    let app = router(
        AppState {
            leptos_options: leptos_options(&args),
            store: store.clone(),
            kubernetes: None,
            regions: Vec::new(),
            webhooks: Some(Arc::new(server::apps::webhooks::Webhooks {
                store: store.clone(),
                keyring,
                poller: None,
            })),
            apps: None,
            deploys: None,
            secrets: None,
        },
        &args,
        None,
    )
    .unwrap();
    let body = r#"{"ref":"refs/heads/main"}"#;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let signature: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let deliver = |path: &str, signature: &str, delivery: &str| {
        Request::post(path)
            .header("x-github-event", "push")
            .header("x-github-delivery", delivery)
            .header("x-hub-signature-256", format!("sha256={signature}"))
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    let accepted = app
        .clone()
        .oneshot(deliver("/hooks/apps/orders", &signature, "d-1"))
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let forged = app
        .clone()
        .oneshot(deliver("/hooks/apps/orders", &"0".repeat(64), "d-2"))
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let unknown = app
        .clone()
        .oneshot(deliver("/hooks/apps/nothing", &signature, "d-3"))
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(store.app(id).await.unwrap().last_webhook_at.is_some());
}
