//! Password sign-in under abuse, through the whole router: guessers are
//! slowed, never given a way to lock the owner out; a parallel burst gets no
//! more tries than a sequence; behind a trusted proxy each visitor counts on
//! their own, and a forged `X-Forwarded-For` changes nothing; failed
//! sign-ins do not grow the audit log at the guesser's pace.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use server::cli::ServeArgs;
use server::store::{AuditQuery, Store};
use tower::ServiceExt;

mod support;

const PASSWORD: &str = "the-owners-long-password";

async fn portal(trusted_proxies: &str) -> (Router, Arc<dyn Store>, tempfile::TempDir) {
    let (store, dir) = support::sqlite().await;
    local_user(&store, "admin", app::roles::Role::Admin).await;
    (router_on(store.clone(), trusted_proxies), store, dir)
}

/// A local user whose password is [`PASSWORD`].
async fn local_user(store: &Arc<dyn Store>, username: &str, role: app::roles::Role) {
    server::auth::accounts::create_local_user(
        store.as_ref(),
        &server::audit::Actor::command_line(),
        server::auth::accounts::NewLocalUser {
            username: username.to_string(),
            display_name: None,
            email: None,
            role,
            password: Some(PASSWORD.to_string()),
        },
    )
    .await
    .unwrap();
}

fn router_on(store: Arc<dyn Store>, trusted_proxies: &str) -> Router {
    router_with(store, trusted_proxies, None)
}

fn router_with(store: Arc<dyn Store>, trusted_proxies: &str, public_url: Option<&str>) -> Router {
    let args = ServeArgs {
        public_url: public_url.map(str::to_string),
        trusted_proxies: trusted_proxies
            .split(',')
            .filter(|range| !range.is_empty())
            .map(|range| range.parse().unwrap())
            .collect(),
        ..ServeArgs::default()
    };
    support::router_on(store, &args)
}

/// A sign-in from `peer` (the socket's address), with `X-Forwarded-For`
/// when given.
fn sign_in(
    username: &str,
    password: &str,
    peer: &str,
    forwarded_for: Option<&str>,
) -> Request<Body> {
    let mut request = Request::post("/auth/sign-in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(forwarded_for) = forwarded_for {
        request = request.header("x-forwarded-for", forwarded_for);
    }
    let mut request = request
        .body(Body::from(format!(
            "username={username}&password={password}&next=%2F"
        )))
        .unwrap();
    let peer: SocketAddr = format!("{peer}:40000").parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

/// Where the sign-in sent the browser: `/` when signed in, else the
/// sign-in page with the reason.
async fn outcome(app: &Router, request: Request<Body>) -> String {
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[header::LOCATION].to_str().unwrap();
    if location == "/" {
        assert!(response.headers().get(header::SET_COOKIE).is_some());
        "signed in".to_string()
    } else if location.starts_with("/sign-in?error=invalid") {
        "invalid".to_string()
    } else if location.starts_with("/sign-in?error=throttled") {
        "throttled".to_string()
    } else {
        location.to_string()
    }
}

#[tokio::test]
async fn a_guesser_at_another_address_cannot_keep_the_owner_out() {
    let (app, _store, _dir) = portal("").await;
    let mut guesses = Vec::new();
    for _ in 0..12 {
        guesses.push(
            outcome(
                &app,
                sign_in("admin", "guess-guess-guess", "203.0.113.9", None),
            )
            .await,
        );
    }
    // Five guesses are checked; the rest wait (the first wait is a second).
    assert_eq!(
        guesses.iter().filter(|guess| *guess == "invalid").count(),
        5,
        "{guesses:?}"
    );
    assert!(
        guesses[5..].iter().all(|guess| guess == "throttled"),
        "{guesses:?}"
    );
    // The owner, elsewhere, signs in at once with the right password.
    assert_eq!(
        outcome(&app, sign_in("admin", PASSWORD, "198.51.100.7", None)).await,
        "signed in"
    );
}

#[tokio::test]
async fn a_parallel_burst_of_guesses_gets_five_tries_like_a_sequence() {
    let (app, _store, _dir) = portal("").await;
    let burst = (0..24).map(|_| {
        outcome(
            &app,
            sign_in("admin", "guess-guess-guess", "203.0.113.9", None),
        )
    });
    let outcomes = futures_util::future::join_all(burst).await;
    assert_eq!(
        outcomes
            .iter()
            .filter(|outcome| *outcome == "invalid")
            .count(),
        5,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes
            .iter()
            .filter(|outcome| *outcome == "throttled")
            .count(),
        19
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_visitor_is_throttled_on_their_own_and_audited_by_address() {
    let (app, store, _dir) = portal("127.0.0.1").await;
    for _ in 0..8 {
        outcome(
            &app,
            sign_in(
                "admin",
                "guess-guess-guess",
                "127.0.0.1",
                Some("203.0.113.9"),
            ),
        )
        .await;
    }
    assert_eq!(
        outcome(
            &app,
            sign_in(
                "admin",
                "guess-guess-guess",
                "127.0.0.1",
                Some("203.0.113.9")
            )
        )
        .await,
        "throttled"
    );
    // Another visitor through the same proxy is not held back.
    assert_eq!(
        outcome(
            &app,
            sign_in("admin", PASSWORD, "127.0.0.1", Some("198.51.100.7"))
        )
        .await,
        "signed in"
    );
    let signed_in = store
        .list_audit(&AuditQuery {
            action: Some("session.sign_in".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    let addresses: Vec<(String, Option<String>)> = signed_in
        .items
        .iter()
        .map(|event| {
            (
                event.outcome.as_str().to_string(),
                event.client_address.clone(),
            )
        })
        .collect();
    assert!(
        addresses.contains(&("success".into(), Some("198.51.100.7".into()))),
        "{addresses:?}"
    );
    assert!(
        addresses.contains(&("failure".into(), Some("203.0.113.9".into()))),
        "{addresses:?}"
    );
    assert!(
        !addresses
            .iter()
            .any(|(_, address)| address.as_deref() == Some("127.0.0.1"))
    );
}

#[tokio::test]
async fn without_a_trusted_proxy_a_forged_forwarded_for_does_not_escape_the_throttle() {
    let (app, _store, _dir) = portal("").await;
    for index in 0..5 {
        let forged = format!("192.0.2.{index}");
        assert_eq!(
            outcome(
                &app,
                sign_in("admin", "guess-guess-guess", "203.0.113.9", Some(&forged))
            )
            .await,
            "invalid"
        );
    }
    assert_eq!(
        outcome(
            &app,
            sign_in("admin", PASSWORD, "203.0.113.9", Some("192.0.2.200"))
        )
        .await,
        "throttled"
    );
}

#[tokio::test]
async fn repeated_failures_are_audited_at_the_first_and_each_doubling_with_the_count() {
    let (app, store, _dir) = portal("").await;
    for _ in 0..5 {
        assert_eq!(
            outcome(
                &app,
                sign_in("admin", "guess-guess-guess", "203.0.113.9", None)
            )
            .await,
            "invalid"
        );
    }
    let failures = store
        .list_audit(&AuditQuery {
            action: Some("session.sign_in".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut counts: Vec<u64> = failures
        .items
        .iter()
        .map(|event| event.details["failures_in_a_row"].as_u64().unwrap())
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, [1, 2, 4]);
}

/// The first admin's password went to the log: whoever signs in with it
/// chooses their own before anything else, and then goes on as usual.
#[tokio::test]
async fn the_first_admin_must_choose_their_own_password_before_anything_else() {
    let (store, _dir) = support::sqlite().await;
    let generated = server::auth::accounts::ensure_first_admin(store.as_ref())
        .await
        .unwrap()
        .unwrap();
    let app = router_on(store.clone(), "");
    let response = app
        .clone()
        .oneshot(sign_in("admin", &generated, "192.0.2.1", None))
        .await
        .unwrap();
    assert_eq!(
        response.headers()[header::LOCATION],
        "/account?must_change=1"
    );
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let send = |method: &str, path: &str, body: &str| {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    // Every page leads to the account page; everything else is refused.
    for page in ["/", "/admin/users", "/databases"] {
        let response = app.clone().oneshot(send("GET", page, "")).await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{page}");
        assert_eq!(
            response.headers()[header::LOCATION],
            "/account?must_change=1"
        );
    }
    let refused = app
        .clone()
        .oneshot(send("POST", "/api/list_users", "search=&page=1"))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let account = app
        .clone()
        .oneshot(send("GET", "/account?must_change=1", ""))
        .await
        .unwrap();
    assert_eq!(account.status(), StatusCode::OK);
    let page = String::from_utf8(
        axum::body::to_bytes(account.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(page.contains("Choose your own below to go on"), "{page}");

    let changed = app
        .clone()
        .oneshot(send(
            "POST",
            "/api/change_my_password",
            &format!(
                "current_password={generated}&new_password=my-own-long-password&repeat_password=my-own-long-password"
            ),
        ))
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let users = app
        .clone()
        .oneshot(send("GET", "/admin/users", ""))
        .await
        .unwrap();
    assert_eq!(users.status(), StatusCode::OK);
    assert!(
        !store
            .user_by_username("admin")
            .await
            .unwrap()
            .must_change_password
    );
}

/// Behind https (the configured public URL says so, not a header), the
/// session cookie is `__Host-` and Secure, browsers get HSTS, and a plain
/// `dscloud_session` cookie (another subdomain could plant one) is not a
/// session.
#[tokio::test]
async fn over_https_the_session_cookie_is_host_prefixed_and_secure() {
    let (store, _dir) = support::sqlite().await;
    local_user(&store, "kim", app::roles::Role::Developer).await;
    let app = router_with(store, "", Some("https://portal.example.com"));
    let response = app
        .clone()
        .oneshot(sign_in("kim", PASSWORD, "192.0.2.1", None))
        .await
        .unwrap();
    let set_cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        set_cookie.starts_with("__Host-dscloud_session="),
        "{set_cookie}"
    );
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
    assert!(
        set_cookie.contains("Path=/;") && !set_cookie.contains("Domain"),
        "{set_cookie}"
    );
    assert_eq!(
        response.headers()[header::STRICT_TRANSPORT_SECURITY],
        "max-age=31536000"
    );
    let token = set_cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("__Host-dscloud_session=")
        .to_string();
    let page = |cookie: String| {
        Request::get("/apps/validate")
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap()
    };
    let signed_in = app
        .clone()
        .oneshot(page(format!("__Host-dscloud_session={token}")))
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    let planted = app
        .oneshot(page(format!("dscloud_session={token}")))
        .await
        .unwrap();
    assert_eq!(
        planted.status(),
        StatusCode::SEE_OTHER,
        "not a session over https"
    );
}
