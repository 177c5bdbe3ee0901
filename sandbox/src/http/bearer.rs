//! The served API's one credential: a bearer token, as a kubeconfig's
//! `user.token` sends it (kubectl and kube-rs both do).

use std::sync::Arc;

use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::status::ApiError;

/// Lets through requests that carry `token`; the rest get 401.
pub async fn require(token: Arc<str>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(given) if same(given.as_bytes(), token.as_bytes()) => next.run(request).await,
        _ => ApiError::unauthorized().into_response(),
    }
}

/// Compares in time that does not depend on where the first difference is.
fn same(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |difference, (left, right)| difference | (left ^ right))
            == 0
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use axum::routing::get;
    use tower::ServiceExt;

    async fn status_with(authorization: Option<&str>) -> (StatusCode, String) {
        let token: Arc<str> = "the-token".into();
        let app = Router::new()
            .route("/api", get(|| async { "served" }))
            .layer(axum::middleware::from_fn(move |request, next| {
                super::require(token.clone(), request, next)
            }));
        let mut request = Request::get("/api");
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        let response = app
            .oneshot(request.body(Body::empty()).unwrap_or_default())
            .await
            .unwrap_or_else(|error| match error {});
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap_or_default();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn only_requests_with_the_token_are_served() {
        assert_eq!(
            status_with(Some("Bearer the-token")).await,
            (StatusCode::OK, "served".to_string())
        );
        for refused in [
            None,
            Some("Bearer other"),
            Some("Basic dGhlLXRva2Vu"),
            Some("the-token"),
        ] {
            let (status, body) = status_with(refused).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused:?}");
            assert!(body.contains(r#""reason":"Unauthorized""#), "{body}");
        }
    }

    #[test]
    fn only_the_same_bytes_are_the_same() {
        assert!(super::same(b"abc", b"abc"));
        assert!(!super::same(b"abd", b"abc"));
        assert!(!super::same(b"ab", b"abc"));
        assert!(!super::same(b"", b"abc"));
    }
}
