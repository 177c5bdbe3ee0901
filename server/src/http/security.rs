//! Security headers on every response, including a Content-Security-Policy
//! with a fresh nonce per request that the hydration scripts carry.

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue, header},
    middleware::Next,
    response::Response,
};
use std::sync::Arc;

use leptos::nonce::Nonce;
use leptos::prelude::{provide_context, use_context};

/// The nonce of the request being served, shared between the CSP header and the page.
#[derive(Clone, Debug)]
struct RequestNonce(String);

/// Adds the security headers, minting the nonce the page's scripts will carry.
/// `form_targets` are the single-sign-on providers' origins: the sign-in
/// buttons post here and are redirected there, and browsers apply
/// `form-action` to that redirect too.
pub async fn headers(
    form_targets: Arc<str>,
    https: bool,
    mut request: Request,
    next: Next,
) -> Response {
    let nonce = Nonce::new().to_string();
    request.extensions_mut().insert(RequestNonce(nonce.clone()));
    let shared_asset = is_shared_asset(request.uri().path());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // Pages and answers are someone's own (their databases, their users'
    // list): no cache, shared or the browser's, keeps them. Static files
    // and the schema are the same for everyone.
    if !shared_asset && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Ok(policy) = HeaderValue::from_str(&content_security_policy(&nonce, &form_targets)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    for (name, value) in STATIC_HEADERS {
        headers.insert(name.clone(), HeaderValue::from_static(value));
    }
    response
}

/// The front end's files and the editor schema: the same for everyone.
fn is_shared_asset(path: &str) -> bool {
    path.starts_with("/pkg/") || path == "/schema/dscloud.json" || path == "/favicon.ico"
}

/// Makes the page render with the nonce the CSP header names. Called while
/// Leptos renders, where the request's parts are in context.
pub fn provide_request_nonce() {
    let nonce = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<RequestNonce>().cloned());
    if let Some(RequestNonce(value)) = nonce {
        provide_context(Nonce::from_value(value));
    }
}

/// Scripts run only from this origin or with the nonce; WASM may compile; the
/// page cannot be framed; forms post only here (and on to the sign-in providers).
fn content_security_policy(nonce: &str, form_targets: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'{form_targets}; frame-ancestors 'none'"
    )
}

/// The ` origin origin…` list for `form-action`, from providers' issuer URLs.
pub fn form_targets<'a>(issuers: impl IntoIterator<Item = &'a str>) -> Arc<str> {
    let mut origins: Vec<String> = issuers
        .into_iter()
        .filter_map(|issuer| {
            let (scheme, rest) = issuer.split_once("://")?;
            let host = rest.split('/').next()?;
            // Only characters a CSP source may hold: a hostile value cannot add directives.
            let clean = host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
            (clean && !host.is_empty()).then(|| format!("{scheme}://{host}"))
        })
        .collect();
    origins.sort();
    origins.dedup();
    origins
        .iter()
        .map(|origin| format!(" {origin}"))
        .collect::<String>()
        .into()
}

const STATIC_HEADERS: [(HeaderName, &str); 5] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), payment=()",
    ),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_may_go_on_to_the_providers_origins_only() {
        let targets = form_targets([
            "https://sso.example.com/realms/corp",
            "http://127.0.0.1:9400",
            "https://sso.example.com/realms/other",
            "https://evil; script-src *",
        ]);
        assert_eq!(&*targets, " http://127.0.0.1:9400 https://sso.example.com");
        let policy = content_security_policy("n", &targets);
        assert!(
            policy.contains("form-action 'self' http://127.0.0.1:9400 https://sso.example.com;")
        );
        assert!(content_security_policy("n", "").contains("form-action 'self';"));
    }
}
