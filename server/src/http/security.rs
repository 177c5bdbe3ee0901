//! Security headers on every response, including a Content-Security-Policy
//! with a fresh nonce per request that the hydration scripts carry.

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue, header},
    middleware::Next,
    response::Response,
};
use leptos::nonce::Nonce;
use leptos::prelude::{provide_context, use_context};

/// The nonce of the request being served, shared between the CSP header and the page.
#[derive(Clone, Debug)]
struct RequestNonce(String);

/// Adds the security headers, minting the nonce the page's scripts will carry.
pub async fn headers(mut request: Request, next: Next) -> Response {
    let nonce = Nonce::new().to_string();
    request.extensions_mut().insert(RequestNonce(nonce.clone()));
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Ok(policy) = HeaderValue::from_str(&content_security_policy(&nonce)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    for (name, value) in STATIC_HEADERS {
        headers.insert(name.clone(), HeaderValue::from_static(value));
    }
    response
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
/// page cannot be framed; forms post only here.
fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
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
