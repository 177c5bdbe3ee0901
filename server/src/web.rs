//! Small helpers over HTTP requests and responses that several routes use:
//! who is asking, whether over https, cookies, URL encoding.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, header};
use axum::response::Response;

pub fn client_address(request: &Request) -> String {
    address_of(request.extensions()).unwrap_or_else(|| "unknown".to_string())
}

/// The client's address: behind a trusted proxy the one it forwarded
/// (`http::client`), else the socket's.
pub fn address_of(extensions: &axum::http::Extensions) -> Option<String> {
    extensions
        .get::<crate::http::client::ClientAddress>()
        .map(|client| client.0.to_string())
        .or_else(|| {
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip().to_string())
        })
}

/// Only paths of this site: never `//evil.example` or an absolute URL.
pub fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
