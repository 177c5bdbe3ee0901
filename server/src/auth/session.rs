//! Session tokens and their cookie (OWASP ASVS 5.0, chapter 7): 256 random
//! bits, stored only as their SHA-256, HttpOnly, SameSite=Lax (Strict would
//! drop the cookie on the identity provider's redirect back), Secure when
//! served over https; an idle timeout and an absolute lifetime.

use std::time::Duration;

use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::store::SessionRecord;

pub const COOKIE: &str = "dscloud_session";

/// A new token: what the browser keeps. The store keeps [`token_hash`] of it.
pub fn new_token() -> String {
    crate::random::token()
}

/// What the store keys sessions by: a leaked database reveals no usable token.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The `Set-Cookie` value that hands a token to the browser.
pub fn cookie(token: &str, lifetime: Duration, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        lifetime.as_secs()
    )
}

/// The `Set-Cookie` value that makes the browser forget the token.
pub fn expired_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}

/// The session token a request carries, if any.
pub fn token_from(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, COOKIE)
}

/// The value of one cookie, if the request carries it and it is not empty.
pub fn cookie_value(headers: &HeaderMap, cookie: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == cookie && !value.is_empty())
        .map(|(_, value)| value.to_string())
}

/// How long sessions live.
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    /// Ends a session nobody used for this long.
    pub idle: Duration,
    /// Ends every session this long after sign-in, used or not.
    pub absolute: Duration,
}

impl Default for Lifetimes {
    /// OWASP's ranges for a low-risk internal application.
    fn default() -> Self {
        Lifetimes {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(8 * 60 * 60),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Validity {
    Valid,
    /// Unused for longer than the idle timeout.
    Idle,
    /// Past its absolute lifetime.
    Expired,
}

/// Whether a stored session still stands at `now`.
pub fn validity(session: &SessionRecord, now: DateTime<Utc>, lifetimes: Lifetimes) -> Validity {
    let absolute = chrono::Duration::from_std(lifetimes.absolute).unwrap_or(chrono::Duration::MAX);
    let idle = chrono::Duration::from_std(lifetimes.idle).unwrap_or(chrono::Duration::MAX);
    if now >= session.expires_at || now - session.created_at >= absolute {
        Validity::Expired
    } else if now - session.last_seen_at >= idle {
        Validity::Idle
    } else {
        Validity::Valid
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn tokens_are_long_random_and_stored_only_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        let hash = token_hash(&a);
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(&a));
        assert_eq!(hash, token_hash(&a));
    }

    #[test]
    fn the_cookie_has_the_right_flags() {
        let plain = cookie("t", Duration::from_secs(60), false);
        assert_eq!(
            plain,
            "dscloud_session=t; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"
        );
        assert!(cookie("t", Duration::from_secs(60), true).ends_with("; Secure"));
        assert!(expired_cookie(false).contains("Max-Age=0"));
    }

    #[test]
    fn the_token_is_found_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; dscloud_session=abc; x=y"),
        );
        assert_eq!(token_from(&headers).as_deref(), Some("abc"));
        headers.insert(header::COOKIE, HeaderValue::from_static("dscloud_session="));
        assert_eq!(token_from(&headers), None);
    }

    #[test]
    fn idle_and_absolute_limits() {
        let signed_in = Utc::now();
        let session = |last_seen: DateTime<Utc>| SessionRecord {
            token_hash: String::new(),
            user_id: uuid::Uuid::nil(),
            created_at: signed_in,
            last_seen_at: last_seen,
            expires_at: signed_in + chrono::Duration::hours(8),
            client_address: None,
            user_agent: None,
        };
        let lifetimes = Lifetimes::default();
        let minutes = chrono::Duration::minutes;
        assert_eq!(
            validity(&session(signed_in), signed_in + minutes(10), lifetimes),
            Validity::Valid
        );
        assert_eq!(
            validity(&session(signed_in), signed_in + minutes(31), lifetimes),
            Validity::Idle
        );
        // Used a minute ago, but signed in more than eight hours ago.
        let late = signed_in + minutes(8 * 60 + 1);
        assert_eq!(
            validity(&session(late - minutes(1)), late, lifetimes),
            Validity::Expired
        );
    }
}
