//! Every page and every server function against every kind of visitor:
//! anonymous, customer, developer, admin. The lists come from the code (the
//! router's routes and the registered server functions), so a new page or
//! server function without a decision in `app::access` fails here.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeSet;

use app::access::{self, Access};
use app::roles::Role;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

mod support;

use support::visitors::{Visitor, portal};

/// The router's pages, and the plain routes guarded like pages (downloads).
fn page_paths() -> BTreeSet<String> {
    server::http::route_list()
        .iter()
        .map(|route| route.path().to_string())
        .chain(
            server::http::GUARDED_ROUTES
                .iter()
                .map(|path| path.to_string()),
        )
        .collect()
}

fn server_function_endpoints() -> BTreeSet<String> {
    leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.trim_start_matches("/api/").to_string())
        .collect()
}

#[test]
fn every_page_and_server_function_has_a_decision() {
    let pages = page_paths();
    let decided: BTreeSet<String> = access::PAGES
        .iter()
        .map(|(path, _)| path.to_string())
        .collect();
    assert_eq!(
        pages, decided,
        "app::access::PAGES must list exactly the router's pages"
    );
    let functions = server_function_endpoints();
    let decided: BTreeSet<String> = access::SERVER_FUNCTIONS
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    assert_eq!(
        functions, decided,
        "app::access::SERVER_FUNCTIONS must list exactly the registered server functions"
    );
}

async fn send(
    app: &Router,
    request: axum::http::request::Builder,
    visitor: &Visitor,
    body: Body,
) -> StatusCode {
    let request = match &visitor.cookie {
        Some(cookie) => request.header(header::COOKIE, cookie),
        None => request,
    };
    app.clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn every_page_answers_each_visitor_as_the_table_says() {
    let (app, visitors, _dir) = portal().await;
    for (path, access) in access::PAGES {
        for visitor in &visitors {
            // A route with a parameter is asked for a database that does
            // not exist: past the guard, 404 (or 200 when the page's head
            // was streamed before the lookup finished).
            let concrete = path.replace("{id}", "0192f000-0000-7000-8000-000000000000");
            let status = send(&app, Request::get(&concrete), visitor, Body::empty()).await;
            let expected = expectation(*access, visitor.role, StatusCode::SEE_OTHER);
            if expected == StatusCode::OK && path.contains('{') {
                assert!(
                    status == StatusCode::OK || status == StatusCode::NOT_FOUND,
                    "{path} for {:?}: {status}",
                    visitor.role
                );
                continue;
            }
            assert_eq!(status, expected, "{path} for {:?}", visitor.role);
        }
    }
}

#[tokio::test]
async fn every_server_function_answers_each_visitor_as_the_table_says() {
    let (app, visitors, _dir) = portal().await;
    for (endpoint, access) in access::SERVER_FUNCTIONS {
        for visitor in &visitors {
            let request = Request::post(format!("/api/{endpoint}"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            let status = send(&app, request, visitor, Body::from("")).await;
            if access.allows(visitor.role) {
                // Allowed through the guard: a real answer from the function
                // (an empty form is bad input, 400), not a refusal and not
                // a server error; 503 only where the test portal has no
                // such service (apps, deploys, secrets).
                assert!(
                    status != StatusCode::UNAUTHORIZED
                        && status != StatusCode::FORBIDDEN
                        && status != StatusCode::INTERNAL_SERVER_ERROR,
                    "{endpoint} for {:?}: {status}",
                    visitor.role
                );
            } else {
                let expected = expectation(*access, visitor.role, StatusCode::UNAUTHORIZED);
                assert_eq!(status, expected, "{endpoint} for {:?}", visitor.role);
            }
        }
    }
}

/// `/pkg/../admin/users` and its encodings would be normalised into the
/// page by a router or a browser: refused before any decision, for every
/// page and every visitor.
#[tokio::test]
async fn no_page_is_reached_through_dot_segments() {
    let (app, visitors, _dir) = portal().await;
    for (path, _) in access::PAGES {
        let tail = path
            .replace("{id}", "0192f000-0000-7000-8000-000000000000")
            .replace("{name}", "shop")
            .replace("{sha}", "0123abc");
        let tail = tail.trim_start_matches('/');
        let tricks = [
            format!("/pkg/../{tail}"),
            format!("/databases/../{tail}"),
            format!("/pkg/%2e%2e/{tail}"),
            format!("/schema/%2E./{tail}"),
            format!("/auth/./../{tail}"),
            format!("/hooks/apps/x/..%2f..%2f{tail}"),
        ];
        for trick in tricks {
            for visitor in &visitors {
                let status = send(&app, Request::get(&trick), visitor, Body::empty()).await;
                assert_eq!(
                    status,
                    StatusCode::BAD_REQUEST,
                    "{trick} for {:?}",
                    visitor.role
                );
            }
        }
    }
}

/// The public prefixes open their own routes only: anything else under
/// them is an unknown page, which an anonymous visitor cannot see.
#[tokio::test]
async fn public_prefixes_open_their_own_routes_only() {
    let (app, visitors, _dir) = portal().await;
    let anonymous = &visitors[0];
    assert!(anonymous.role.is_none());
    for path in [
        "/schema/other.json",
        "/auth/whatever",
        "/auth/sso/corp/elsewhere",
        "/hooks/apps/shop/extra",
        "/hooks/apps/",
    ] {
        let status = send(&app, Request::get(path), anonymous, Body::empty()).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
    }
    // Their real routes stay open.
    let schema = send(
        &app,
        Request::get("/schema/dscloud.json"),
        anonymous,
        Body::empty(),
    )
    .await;
    assert_eq!(schema, StatusCode::OK);
}

/// Searches are capped: a 201-character search is refused with the reason
/// (400), never run; 200 still is.
#[tokio::test]
async fn an_overlong_search_is_refused_with_the_reason() {
    let (app, visitors, _dir) = portal().await;
    let long = "a".repeat(app::caller::MAX_SEARCH_LENGTH + 1);
    let fine = "a".repeat(app::caller::MAX_SEARCH_LENGTH);
    for (endpoint, role, form) in [
        ("list_users", Role::Admin, "search={}&page=1"),
        ("list_databases", Role::Customer, "search={}&status=&page=1"),
        ("list_audit", Role::Admin, "filter[actor]={}"),
    ] {
        let post = || {
            Request::post(format!("/api/{endpoint}"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        };
        let cookie = cookie_of(&visitors, role);
        let (status, body) =
            answer(&app, post(), &cookie, Body::from(form.replace("{}", &long))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{endpoint}: {body}");
        assert!(
            body.contains("at most 200 are searched"),
            "{endpoint}: {body}"
        );
        let (status, body) =
            answer(&app, post(), &cookie, Body::from(form.replace("{}", &fine))).await;
        assert!(
            status != StatusCode::BAD_REQUEST,
            "{endpoint}: {status} {body}"
        );
    }
}

#[tokio::test]
async fn an_unlisted_server_function_is_refused_to_everyone() {
    let (app, visitors, _dir) = portal().await;
    for visitor in &visitors {
        let status = send(
            &app,
            Request::post("/api/not_in_the_table"),
            visitor,
            Body::empty(),
        )
        .await;
        let expected = if visitor.role.is_some() {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(status, expected, "{:?}", visitor.role);
    }
}

/// Allowed pages answer 200; anonymous visitors are sent to sign in (pages)
/// or refused with 401; signed-in visitors without the role get 403.
fn expectation(access: Access, role: Option<Role>, anonymous: StatusCode) -> StatusCode {
    if access.allows(role) {
        StatusCode::OK
    } else if role.is_none() {
        anonymous
    } else {
        StatusCode::FORBIDDEN
    }
}

async fn answer(
    app: &Router,
    request: axum::http::request::Builder,
    cookie: &str,
    body: Body,
) -> (StatusCode, String) {
    let response = app
        .clone()
        .oneshot(request.header(header::COOKIE, cookie).body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 10 * 1024 * 1024)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn cookie_of(visitors: &[Visitor], role: Role) -> String {
    visitors
        .iter()
        .find(|visitor| visitor.role == Some(role))
        .and_then(|visitor| visitor.cookie.clone())
        .unwrap()
}

#[tokio::test]
async fn the_forbidden_page_has_the_portals_style_and_theme() {
    let (app, visitors, _dir) = portal().await;
    let cookie = format!("{}; theme=dark", cookie_of(&visitors, Role::Customer));
    let (status, html) = answer(&app, Request::get("/admin/users"), &cookie, Body::empty()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("<h1>Not allowed</h1>"), "{html}");
    // This build names the stylesheet plainly; a release build adds its hash.
    assert!(
        html.contains(r#"rel="stylesheet" href="/pkg/dscloud-portal.css""#),
        "{html}"
    );
    assert!(html.contains(r#"data-theme="dark""#), "{html}");
    assert!(html.contains(r#"class="site-main""#), "{html}");
}

#[tokio::test]
async fn a_mismatched_new_password_is_refused_as_bad_input_not_a_server_error() {
    let (app, visitors, _dir) = portal().await;
    let (status, body) = answer(
        &app,
        Request::post("/api/change_my_password")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
        &cookie_of(&visitors, Role::Customer),
        Body::from("current_password=old&new_password=aaaaaaaaaaaaa&repeat_password=bbbbbbbbbbbbb"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("differ"), "{body}");
}

#[tokio::test]
async fn the_checker_takes_a_large_file_by_post_and_keeps_it_out_of_the_url() {
    let (app, visitors, _dir) = portal().await;
    // ~100 KB: far past the ~64 KB a URL may carry.
    let mut file = String::from("jobs:\n  Bad_Name: {environmentConfiguration: {dev: {}}}\n");
    while file.len() < 100_000 {
        file.push_str("# a comment that makes the file long enough to break a GET\n");
    }
    let form = format!("app=shop&text={}", server::web::urlencode(&file));
    let post = || {
        Request::post("/apps/validate")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
    };
    let (status, html) = answer(
        &app,
        post(),
        &cookie_of(&visitors, Role::Developer),
        Body::from(form.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("1 error"),
        "{}",
        &html[..2000.min(html.len())]
    );
    assert!(html.contains("Line 2, column 3"));
    assert!(html.contains("try <code>bad-name</code>"));
    // The form posts, so a reload or a shared link never carries the file.
    assert!(html.contains(r#"method="post" action="/apps/validate""#));
    // The page's role rule holds for the post too.
    let (status, _) = answer(
        &app,
        post(),
        &cookie_of(&visitors, Role::Customer),
        Body::from(form),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
