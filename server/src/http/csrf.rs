//! Cross-site request forgery: state-changing requests from another origin
//! are refused, for forms, server functions and API routes alike (Leptos
//! server functions check nothing themselves).
//!
//! The rule is Go's CrossOriginProtection: safe methods pass; otherwise the
//! browser's `Sec-Fetch-Site` must say `same-origin` or `none`, or, for
//! browsers that do not send it, `Origin` must be this host. A request with
//! neither header does not come from a browser (curl, kubectl-like tools),
//! so no ambient cookie rides along and it passes.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn protect(request: Request, next: Next) -> Response {
    if is_cross_origin(request.method(), request.headers()) {
        tracing::warn!(method = %request.method(), uri = %request.uri(), "refused a cross-origin request");
        return (
            StatusCode::FORBIDDEN,
            "Cross-origin request refused: this action must come from the portal's own pages.",
        )
            .into_response();
    }
    next.run(request).await
}

fn is_cross_origin(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return false;
    }
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    match (text(header::ORIGIN.as_str()), text(header::HOST.as_str())) {
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            origin_host != host
        }
        (Some(_), None) => true,
        (None, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn the_rule() {
        let post = Method::POST;
        assert!(!is_cross_origin(
            &Method::GET,
            &headers(&[("sec-fetch-site", "cross-site")])
        ));
        assert!(!is_cross_origin(
            &post,
            &headers(&[("sec-fetch-site", "same-origin")])
        ));
        assert!(!is_cross_origin(
            &post,
            &headers(&[("sec-fetch-site", "none")])
        ));
        assert!(is_cross_origin(
            &post,
            &headers(&[("sec-fetch-site", "same-site")])
        ));
        assert!(is_cross_origin(
            &post,
            &headers(&[("sec-fetch-site", "cross-site")])
        ));
        assert!(!is_cross_origin(
            &post,
            &headers(&[
                ("origin", "http://localhost:3000"),
                ("host", "localhost:3000")
            ])
        ));
        assert!(is_cross_origin(
            &post,
            &headers(&[
                ("origin", "http://evil.example"),
                ("host", "localhost:3000")
            ])
        ));
        assert!(is_cross_origin(
            &post,
            &headers(&[("origin", "null"), ("host", "localhost:3000")])
        ));
        assert!(!is_cross_origin(&post, &headers(&[])));
        assert!(is_cross_origin(
            &Method::DELETE,
            &headers(&[("sec-fetch-site", "cross-site")])
        ));
    }
}
