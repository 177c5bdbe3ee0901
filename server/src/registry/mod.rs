//! The container registry, as the deploy engine asks it: does
//! `<registry>/<app>/<component>:<sha>` exist yet, and by which digest?
//! That is how an app whose images external CI builds is waited for (the
//! OCI distribution spec's `HEAD /v2/<name>/manifests/<reference>`; a 401
//! is answered with the token flow its `WWW-Authenticate` names, or with
//! Basic credentials). Plain HTTP only to a registry on this machine, as
//! Docker does, so credentials never cross a network in the clear.

pub mod challenge;
pub mod credentials;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use secrecy::ExposeSecret;
use sha2::Digest;

pub use challenge::Challenge;
pub use credentials::Credentials;

/// Every manifest kind an image may be pushed as: OCI and Docker, single
/// and multi-platform.
const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// How long one call to the registry (or its token service) may take.
const CALL_DEADLINE: Duration = Duration::from_secs(30);

/// A manifest's digest is at most this large to be read when the registry
/// does not say it (some answer HEAD without `Docker-Content-Digest`).
const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    /// The registry (or its token service) did not answer.
    #[error("the registry {0} cannot be reached: {1}")]
    Unreachable(String, String),
    /// Authentication was asked for and refused, or cannot be done.
    #[error("the registry {0} refused access: {1}")]
    Refused(String, String),
    /// An answer the protocol does not have.
    #[error("the registry {0} answered unexpectedly: {1}")]
    Unexpected(String, String),
}

/// A registry, its address and credentials. Tokens it hands out are kept
/// until shortly before they expire.
pub struct Registry {
    /// `host[:port]`.
    host: String,
    /// What stands between the host and `<app>/<component>` (`team` in
    /// `registry.example/team`), with a trailing `/` when not empty.
    prefix: String,
    base: String,
    credentials: Option<Credentials>,
    http: reqwest::Client,
    tokens: Mutex<HashMap<String, (String, Instant)>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "Registry({})", self.base)
    }
}

impl Registry {
    /// The registry images are named after (`--image-registry`, e.g.
    /// `registry.example:5000/team`), with its credentials if any.
    pub fn new(image_registry: &str, credentials: Option<Credentials>) -> Result<Self, String> {
        let trimmed = image_registry.trim().trim_end_matches('/');
        let (host, path) = trimmed.split_once('/').unwrap_or((trimmed, ""));
        if host.is_empty() || host.contains(char::is_whitespace) || host.contains('@') {
            return Err(format!(
                "the image registry {image_registry:?} does not start with a host name"
            ));
        }
        let scheme = if is_loopback(host) { "http" } else { "https" };
        let http = reqwest::Client::builder()
            .timeout(CALL_DEADLINE)
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|error| format!("the registry's HTTP client: {error}"))?;
        Ok(Registry {
            host: host.to_string(),
            prefix: if path.is_empty() {
                String::new()
            } else {
                format!("{path}/")
            },
            base: format!("{scheme}://{host}"),
            credentials,
            http,
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// The same registry, asked with `credentials`.
    pub fn with_credentials(mut self, credentials: Option<Credentials>) -> Self {
        self.credentials = credentials;
        self
    }

    /// `host[:port]`, the key of its entry in a Docker config.json.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The digest of `<repository>:<reference>` (`repository` is
    /// `<app>/<component>`), or `None` while it does not exist.
    pub async fn digest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<String>, RegistryError> {
        let name = format!("{}{repository}", self.prefix);
        let url = format!("{}/v2/{name}/manifests/{reference}", self.base);
        let scope = format!("repository:{name}:pull");
        let mut authorization = self.cached_token(&scope);
        for round in 0..2 {
            let response = self
                .send(self.http.head(&url), authorization.as_ref())
                .await?;
            match response.status() {
                StatusCode::OK => {
                    return match digest_header(&response) {
                        Some(digest) => Ok(Some(digest)),
                        None => self.digest_by_body(&url, authorization.as_ref()).await,
                    };
                }
                StatusCode::NOT_FOUND => return Ok(None),
                StatusCode::UNAUTHORIZED if round == 0 => {
                    let offered = response
                        .headers()
                        .get(WWW_AUTHENTICATE)
                        .and_then(|value| value.to_str().ok())
                        .and_then(challenge::parse)
                        .ok_or_else(|| {
                            self.refused(
                                "it asked for authentication without a challenge we can answer",
                            )
                        })?;
                    authorization = Some(self.answer(&offered, &scope).await?);
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(self.refused(&format!(
                        "{} for {name}:{reference} (check the credentials in --registry-auth)",
                        response.status()
                    )));
                }
                status => {
                    return Err(RegistryError::Unexpected(
                        self.host.clone(),
                        format!("{status} for {name}:{reference}"),
                    ));
                }
            }
        }
        Err(self.refused("the token it gave was not accepted"))
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        authorization: Option<&HeaderValue>,
    ) -> Result<reqwest::Response, RegistryError> {
        let mut request = request.header(ACCEPT, MANIFEST_TYPES);
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value.clone());
        }
        request
            .send()
            .await
            .map_err(|error| RegistryError::Unreachable(self.host.clone(), without_url(&error)))
    }

    /// The digest of the manifest's bytes, for a registry whose HEAD does
    /// not say it.
    async fn digest_by_body(
        &self,
        url: &str,
        authorization: Option<&HeaderValue>,
    ) -> Result<Option<String>, RegistryError> {
        let response = self.send(self.http.get(url), authorization).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if let Some(digest) = digest_header(&response) {
            return Ok(Some(digest));
        }
        let body = response
            .bytes()
            .await
            .map_err(|error| RegistryError::Unreachable(self.host.clone(), without_url(&error)))?;
        if body.len() > MAX_MANIFEST_BYTES {
            return Err(RegistryError::Unexpected(
                self.host.clone(),
                format!("a manifest of {} bytes", body.len()),
            ));
        }
        Ok(Some(format!("sha256:{:x}", sha2::Sha256::digest(&body))))
    }

    /// The `Authorization` the challenge asks for.
    async fn answer(&self, offered: &Challenge, scope: &str) -> Result<HeaderValue, RegistryError> {
        match offered {
            Challenge::Basic => {
                let credentials = self.credentials.as_ref().ok_or_else(|| {
                    self.refused("it asks for a password and --registry-auth gives none")
                })?;
                header(&basic(credentials))
            }
            Challenge::Bearer {
                realm,
                service,
                scope: asked,
            } => {
                let scope = asked.as_deref().unwrap_or(scope);
                let token = self.token(realm, service.as_deref(), scope).await?;
                header(&format!("Bearer {token}"))
            }
        }
    }

    /// A token from the registry's token service (the distribution spec's
    /// token flow), with the credentials if any.
    async fn token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: &str,
    ) -> Result<String, RegistryError> {
        let realm_url = reqwest::Url::parse(realm)
            .map_err(|_| self.refused(&format!("its token service {realm:?} is not a URL")))?;
        let safe = realm_url.scheme() == "https" || realm_url.host_str().is_some_and(is_loopback);
        if !safe && self.credentials.is_some() {
            return Err(self.refused(&format!(
                "its token service {realm} is plain HTTP; credentials are sent only over HTTPS"
            )));
        }
        let mut query = vec![("scope", scope)];
        if let Some(service) = service {
            query.push(("service", service));
        }
        let mut request = self.http.get(realm_url).query(&query);
        if let Some(credentials) = &self.credentials {
            request = request.basic_auth(
                &credentials.username,
                Some(credentials.password.expose_secret()),
            );
        }
        let response = request
            .send()
            .await
            .map_err(|error| RegistryError::Unreachable(self.host.clone(), without_url(&error)))?;
        match response.status() {
            status if status.is_success() => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(self.refused(&format!(
                    "its token service answered {} (check the credentials in --registry-auth)",
                    response.status()
                )));
            }
            status => {
                return Err(RegistryError::Unexpected(
                    self.host.clone(),
                    format!("its token service answered {status}"),
                ));
            }
        }
        #[derive(serde::Deserialize)]
        struct TokenAnswer {
            token: Option<String>,
            access_token: Option<String>,
            expires_in: Option<u64>,
        }
        let answer: TokenAnswer = response.json().await.map_err(|_| {
            RegistryError::Unexpected(
                self.host.clone(),
                "its token service did not answer JSON".into(),
            )
        })?;
        let token = answer
            .token
            .or(answer.access_token)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                RegistryError::Unexpected(
                    self.host.clone(),
                    "its token service gave no token".into(),
                )
            })?;
        // The spec's default lifetime is 60 s; keep a margin for the clock.
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(60).saturating_sub(10));
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(
                scope.to_string(),
                (token.clone(), Instant::now() + lifetime),
            );
        }
        Ok(token)
    }

    fn cached_token(&self, scope: &str) -> Option<HeaderValue> {
        let tokens = self.tokens.lock().ok()?;
        let (token, until) = tokens.get(scope)?;
        (Instant::now() < *until)
            .then(|| HeaderValue::from_str(&format!("Bearer {token}")).ok())
            .flatten()
    }

    fn refused(&self, why: &str) -> RegistryError {
        RegistryError::Refused(self.host.clone(), why.to_string())
    }
}

/// The registry's `Docker-Content-Digest`, if it is one.
fn digest_header(response: &reqwest::Response) -> Option<String> {
    let digest = response
        .headers()
        .get("docker-content-digest")?
        .to_str()
        .ok()?;
    valid_digest(digest).then(|| digest.to_string())
}

/// `sha256:<64 hex>` or `sha512:<128 hex>`.
pub fn valid_digest(digest: &str) -> bool {
    let hex = |text: &str, length: usize| {
        text.len() == length && text.bytes().all(|b| b.is_ascii_hexdigit())
    };
    match digest.split_once(':') {
        Some(("sha256", encoded)) => hex(encoded, 64),
        Some(("sha512", encoded)) => hex(encoded, 128),
        _ => false,
    }
}

fn basic(credentials: &Credentials) -> String {
    use base64::Engine;
    let pair = format!(
        "{}:{}",
        credentials.username,
        credentials.password.expose_secret()
    );
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

fn header(value: &str) -> Result<HeaderValue, RegistryError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        RegistryError::Unexpected(String::new(), "a token that is not a header value".into())
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// reqwest's message without the URL (which may carry a query).
fn without_url(error: &reqwest::Error) -> String {
    let error = error.to_string();
    match error.split_once(" for url (") {
        Some((head, _)) => head.to_string(),
        None => error,
    }
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
fn is_loopback(host: &str) -> bool {
    let bare = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_is_reached_over_https_unless_it_is_on_this_machine() {
        let remote = Registry::new("registry.example:5000/team/", None).unwrap();
        assert_eq!(remote.base, "https://registry.example:5000");
        assert_eq!(remote.prefix, "team/");
        assert_eq!(remote.host(), "registry.example:5000");
        for local in ["127.0.0.1:5000", "localhost", "[::1]:5000"] {
            assert!(
                Registry::new(local, None)
                    .unwrap()
                    .base
                    .starts_with("http://"),
                "{local}"
            );
        }
        assert!(Registry::new("/team", None).is_err());
        assert!(Registry::new("user@host", None).is_err());
    }

    #[test]
    fn only_well_formed_digests_are_taken() {
        assert!(valid_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(valid_digest(&format!("sha512:{}", "0".repeat(128))));
        assert!(!valid_digest(&format!("sha256:{}", "a".repeat(63))));
        assert!(!valid_digest(&format!("md5:{}", "a".repeat(32))));
        assert!(!valid_digest("sha256:zz"));
    }
}
