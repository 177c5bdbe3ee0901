//! Secrets as developers see them: per app and environment, every key the
//! newest release's components expect (and the integration tests' secret
//! groups), whether it is set (which version, by whom, when, since when in
//! the cluster), missing (blocking the deploy there) or set but unused.
//! Values are write-only: set, replace, delete, roll back to a version,
//! import a `.env` paste; nothing here ever carries a value back.
//!
//! The server's `Secrets` service checks the caller: developers and admins
//! read the states, an app's maintainers and admins change them.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
mod service;

#[cfg(feature = "ssr")]
pub use service::Secrets;

/// The largest value: a Kubernetes Secret holds 1 MiB in all.
pub const MAX_SECRET_BYTES: usize = 64 * 1024;
/// The longest key name.
pub const MAX_SECRET_NAME: usize = 128;

/// A key is set on pods as an environment variable: letters, digits and
/// `_`, not starting with a digit (what POSIX shells and most runtimes
/// accept; Kubernetes would take more, the programs reading it would not).
pub fn check_secret_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a key needs a name".to_string());
    }
    if name.len() > MAX_SECRET_NAME {
        return Err(format!(
            "a key name is at most {MAX_SECRET_NAME} characters, this one {}",
            name.len()
        ));
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!(
            "{name:?} starts with a digit: environment variables cannot"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
    {
        return Err(format!(
            "{name:?} holds {bad:?}: an environment variable's name is letters, digits and '_'"
        ));
    }
    Ok(())
}

/// A secret's state in one environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SecretState {
    /// Expected and set.
    Set(SetValue),
    /// Expected, no value: the deploy there waits for it.
    Missing,
    /// Set, but the newest release does not read it.
    Unused(SetValue),
}

/// Who set the value in force, when, and since when the cluster has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetValue {
    pub version: i64,
    pub by: String,
    /// RFC 3339.
    pub at: String,
    /// RFC 3339; `None` while the engine has not written it yet.
    pub in_cluster_since: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretKeyView {
    pub name: String,
    pub state: SecretState,
    /// The components (or, in a group, the microservices' tests) reading it.
    pub needed_by: Vec<String>,
}

/// The app's own keys (`group` empty) or one secret group's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretGroupView {
    pub group: String,
    pub keys: Vec<SecretKeyView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentSecrets {
    pub environment: String,
    /// The app's Secret first, then each group by name.
    pub groups: Vec<SecretGroupView>,
}

impl EnvironmentSecrets {
    /// `KEY` or `group/KEY` of every missing key.
    pub fn missing(&self) -> Vec<String> {
        self.groups
            .iter()
            .flat_map(|group| {
                group
                    .keys
                    .iter()
                    .filter(|key| key.state == SecretState::Missing)
                    .map(move |key| {
                        if group.group.is_empty() {
                            key.name.clone()
                        } else {
                            format!("{}/{}", group.group, key.name)
                        }
                    })
            })
            .collect()
    }
}

/// An app's secrets page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSecrets {
    pub app: String,
    /// The release whose expectations are shown (short SHA), if any.
    pub release: Option<String>,
    pub environments: Vec<EnvironmentSecrets>,
    /// Whether the caller may change values (maintainers and admins).
    pub may_change: bool,
}

/// One version of a secret, as its history shows it (never the value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretVersionView {
    pub version: i64,
    pub deleted: bool,
    pub by: String,
    /// RFC 3339.
    pub at: String,
    /// The one in force.
    pub current: bool,
}

/// One app on the secrets overview: the missing keys per environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSecretsSummary {
    pub app: String,
    /// (environment, missing keys).
    pub missing: Vec<(String, Vec<String>)>,
    pub set: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretsOverview {
    pub apps: Vec<AppSecretsSummary>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
}

impl SecretsOverview {
    pub fn pages(&self) -> u32 {
        crate::accounts::page_count(self.total, self.page_size)
    }
}

/// Apps on one page of the overview.
pub const OVERVIEW_PAGE_SIZE: u32 = 25;

#[cfg(feature = "ssr")]
fn secrets() -> Result<(crate::caller::Caller, std::sync::Arc<dyn Secrets>), ServerFnError> {
    let service = use_context::<std::sync::Arc<dyn Secrets>>()
        .ok_or_else(|| crate::caller::missing_service("secrets are"))?;
    Ok((crate::caller::Caller::current(), service))
}

#[cfg(feature = "ssr")]
use crate::caller::{authorize, refuse};

/// Every app with its missing keys per environment, a page at a time.
#[server(endpoint = "secrets_overview")]
pub async fn fetch_secrets_overview(page: u32) -> Result<SecretsOverview, ServerFnError> {
    authorize("secrets_overview")?;
    let (caller, service) = secrets()?;
    service.overview(&caller, page).await.map_err(refuse)
}

#[server(endpoint = "app_secrets")]
pub async fn fetch_app_secrets(app: String) -> Result<AppSecrets, ServerFnError> {
    authorize("app_secrets")?;
    let (caller, service) = secrets()?;
    service.app(&caller, &app).await.map_err(refuse)
}

#[server(endpoint = "secret_versions")]
pub async fn fetch_secret_versions(
    app: String,
    environment: String,
    group: String,
    name: String,
) -> Result<Vec<SecretVersionView>, ServerFnError> {
    authorize("secret_versions")?;
    let (caller, service) = secrets()?;
    service
        .versions(&caller, &app, &environment, &group, &name)
        .await
        .map_err(refuse)
}

/// Sets (or replaces) a value; answers the new version. The value goes
/// straight into a secret string: never logged, never sent back.
#[server(endpoint = "set_secret")]
pub async fn set_secret_value(
    app: String,
    environment: String,
    group: String,
    name: String,
    value: String,
) -> Result<i64, ServerFnError> {
    authorize("set_secret")?;
    let value = secrecy::SecretString::from(value);
    let (caller, service) = secrets()?;
    service
        .set(&caller, &app, &environment, &group, &name, value)
        .await
        .map_err(refuse)
}

#[server(endpoint = "delete_secret")]
pub async fn delete_secret_value(
    app: String,
    environment: String,
    group: String,
    name: String,
) -> Result<i64, ServerFnError> {
    authorize("delete_secret")?;
    let (caller, service) = secrets()?;
    service
        .delete(&caller, &app, &environment, &group, &name)
        .await
        .map_err(refuse)
}

/// Puts an earlier version's value back, as a new version.
#[server(endpoint = "roll_back_secret")]
pub async fn roll_back_secret_value(
    app: String,
    environment: String,
    group: String,
    name: String,
    version: i64,
) -> Result<i64, ServerFnError> {
    authorize("roll_back_secret")?;
    let (caller, service) = secrets()?;
    service
        .roll_back(&caller, &app, &environment, &group, &name, version)
        .await
        .map_err(refuse)
}

/// Sets every `KEY=value` line of a `.env` paste, all or nothing; answers
/// how many were set.
#[server(endpoint = "import_secrets")]
pub async fn import_secret_values(
    app: String,
    environment: String,
    group: String,
    text: String,
) -> Result<u32, ServerFnError> {
    authorize("import_secrets")?;
    let text = secrecy::SecretString::from(text);
    let (caller, service) = secrets()?;
    service
        .import(&caller, &app, &environment, &group, text)
        .await
        .map_err(refuse)
}
