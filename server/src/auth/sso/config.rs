//! The single-sign-on configuration file (`--sso-config`), and the pure
//! decisions made from it: which role a user's groups give them.
//!
//! ```yaml
//! providers:
//!   - id: corp                      # in URLs: /auth/sso/corp/callback
//!     name: Corp SSO                # on the button: "Sign in with Corp SSO"
//!     issuer: https://sso.example.com/realms/corp   # discovery: <issuer>/.well-known/openid-configuration
//!     client_id: dscloud-portal
//!     client_secret_env: PORTAL_SSO_CORP_SECRET     # or client_secret: "…"
//!     scopes: [email, profile, groups]              # besides openid
//!     groups_claim: groups
//!     roles:                                        # first match wins: admin, developer, customer
//!       admin: [portal-admins]
//!       developer: [developers]
//!       customer: [customers]
//!     default_role: customer        # none: users in no mapped group are refused
//! ```

use std::collections::BTreeSet;
use std::path::Path;

use app::roles::Role;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoConfig {
    pub providers: Vec<ProviderConfig>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    /// The environment variable holding the secret, to keep it out of the file.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    #[serde(default)]
    pub roles: RoleMapping,
    #[serde(default)]
    pub default_role: Option<Role>,
    /// The ID token signatures accepted: OpenID Connect's default, RS256,
    /// unless set, never whatever the provider's metadata lists.
    #[serde(default = "default_signing_algorithms")]
    pub id_token_signing_algs: Vec<String>,
    /// An `http://` issuer off this machine is refused unless this is set:
    /// its tokens and user data would cross the network in the clear.
    #[serde(default)]
    pub allow_insecure_http: bool,
}

/// Asymmetric signatures only: `none` proves nothing, and an HMAC keyed with
/// the client secret could be made by anyone who holds that secret.
pub const SIGNING_ALGORITHMS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
];

fn default_signing_algorithms() -> Vec<String> {
    vec!["RS256".to_string()]
}

/// Whether an http URL's host is this machine (127.0.0.0/8, ::1, localhost).
fn is_loopback_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleMapping {
    #[serde(default)]
    pub admin: Vec<String>,
    #[serde(default)]
    pub developer: Vec<String>,
    #[serde(default)]
    pub customer: Vec<String>,
}

fn default_scopes() -> Vec<String> {
    ["email", "profile"].map(String::from).to_vec()
}

fn default_groups_claim() -> String {
    "groups".to_string()
}

impl ProviderConfig {
    /// The role a user in `groups` gets: the most powerful mapped one, else
    /// the default role, else none (the sign-in is refused).
    pub fn role_for(&self, groups: &[String]) -> Option<Role> {
        let member = |mapped: &[String]| groups.iter().any(|group| mapped.contains(group));
        if member(&self.roles.admin) {
            Some(Role::Admin)
        } else if member(&self.roles.developer) {
            Some(Role::Developer)
        } else if member(&self.roles.customer) {
            Some(Role::Customer)
        } else {
            self.default_role
        }
    }

    /// The client secret, from the file or the environment variable it names.
    pub fn resolve_secret(&self) -> Result<Option<String>, String> {
        match (&self.client_secret, &self.client_secret_env) {
            (Some(_), Some(_)) => Err(format!(
                "provider {:?}: give client_secret or client_secret_env, not both",
                self.id
            )),
            (Some(secret), None) => Ok(Some(secret.clone())),
            (None, Some(variable)) => std::env::var(variable).map(Some).map_err(|_| {
                format!(
                    "provider {:?}: the environment variable {variable} (client_secret_env) is not set",
                    self.id
                )
            }),
            (None, None) => Ok(None),
        }
    }
}

/// Reads and checks the file; every problem is named with its provider.
pub fn load(path: &Path) -> Result<SsoConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    parse(&text).map_err(|error| format!("{}: {error}", path.display()))
}

pub fn parse(text: &str) -> Result<SsoConfig, String> {
    let config: SsoConfig = serde_saphyr::from_str(text).map_err(|error| error.to_string())?;
    let mut seen = BTreeSet::new();
    for provider in &config.providers {
        // A label, but `-` may lead or trail: ids already in use stay valid.
        let id_ok = matches!(
            app::names::dns_label(&provider.id, 40),
            Ok(()) | Err(app::names::LabelProblem::Ends)
        );
        if !id_ok {
            return Err(format!(
                "provider id {:?}: use 1 to 40 lowercase letters, digits and '-' (it appears in URLs)",
                provider.id
            ));
        }
        if !seen.insert(provider.id.as_str()) {
            return Err(format!("provider id {:?} appears twice", provider.id));
        }
        if provider.name.trim().is_empty() {
            return Err(format!("provider {:?}: name is empty", provider.id));
        }
        if !(provider.issuer.starts_with("https://") || provider.issuer.starts_with("http://")) {
            return Err(format!(
                "provider {:?}: issuer {:?} must be an http(s) URL",
                provider.id, provider.issuer
            ));
        }
        if provider.issuer.starts_with("http://")
            && !is_loopback_url(&provider.issuer)
            && !provider.allow_insecure_http
        {
            return Err(format!(
                "provider {:?}: issuer {:?} is plain http off this machine: use https, or set allow_insecure_http: true if you accept tokens in the clear",
                provider.id, provider.issuer
            ));
        }
        if provider.id_token_signing_algs.is_empty() {
            return Err(format!(
                "provider {:?}: id_token_signing_algs is empty: name at least one of {}",
                provider.id,
                SIGNING_ALGORITHMS.join(", ")
            ));
        }
        if let Some(bad) = provider
            .id_token_signing_algs
            .iter()
            .find(|algorithm| !SIGNING_ALGORITHMS.contains(&algorithm.as_str()))
        {
            return Err(format!(
                "provider {:?}: id_token_signing_algs names {bad:?}: use {}",
                provider.id,
                SIGNING_ALGORITHMS.join(", ")
            ));
        }
        if provider.client_id.trim().is_empty() {
            return Err(format!("provider {:?}: client_id is empty", provider.id));
        }
        provider.resolve_secret()?;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "providers:\n  - id: corp\n    name: Corp SSO\n    issuer: http://127.0.0.1:9400\n    client_id: portal\n    client_secret: s3cret\n    roles:\n      admin: [portal-admins]\n      developer: [developers]\n    default_role: customer\n";

    #[test]
    fn groups_give_the_most_powerful_mapped_role_else_the_default() {
        let config = parse(EXAMPLE).unwrap();
        let corp = &config.providers[0];
        let groups = |names: &[&str]| {
            names
                .iter()
                .map(|name| name.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            corp.role_for(&groups(&["developers", "portal-admins"])),
            Some(Role::Admin)
        );
        assert_eq!(
            corp.role_for(&groups(&["developers"])),
            Some(Role::Developer)
        );
        assert_eq!(corp.role_for(&groups(&["sales"])), Some(Role::Customer));
        assert_eq!(corp.scopes, ["email", "profile"]);
        assert_eq!(corp.groups_claim, "groups");
    }

    #[test]
    fn without_a_default_role_unmapped_users_get_none() {
        let config = parse(&EXAMPLE.replace("    default_role: customer\n", "")).unwrap();
        assert_eq!(config.providers[0].role_for(&[]), None);
    }

    #[test]
    fn plain_http_issuers_only_on_this_machine_or_when_allowed() {
        for loopback in [
            "http://127.0.0.1:9400",
            "http://localhost:9400/realms/x",
            "http://[::1]:9400",
        ] {
            let config = EXAMPLE.replace("http://127.0.0.1:9400", loopback);
            assert!(parse(&config).is_ok(), "{loopback}");
        }
        let remote = EXAMPLE.replace("http://127.0.0.1:9400", "http://sso.example.com");
        let error = parse(&remote).unwrap_err();
        assert!(error.contains("plain http off this machine"), "{error}");
        let lookalike = EXAMPLE.replace("http://127.0.0.1:9400", "http://127.0.0.1.evil.example");
        assert!(parse(&lookalike).is_err());
        let allowed = remote.replace(
            "    default_role: customer\n",
            "    default_role: customer\n    allow_insecure_http: true\n",
        );
        assert!(parse(&allowed).is_ok());
        let https = EXAMPLE.replace("http://127.0.0.1:9400", "https://sso.example.com");
        assert!(parse(&https).is_ok());
    }

    #[test]
    fn token_signatures_are_pinned_to_asymmetric_algorithms() {
        let config = parse(EXAMPLE).unwrap();
        assert_eq!(config.providers[0].id_token_signing_algs, ["RS256"]);
        let with = |algorithms: &str| {
            parse(&EXAMPLE.replace(
                "    default_role: customer\n",
                &format!("    default_role: customer\n    id_token_signing_algs: {algorithms}\n"),
            ))
        };
        assert!(with("[ES256, RS256]").is_ok());
        for refused in ["[none]", "[HS256]", "[]"] {
            let error = with(refused).unwrap_err();
            assert!(
                error.contains("id_token_signing_algs"),
                "{refused}: {error}"
            );
        }
    }

    #[test]
    fn mistakes_are_named() {
        let error = parse(&EXAMPLE.replace("id: corp", "id: Corp SSO")).unwrap_err();
        assert!(error.contains("lowercase"), "{error}");
        let error = parse(&EXAMPLE.replace("client_id", "clientid")).unwrap_err();
        assert!(error.contains("clientid"), "{error}");
        let error =
            parse(&EXAMPLE.replace("default_role: customer", "default_role: root")).unwrap_err();
        assert!(error.contains("root"), "{error}");
        let twice = format!("{EXAMPLE}{}", &EXAMPLE["providers:\n".len()..]);
        assert!(parse(&twice).unwrap_err().contains("twice"));
        let error = parse(&EXAMPLE.replace(
            "client_secret: s3cret",
            "client_secret_env: PORTAL_TEST_SURELY_UNSET_VARIABLE",
        ))
        .unwrap_err();
        assert!(
            error.contains("PORTAL_TEST_SURELY_UNSET_VARIABLE"),
            "{error}"
        );
    }
}
