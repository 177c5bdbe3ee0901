//! Local sign-in through the router: the cookie, throttling, where `next` may lead, odd usernames; sign-in with local accounts off; SSO failures.

use super::*;

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

fn portal_configured(
    store: Arc<dyn Store>,
    args: ServeArgs,
    sso: Option<server::auth::sso::SsoConfig>,
) -> Result<Router, String> {
    router(support::app_state(store, &args), &args, sso)
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
