//! The one guard every request passes (`require_sign_in`): pages and
//! server functions by `app::access`, everything unlisted denied; paths a
//! router would normalise into another page refused; a generated password
//! replaced before anything else.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::sign_in::SignedIn;
use crate::web::urlencode;

/// Paths outside the page and server-function tables that anyone may reach:
/// signing in itself, health, the front end's static files, the editor
/// schema, the theme switch's form, and the forges' push webhooks (each checks its own signature).
/// Each public route exactly: a path merely under one of their prefixes
/// (`/schema/other`, `/auth/anything`) is an unknown page, decided as one.
pub(super) fn is_public(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    matches!(
        path,
        "/healthz"
            | "/readyz"
            | "/metrics"
            | "/favicon.ico"
            | "/schema/dscloud.json"
            | "/auth/sign-in"
            | "/auth/sign-out"
            | "/theme"
    ) || path.starts_with("/pkg/")
        || matches!(
            segments.as_slice(),
            ["auth", "sso", provider, "start" | "callback"] if !provider.is_empty()
        )
        || matches!(segments.as_slice(), ["hooks", "apps", app] if !app.is_empty())
}

/// Whether no segment of `path` is `.` or `..` (also percent-encoded) and
/// none holds an encoded `/` or a `\\` (also encoded).
fn is_normal_path(path: &str) -> bool {
    path.split('/').all(|segment| {
        let lower = segment.to_ascii_lowercase();
        let decoded_dots = lower.replace("%2e", ".");
        !matches!(decoded_dots.as_str(), "." | "..")
            && !lower.contains("%2f")
            && !lower.contains("%5c")
            && !segment.contains('\\')
    })
}

/// The one guard every request passes: pages and server functions by
/// `app::access`, everything unlisted denied. Anonymous page visits go to
/// sign-in (and back afterwards); other refusals are 401 or 403.
pub async fn require_sign_in(request: Request, next: axum::middleware::Next) -> Response {
    let path = request.uri().path().to_string();
    // Decisions are on the path as sent; one that a router or a browser
    // would normalise into another page is refused, never reinterpreted.
    if !is_normal_path(&path) {
        return (
            StatusCode::BAD_REQUEST,
            "The address holds dot segments (. or ..), an encoded slash or a backslash: ask for the page by its own address.",
        )
            .into_response();
    }
    if is_public(&path) {
        return next.run(request).await;
    }
    let signed_in = request.extensions().get::<SignedIn>();
    if signed_in.is_some_and(|signed_in| signed_in.user.must_change_password)
        && !ALLOWED_BEFORE_A_PASSWORD_CHANGE.contains(&path.as_str())
    {
        return password_change_first(&request, &path);
    }
    let role = signed_in.map(|signed_in| signed_in.user.role);
    let access = match path.strip_prefix("/api/") {
        Some(endpoint) => app::access::server_function(endpoint),
        // Unknown page paths render the 404 page, for signed-in users only.
        None => Some(app::access::page(&path).unwrap_or(app::access::Access::SignedIn)),
    };
    match access {
        Some(access) if access.allows(role) => next.run(request).await,
        _ if role.is_none()
            && request.method() == axum::http::Method::GET
            && !path.starts_with("/api/") =>
        {
            let wanted = request
                .uri()
                .path_and_query()
                .map_or("/", |target| target.as_str());
            Redirect::to(&format!("/sign-in?next={}", urlencode(wanted))).into_response()
        }
        _ if role.is_none() => (
            StatusCode::UNAUTHORIZED,
            "Sign in first: this needs a session.",
        )
            .into_response(),
        _ => {
            let theme = request
                .headers()
                .get(axum::http::header::COOKIE)
                .and_then(|value| value.to_str().ok())
                .map_or_else(
                    app::theme::Theme::default,
                    app::theme::Theme::from_cookie_header,
                );
            (
                StatusCode::FORBIDDEN,
                axum::response::Html(forbidden_page(theme)),
            )
                .into_response()
        }
    }
}

/// What someone whose password was generated (and seen by another) may
/// reach before choosing their own: the account page and what it calls.
const ALLOWED_BEFORE_A_PASSWORD_CHANGE: &[&str] =
    &["/account", "/api/my_account", "/api/change_my_password"];

/// Pages lead to the account page; anything else is refused with the reason.
fn password_change_first(request: &Request, path: &str) -> Response {
    if request.method() == axum::http::Method::GET && !path.starts_with("/api/") {
        return Redirect::to(MUST_CHANGE_PAGE).into_response();
    }
    (
        StatusCode::FORBIDDEN,
        "Choose your own password first, on your account page: the one you signed in with was generated.",
    )
        .into_response()
}

pub(super) const MUST_CHANGE_PAGE: &str = "/account?must_change=1";

/// The 403 page: the portal's stylesheet and theme, plain HTML (no page of
/// the app is rendered for a path the role may not open).
fn forbidden_page(theme: app::theme::Theme) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\" data-theme=\"{theme}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>Not allowed · DSCloud Portal</title>\
         <link rel=\"stylesheet\" href=\"{css}\"></head><body>\
         <header class=\"site-header\"><div class=\"header-inner\"><a class=\"brand\" href=\"/\">\
         <span class=\"brand-mark\" aria-hidden=\"true\"></span><span class=\"brand-name\">DSCloud Portal</span></a></div></header>\
         <main id=\"main\" class=\"site-main\"><section class=\"panel\"><p class=\"badge badge-muted\">403</p>\
         <h1>Not allowed</h1><p class=\"lede\">Your role does not give access to this page. Ask an admin if you need it.</p>\
         <p><a href=\"/\">Go to the overview</a></p></section></main></body></html>",
        theme = theme.as_str(),
        css = crate::http::assets::stylesheet_href(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_health_auth_and_static_files_bypass_the_access_table() {
        // The sign-in page itself is a page: the table makes it public.
        for path in [
            "/auth/sign-in",
            "/healthz",
            "/readyz",
            "/metrics",
            "/pkg/dscloud-portal.wasm",
            "/schema/dscloud.json",
            "/theme",
        ] {
            assert!(is_public(path), "{path}");
        }
        for path in [
            "/",
            "/apps/validate",
            "/api/render_manifests",
            "/sign-in",
            "/admin/users",
            "/theme/other",
        ] {
            assert!(!is_public(path), "{path}");
        }
    }
}
