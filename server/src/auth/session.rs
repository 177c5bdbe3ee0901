//! Session tokens and their cookie (OWASP ASVS 5.0, chapter 7): 256 random
//! bits, stored only as their SHA-256, HttpOnly, SameSite=Lax (Strict would
//! drop the cookie on the identity provider's redirect back); when the
//! portal's public URL is https, Secure and named with the `__Host-` prefix;
//! an idle timeout and an absolute lifetime.

use std::time::Duration;

use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::store::SessionRecord;

pub const COOKIE: &str = "dscloud_session";
/// The name over https. Browsers take a `__Host-` cookie only with Secure,
/// `Path=/` and no Domain, so a neighbouring subdomain cannot plant one.
pub const HTTPS_COOKIE: &str = "__Host-dscloud_session";

/// The session cookie as this portal serves it: decided by its configured
/// public URL (`--public-url`), never by a header a client or a proxy sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionCookie {
    pub https: bool,
}

impl SessionCookie {
    pub fn for_public_url(url: &str) -> SessionCookie {
        SessionCookie {
            https: url.starts_with("https://"),
        }
    }

    pub fn name(self) -> &'static str {
        if self.https { HTTPS_COOKIE } else { COOKIE }
    }

    fn attributes(self) -> &'static str {
        if self.https {
            "Path=/; HttpOnly; SameSite=Lax; Secure"
        } else {
            "Path=/; HttpOnly; SameSite=Lax"
        }
    }

    /// The `Set-Cookie` value that hands a token to the browser.
    pub fn set(self, token: &str, lifetime: Duration) -> String {
        format!(
            "{}={token}; {}; Max-Age={}",
            self.name(),
            self.attributes(),
            lifetime.as_secs()
        )
    }

    /// The `Set-Cookie` value that makes the browser forget the token.
    pub fn expire(self) -> String {
        format!("{}=; {}; Max-Age=0", self.name(), self.attributes())
    }

    /// The session token a request carries under this cookie's name only.
    pub fn token(self, headers: &HeaderMap) -> Option<String> {
        cookie_value(headers, self.name())
    }
}

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
    /// Ends a single-sign-on session this long after its groups were read
    /// (if sooner than `absolute`): the next sign-in reads them again, so
    /// a role the provider took away is gone within this time.
    pub sso_groups: Duration,
}

impl Lifetimes {
    /// How long a single-sign-on session lives.
    pub fn sso_session(&self) -> Duration {
        self.absolute.min(self.sso_groups)
    }
}

impl Default for Lifetimes {
    /// OWASP's ranges for a low-risk internal application.
    fn default() -> Self {
        Lifetimes {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(8 * 60 * 60),
            sso_groups: Duration::from_secs(8 * 60 * 60),
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
        let plain = SessionCookie::for_public_url("http://127.0.0.1:3000");
        assert_eq!(
            plain.set("t", Duration::from_secs(60)),
            "dscloud_session=t; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"
        );
        assert!(plain.expire().ends_with("Max-Age=0"));
        let https = SessionCookie::for_public_url("https://portal.example.com");
        assert_eq!(
            https.set("t", Duration::from_secs(60)),
            "__Host-dscloud_session=t; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=60"
        );
        assert_eq!(
            https.expire(),
            "__Host-dscloud_session=; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0"
        );
    }

    #[test]
    fn the_token_is_found_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; dscloud_session=abc; x=y"),
        );
        let plain = SessionCookie { https: false };
        let https = SessionCookie { https: true };
        assert_eq!(plain.token(&headers).as_deref(), Some("abc"));
        // Over https only the prefixed name counts: a plain one may have
        // been planted by another site of the domain.
        assert_eq!(https.token(&headers), None);
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("__Host-dscloud_session=xyz"),
        );
        assert_eq!(https.token(&headers).as_deref(), Some("xyz"));
        headers.insert(header::COOKIE, HeaderValue::from_static("dscloud_session="));
        assert_eq!(plain.token(&headers), None);
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
