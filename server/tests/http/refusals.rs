//! What is refused before any work: another origin, dot segments, no session, a server function's refusals as client errors.

use super::*;

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
        // Past the origin check: the function itself answers (the empty file deploys nothing).
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{allowed:?}");
        assert_eq!(
            text(response).await,
            "ServerError|no component of this file is deployed to `dev`",
            "{allowed:?}"
        );
    }
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
