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
    #[test]
    fn only_the_same_bytes_are_the_same() {
        assert!(super::same(b"abc", b"abc"));
        assert!(!super::same(b"abd", b"abc"));
        assert!(!super::same(b"ab", b"abc"));
        assert!(!super::same(b"", b"abc"));
    }
}
