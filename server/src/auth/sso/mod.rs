//! Single sign-on with OpenID Connect providers: authorization code flow
//! with PKCE, state and nonce bound to the browser that started it, issuer
//! and audience checked by `openidconnect`, and the provider's signing keys
//! fetched again when a token names a key we do not know (the crate caches
//! them forever otherwise: openidconnect-rs#232).
//!
//! This module turns a provider's callback into a verified [`Identity`];
//! `sign_in::Authenticator` decides what that identity may do.

pub mod config;
pub mod provision;
pub mod routes;

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessToken, AdditionalClaims, AuthorizationCode, ClaimsVerificationError, ClientId,
    ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdToken, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SignatureVerificationError, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tokio::sync::Mutex;

pub use config::{ProviderConfig, SsoConfig};

use super::session;
use crate::store::{SignInFlow, Store, StoreError};

/// How long a user has between leaving for the provider and coming back.
pub const FLOW_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// The cookie that ties a flow to the browser that started it.
pub const FLOW_COOKIE: &str = "dscloud_sso_flow";
/// Provider metadata and keys are fetched again after this long.
const METADATA_MAX_AGE: Duration = Duration::from_secs(60 * 60);
/// An unknown key id triggers a fetch at most this often (a token with a
/// made-up `kid` must not turn the portal into a request amplifier). Only
/// fetches an unknown key caused count: a provider that rotates its key right
/// after our ordinary fetch must still be followed at once.
const KEY_REFRESH_MIN_INTERVAL: Duration = Duration::from_secs(10);

type DiscoveredClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Every claim of a token, so the configured groups claim can be read by name.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct AllClaims {
    #[serde(flatten)]
    claims: serde_json::Map<String, serde_json::Value>,
}
impl AdditionalClaims for AllClaims {}

type PortalIdToken =
    IdToken<AllClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

/// The client's ID token verifier, accepting only the signatures the
/// provider's configuration names (`id_token_signing_algs`), not those its
/// metadata offers.
fn pinned<'a>(
    client: &'a DiscoveredClient,
    config: &ProviderConfig,
) -> openidconnect::IdTokenVerifier<'a, openidconnect::core::CoreJsonWebKey> {
    client
        .id_token_verifier()
        .set_allowed_algs(signing_algorithms(&config.id_token_signing_algs))
}

/// The configured algorithm names as the library's values (names it does
/// not know are dropped: the configuration was checked when loaded).
fn signing_algorithms(names: &[String]) -> Vec<CoreJwsSigningAlgorithm> {
    names
        .iter()
        .filter_map(|name| serde_json::from_value(serde_json::Value::String(name.clone())).ok())
        .collect()
}

/// Who the provider says signed in, after every check.
#[derive(Clone, Debug)]
pub struct Identity {
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    /// `preferred_username`, else the email, else the subject.
    pub username_hint: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub groups: Vec<String>,
    /// Whether the groups came from userinfo because the ID token had none.
    pub groups_from_userinfo: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("no single-sign-on provider is called {0:?}")]
    UnknownProvider(String),
    /// The browser has no flow (expired, another browser, or replayed).
    #[error("this sign-in expired or was started in another browser; start again")]
    NoFlow,
    #[error("the sign-in was refused by the provider: {0}")]
    Provider(String),
    #[error("the provider cannot be reached or answered wrongly: {0}")]
    Unreachable(String),
    #[error("the provider's answer failed a check: {0}")]
    Invalid(String),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// What the provider sends back to the callback URL.
#[derive(Debug, Default, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    /// RFC 9207: the issuer that answered, checked against the one we sent the user to.
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

struct Discovered {
    metadata: CoreProviderMetadata,
    fetched_at: Instant,
    /// When an unknown signing key last made us fetch again.
    key_refresh_at: Option<Instant>,
}

struct Provider {
    config: ProviderConfig,
    client_secret: Option<String>,
    discovered: Mutex<Option<Discovered>>,
}

/// The configured providers and what they need to run a sign-in.
pub struct SingleSignOn {
    providers: Vec<Provider>,
    store: Arc<dyn Store>,
    http: openidconnect::reqwest::Client,
    public_url: String,
}

/// A provider as the sign-in page shows it.
#[derive(Clone, Debug)]
pub struct ProviderButton {
    pub id: String,
    pub name: String,
}

impl SingleSignOn {
    pub fn new(
        config: SsoConfig,
        store: Arc<dyn Store>,
        public_url: String,
    ) -> Result<Self, String> {
        let http = openidconnect::reqwest::ClientBuilder::new()
            // Following redirects would let a provider point us anywhere (SSRF).
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| format!("cannot build the HTTP client for single sign-on: {error}"))?;
        let providers = config
            .providers
            .into_iter()
            .map(|config| {
                Ok(Provider {
                    client_secret: config.resolve_secret()?,
                    config,
                    discovered: Mutex::new(None),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(SingleSignOn {
            providers,
            store,
            http,
            public_url,
        })
    }

    pub fn buttons(&self) -> Vec<ProviderButton> {
        self.providers
            .iter()
            .map(|provider| ProviderButton {
                id: provider.config.id.clone(),
                name: provider.config.name.clone(),
            })
            .collect()
    }

    pub fn provider_config(&self, id: &str) -> Option<&ProviderConfig> {
        self.provider(id).ok().map(|provider| &provider.config)
    }

    fn provider(&self, id: &str) -> Result<&Provider, SsoError> {
        self.providers
            .iter()
            .find(|provider| provider.config.id == id)
            .ok_or_else(|| SsoError::UnknownProvider(id.to_string()))
    }

    fn redirect_url(&self, provider: &str) -> String {
        format!("{}/auth/sso/{provider}/callback", self.public_url)
    }

    /// Starts a sign-in: records the flow and returns the provider's
    /// authorization URL and the value of the flow cookie.
    pub async fn begin(&self, provider_id: &str, next: &str) -> Result<(String, String), SsoError> {
        let provider = self.provider(provider_id)?;
        let client = self.client(provider, false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in &provider.config.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        let flow_id = session::new_token();
        let now = chrono::Utc::now();
        self.store
            .create_sign_in_flow(SignInFlow {
                id_hash: session::token_hash(&flow_id),
                provider: provider_id.to_string(),
                csrf_state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                next_path: next.to_string(),
                created_at: now,
            })
            .await?;
        // Abandoned flows go away with the next sign-in.
        let expired = now - chrono::Duration::from_std(FLOW_LIFETIME).unwrap_or_default();
        if let Err(error) = self.store.delete_sign_in_flows_before(expired).await {
            tracing::warn!(%error, "cannot forget expired sign-in flows");
        }
        Ok((url.to_string(), flow_id))
    }

    /// Finishes a sign-in at the callback; returns the identity and where the
    /// user was going. The flow is used up whatever the outcome.
    pub async fn finish(
        &self,
        provider_id: &str,
        flow_cookie: Option<&str>,
        callback: Callback,
    ) -> Result<(Identity, String), SsoError> {
        let provider = self.provider(provider_id)?;
        let flow = match flow_cookie {
            Some(value) => match self
                .store
                .take_sign_in_flow(&session::token_hash(value))
                .await
            {
                Ok(flow) => flow,
                Err(StoreError::NotFound) => return Err(SsoError::NoFlow),
                Err(error) => return Err(error.into()),
            },
            None => return Err(SsoError::NoFlow),
        };
        let age = chrono::Utc::now() - flow.created_at;
        if flow.provider != provider_id || age.to_std().unwrap_or_default() > FLOW_LIFETIME {
            return Err(SsoError::NoFlow);
        }
        if let Some(error) = callback.error {
            let detail = callback.error_description.unwrap_or_default();
            return Err(SsoError::Provider(
                format!("{error} {detail}").trim().to_string(),
            ));
        }
        let state = callback.state.unwrap_or_default();
        if !bool::from(state.as_bytes().ct_eq(flow.csrf_state.as_bytes())) {
            return Err(SsoError::Invalid(
                "the state does not match this browser's sign-in".into(),
            ));
        }
        let client = self.client(provider, false).await?;
        if let Some(iss) = &callback.iss
            && iss.trim_end_matches('/') != provider.config.issuer.trim_end_matches('/')
        {
            return Err(SsoError::Invalid(format!(
                "the answer came from another issuer ({iss})"
            )));
        }
        let code = callback
            .code
            .ok_or_else(|| SsoError::Invalid("the callback carries no code".into()))?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|error| SsoError::Unreachable(error.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|error| SsoError::Provider(describe(&error)))?;
        let raw_id_token = tokens
            .extra_fields()
            .id_token()
            .ok_or_else(|| SsoError::Invalid("the provider returned no ID token".into()))?
            .to_string();
        let id_token: PortalIdToken = raw_id_token
            .parse()
            .map_err(|error| SsoError::Invalid(format!("the ID token cannot be read: {error}")))?;
        let nonce = Nonce::new(flow.nonce);
        let unknown_key = matches!(
            id_token.claims(&pinned(&client, &provider.config), &nonce),
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey
            ))
        );
        let client = if unknown_key {
            tracing::info!(
                provider = provider_id,
                "unknown signing key: fetching the provider's keys again"
            );
            self.client(provider, true).await?
        } else {
            client
        };
        let claims = id_token
            .claims(&pinned(&client, &provider.config), &nonce)
            .map_err(|error| SsoError::Invalid(format!("the ID token: {}", describe(&error))))?;

        // Many providers put only `sub` in the ID token and the rest in
        // userinfo: each claim is taken from the ID token, else from
        // userinfo, the same way for every provider.
        let groups_claim = &provider.config.groups_claim;
        let token_groups = claims
            .additional_claims()
            .claims
            .get(groups_claim)
            .map(group_names);
        let profile_missing = claims.preferred_username().is_none()
            || claims.email().is_none()
            || claims.name().is_none();
        let userinfo = if token_groups.is_none() || profile_missing {
            match self
                .user_info(&client, tokens.access_token(), claims.subject())
                .await
            {
                Ok(userinfo) => userinfo,
                // The roles depend on the groups: without them, no sign-in.
                Err(error) if token_groups.is_none() => return Err(error),
                // Only names are missing: sign in with what the token says.
                Err(error) => {
                    tracing::warn!(provider = provider_id, %error, "userinfo failed; signing in without its profile claims");
                    None
                }
            }
        } else {
            None
        };
        let groups_from_userinfo = token_groups.is_none();
        let groups = token_groups.or_else(|| {
            userinfo
                .as_ref()
                .and_then(|userinfo| userinfo.additional_claims().claims.get(groups_claim))
                .map(group_names)
        });
        let email = claims
            .email()
            .or_else(|| userinfo.as_ref().and_then(|userinfo| userinfo.email()))
            .map(|email| email.as_str().to_string());
        let display_name = claims
            .name()
            .or_else(|| userinfo.as_ref().and_then(|userinfo| userinfo.name()))
            .and_then(|name| name.get(None))
            .map(|name| name.as_str().to_string());
        let username_hint = claims
            .preferred_username()
            .or_else(|| {
                userinfo
                    .as_ref()
                    .and_then(|userinfo| userinfo.preferred_username())
            })
            .map(|name| name.as_str().to_string())
            .or_else(|| email.clone())
            .unwrap_or_else(|| claims.subject().as_str().to_string());
        let identity = Identity {
            provider: provider_id.to_string(),
            issuer: claims.issuer().as_str().to_string(),
            subject: claims.subject().as_str().to_string(),
            username_hint,
            display_name,
            email,
            groups: groups.unwrap_or_default(),
            groups_from_userinfo,
        };
        Ok((identity, flow.next_path))
    }

    /// The userinfo claims for the signed-in subject; `None` where the
    /// provider offers no userinfo endpoint.
    async fn user_info(
        &self,
        client: &DiscoveredClient,
        access_token: &AccessToken,
        subject: &openidconnect::SubjectIdentifier,
    ) -> Result<Option<UserInfoClaims<AllClaims, CoreGenderClaim>>, SsoError> {
        let Ok(request) = client.user_info(access_token.clone(), Some(subject.clone())) else {
            return Ok(None);
        };
        request
            .request_async(&self.http)
            .await
            .map(Some)
            .map_err(|error| SsoError::Unreachable(format!("userinfo: {}", describe(&error))))
    }

    /// A client from the provider's (cached) discovery document.
    async fn client(
        &self,
        provider: &Provider,
        refresh: bool,
    ) -> Result<DiscoveredClient, SsoError> {
        let mut discovered = provider.discovered.lock().await;
        let previous_key_refresh = discovered.as_ref().and_then(|known| known.key_refresh_at);
        let ages = discovered.as_ref().map(|known| {
            (
                known.fetched_at.elapsed(),
                known.key_refresh_at.map(|at| at.elapsed()),
            )
        });
        if must_fetch(ages, refresh) {
            match self.discover(&provider.config).await {
                Ok(metadata) => {
                    let now = Instant::now();
                    *discovered = Some(Discovered {
                        metadata,
                        fetched_at: now,
                        key_refresh_at: if refresh {
                            Some(now)
                        } else {
                            previous_key_refresh
                        },
                    });
                }
                // A provider briefly down keeps working with what we knew.
                Err(error) if discovered.is_some() => {
                    tracing::warn!(provider = provider.config.id, %error, "cannot refresh the provider's metadata; using the previous copy");
                }
                Err(error) => return Err(error),
            }
        }
        let metadata = discovered
            .as_ref()
            .map(|known| known.metadata.clone())
            .ok_or_else(|| SsoError::Unreachable("no metadata".into()))?;
        let redirect = RedirectUrl::new(self.redirect_url(&provider.config.id))
            .map_err(|error| SsoError::Invalid(format!("the redirect URL: {error}")))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.config.client_id.clone()),
            provider.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect))
    }

    async fn discover(&self, config: &ProviderConfig) -> Result<CoreProviderMetadata, SsoError> {
        let issuer = IssuerUrl::new(config.issuer.clone())
            .map_err(|error| SsoError::Invalid(format!("issuer {:?}: {error}", config.issuer)))?;
        CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|error| SsoError::Unreachable(describe(&error)))
    }
}

/// Whether to fetch a provider's metadata again, given the age of our copy and
/// of the last fetch an unknown signing key caused (`None`: no copy yet), and
/// whether an unknown key asks for fresh keys now.
fn must_fetch(ages: Option<(Duration, Option<Duration>)>, unknown_key: bool) -> bool {
    match ages {
        None => true,
        Some((age, key_refresh_age)) => {
            age > METADATA_MAX_AGE
                || (unknown_key
                    && key_refresh_age.is_none_or(|since| since > KEY_REFRESH_MIN_INTERVAL))
        }
    }
}

/// A groups claim as names: a list of strings, or one string.
fn group_names(value: &serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_string))
            .collect(),
        serde_json::Value::String(name) => vec![name.clone()],
        _ => Vec::new(),
    }
}

/// An error with its causes, for people and logs.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod signing_tests {
    use super::*;

    #[test]
    fn configured_algorithm_names_become_the_librarys_values() {
        let names = ["RS256", "ES256", "EdDSA"].map(String::from);
        assert_eq!(
            signing_algorithms(&names),
            [
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                CoreJwsSigningAlgorithm::EcdsaP256Sha256,
                CoreJwsSigningAlgorithm::EdDsa,
            ]
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_fetches_again_even_right_after_a_fetch_but_not_in_a_loop() {
        let second = Duration::from_secs(1);
        assert!(must_fetch(None, false), "nothing known yet");
        assert!(
            !must_fetch(Some((second, None)), false),
            "a fresh copy is used"
        );
        assert!(
            must_fetch(Some((second, None)), true),
            "a key rotated just after our fetch is followed at once"
        );
        assert!(
            !must_fetch(Some((second, Some(second))), true),
            "unknown keys fetch at most once per interval"
        );
        assert!(must_fetch(Some((second * 11, Some(second * 11))), true));
        assert!(must_fetch(
            Some((METADATA_MAX_AGE * 2, Some(second))),
            false
        ));
    }

    #[test]
    fn a_groups_claim_is_a_list_or_one_name() {
        assert_eq!(group_names(&serde_json::json!(["a", "b", 3])), ["a", "b"]);
        assert_eq!(group_names(&serde_json::json!("admins")), ["admins"]);
        assert!(group_names(&serde_json::json!({"a": 1})).is_empty());
    }
}
