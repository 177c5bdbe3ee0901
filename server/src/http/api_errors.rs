//! A server function whose arguments cannot be read (a missing field, a
//! wrong type, invalid UTF-8, a body past the limit) is the caller's
//! mistake: 400 or 413 with the reason, not the 500 the server-function
//! layer answers with. The body keeps the `ServerError|message` form the
//! front end decodes, like every other refusal.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// More than any error message; a larger body is passed on untouched.
const MOST_READ: usize = 64 * 1024;

pub async fn arguments_are_the_callers(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MOST_READ).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServerError|the server failed",
        )
            .into_response();
    };
    match classify(&String::from_utf8_lossy(&bytes)) {
        Some((status, message)) => (status, format!("ServerError|{message}")).into_response(),
        None => Response::from_parts(parts, Body::from(bytes)),
    }
}

/// The status and the reason for an argument error, `None` for anything else.
fn classify(body: &str) -> Option<(StatusCode, String)> {
    let (kind, detail) = body.split_once('|')?;
    match kind {
        "Args" => Some((
            StatusCode::BAD_REQUEST,
            format!("the request's fields are not what this action takes: {detail}"),
        )),
        "Deserialization" if detail.contains("length limit exceeded") => Some((
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request is larger than this server accepts".to_string(),
        )),
        "Deserialization" => Some((
            StatusCode::BAD_REQUEST,
            format!("the request cannot be read: {detail}"),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_errors_are_the_callers_and_others_are_not() {
        assert_eq!(
            classify("Args|missing field `search`"),
            Some((
                StatusCode::BAD_REQUEST,
                "the request's fields are not what this action takes: missing field `search`"
                    .to_string()
            ))
        );
        assert_eq!(
            classify("Deserialization|length limit exceeded").map(|(status, _)| status),
            Some(StatusCode::PAYLOAD_TOO_LARGE)
        );
        assert_eq!(
            classify("Deserialization|invalid utf-8 sequence").map(|(status, _)| status),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(classify("ServerError|the store is down"), None);
        assert_eq!(classify("no kind at all"), None);
    }
}
