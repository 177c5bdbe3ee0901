//! The theme switch's plain form (`POST /theme`) and the sign-in page that
//! relies on it: that page loads no front end, so its switch must work
//! through the server.

use super::*;

fn theme_post(body: &str, site: &'static str) -> Request<Body> {
    Request::post("/theme")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("sec-fetch-site", site)
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn the_switch_remembers_the_theme_and_goes_back_to_the_page_even_signed_out() {
    let (store, _dir) = support::sqlite().await;
    let app = anonymous_portal(store);
    let response = app
        .oneshot(theme_post(
            "theme=dark&back=%2Fsign-in%3Fnext%3D%2Fdatabases",
            "same-origin",
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[header::LOCATION],
        "/sign-in?next=/databases"
    );
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("theme=dark;"), "{cookie}");
    assert!(cookie.contains("Max-Age=31536000"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
}

#[tokio::test]
async fn the_switch_never_sends_anyone_to_another_site() {
    let (app, _dir) = sqlite_portal().await;
    for back in ["%2F%2Fevil.example%2F", "https%3A%2F%2Fevil.example", ""] {
        let body = format!("theme=light&back={back}");
        let response = app
            .clone()
            .oneshot(theme_post(&body, "same-origin"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{back}");
        assert_eq!(response.headers()[header::LOCATION], "/", "{back}");
    }
}

#[tokio::test]
async fn an_unknown_theme_or_a_form_without_one_is_refused_and_sets_nothing() {
    let (app, _dir) = sqlite_portal().await;
    let unknown = app
        .clone()
        .oneshot(theme_post("theme=purple&back=%2F", "same-origin"))
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert!(!unknown.headers().contains_key(header::SET_COOKIE));
    assert!(text(unknown).await.contains("no theme called \"purple\""));

    let missing = app
        .oneshot(theme_post("back=%2F", "same-origin"))
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert!(!missing.headers().contains_key(header::SET_COOKIE));
}

#[tokio::test]
async fn another_site_cannot_switch_the_theme() {
    let (app, _dir) = sqlite_portal().await;
    let response = app
        .oneshot(theme_post("theme=dark&back=%2F", "cross-site"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(!response.headers().contains_key(header::SET_COOKIE));
}

#[tokio::test]
async fn the_sign_in_page_asks_for_no_front_end_and_other_pages_do() {
    let (store, _dir) = support::sqlite().await;
    let sign_in = text(get(&anonymous_portal(store), "/sign-in").await).await;
    assert!(sign_in.contains("Sign in"));
    assert!(!sign_in.contains(".wasm"), "{sign_in}");
    assert!(!sign_in.contains("modulepreload"), "{sign_in}");
    // Its switch is a form that works without the front end.
    assert!(sign_in.contains(r#"action="/theme""#), "{sign_in}");
    assert!(
        sign_in.contains(r#"name="back" value="/sign-in""#),
        "{sign_in}"
    );

    let (app, _dir) = sqlite_portal().await;
    let home = text(get(&app, "/").await).await;
    assert!(home.contains(".wasm"));
    assert!(home.contains("modulepreload"));
}
