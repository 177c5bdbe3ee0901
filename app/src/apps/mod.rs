//! Applications as developers see them: each a git repository the portal
//! follows, its releases (each new head of the tracked branch) and what its
//! `dscloud.yaml` describes. The types both sides share and the server
//! functions' thin shells; the `Apps` service the server provides checks
//! the caller (developers see every app; maintainers and admins change one).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

pub mod diff;
#[cfg(feature = "ssr")]
mod service;
#[cfg(feature = "ssr")]
pub use service::Apps;

/// Apps on one page of the list.
pub const APPS_PAGE_SIZE: u32 = 25;

/// Who builds an app's images: the portal (a BuildKit Job per component)
/// or the app's own CI, which pushes `<registry>/<app>/<component>:<sha>`
/// while the deploy engine waits for it in the registry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildMode {
    #[default]
    Portal,
    External,
}

impl BuildMode {
    pub fn as_str(self) -> &'static str {
        match self {
            BuildMode::Portal => "portal",
            BuildMode::External => "external",
        }
    }

    /// From a form's value; empty is `None` (the default, or no change).
    pub fn parse(text: &str) -> Result<Option<BuildMode>, String> {
        match text.trim() {
            "" => Ok(None),
            "portal" => Ok(Some(BuildMode::Portal)),
            "external" => Ok(Some(BuildMode::External)),
            other => Err(format!(
                "unknown build mode {other:?}: portal (the portal builds each image) or external (your CI pushes them)"
            )),
        }
    }

    /// What a person reads.
    pub fn describe(self) -> &'static str {
        match self {
            BuildMode::Portal => "built by the portal",
            BuildMode::External => "pushed by external CI",
        }
    }
}

/// One app in the list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSummary {
    pub name: String,
    pub repository_url: String,
    pub branch: String,
    /// The newest release: short SHA and subject.
    pub last_commit: Option<CommitLine>,
    /// RFC 3339; `None` until the first poll after registration.
    pub last_polled_at: Option<String>,
    /// Why the last poll failed, if it did.
    pub last_error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitLine {
    pub sha: String,
    pub subject: String,
    pub accepted: bool,
}

impl CommitLine {
    pub fn short(&self) -> &str {
        self.sha.get(..7).unwrap_or(&self.sha)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppList {
    pub items: Vec<AppSummary>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
}

impl AppList {
    pub fn pages(&self) -> u32 {
        crate::accounts::page_count(self.total, self.page_size)
    }
}

/// The register form. Credentials are optional: a token for HTTPS, a
/// deploy key for SSH.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterAppForm {
    pub name: String,
    pub repository_url: String,
    #[serde(default)]
    pub branch: String,
    #[serde(default)]
    pub poll_interval_seconds: String,
    /// `none`, `token` or `ssh-key`.
    #[serde(default)]
    pub credentials_kind: String,
    #[serde(default)]
    pub credentials: String,
    /// Other maintainers' usernames, separated by commas or spaces.
    #[serde(default)]
    pub maintainers: String,
    /// `portal` (the default) or `external`.
    #[serde(default)]
    pub build: String,
}

/// A maintainer's change of an app's settings. Credentials: `keep` (the
/// default), `none` (remove them), `token` or `ssh-key` (replace them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSettingsForm {
    pub name: String,
    #[serde(default)]
    pub branch: String,
    #[serde(default)]
    pub poll_interval_seconds: String,
    #[serde(default)]
    pub credentials_kind: String,
    #[serde(default)]
    pub credentials: String,
    /// `portal` or `external`; empty keeps it.
    #[serde(default)]
    pub build: String,
}

/// A registered app, with its webhook secret: shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    pub name: String,
    /// The path of its push webhook (the page prefixes the portal's address).
    pub webhook_path: String,
    pub webhook_secret: String,
}

/// One release in an app's list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseSummary {
    pub sha: String,
    pub subject: String,
    pub author: String,
    pub committed_at: String,
    pub accepted: bool,
    /// Errors that rejected it.
    pub errors: u32,
    pub commits: u32,
    pub force_pushed: bool,
    pub created_at: String,
}

impl ReleaseSummary {
    pub fn short(&self) -> &str {
        self.sha.get(..7).unwrap_or(&self.sha)
    }
}

/// An app's page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppDetail {
    pub name: String,
    pub repository_url: String,
    pub branch: String,
    pub poll_interval_seconds: u32,
    pub build: BuildMode,
    /// Where external CI pushes each image: `<registry>/<app>/<component>:<commit sha>`.
    pub image_pattern: String,
    /// `token` or `ssh-key`; never the value.
    pub credentials: Option<String>,
    pub webhook_path: String,
    pub maintainers: Vec<String>,
    /// Whether the caller may change it (a maintainer or an admin).
    pub may_change: bool,
    pub last_polled_at: Option<String>,
    pub last_webhook_at: Option<String>,
    pub last_error: Option<String>,
    pub failures: u32,
    /// The `dscloud.yaml` of the newest accepted release, for its components.
    pub latest_accepted: Option<ReleaseSummary>,
    pub dscloud_yaml: Option<String>,
    /// Newest first.
    pub releases: Vec<ReleaseSummary>,
    pub releases_total: u64,
}

/// A release's page: the commit, its file and what the checks found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseDetail {
    pub app: String,
    pub summary: ReleaseSummary,
    pub author_email: String,
    pub previous_sha: Option<String>,
    /// The commits it brings, newest first: (sha, subject, author).
    pub commits: Vec<(String, String, String)>,
    pub commits_truncated: bool,
    pub dscloud_yaml: Option<String>,
    /// (line, column, path, message, error?)
    pub problems: Vec<(u64, u64, String, String, bool)>,
    /// What changed against the previous release's file, in lines.
    pub changes: Vec<String>,
    /// The environments its file deploys to, for its Kubernetes objects.
    pub environments: Vec<String>,
}

#[cfg(feature = "ssr")]
fn apps() -> Result<(crate::caller::Caller, std::sync::Arc<dyn Apps>), ServerFnError> {
    let service = use_context::<std::sync::Arc<dyn Apps>>()
        .ok_or_else(|| crate::caller::missing_service("apps are"))?;
    Ok((crate::caller::Caller::current(), service))
}

#[cfg(feature = "ssr")]
use crate::caller::{authorize, refuse};

#[server(endpoint = "list_apps")]
pub async fn list_apps(search: String, page: u32) -> Result<AppList, ServerFnError> {
    authorize("list_apps")?;
    crate::caller::check_search([("search", search.as_str())]).map_err(refuse)?;
    let (caller, service) = apps()?;
    service.list(&caller, search, page).await.map_err(refuse)
}

/// Registers an app after checking its repository; returns its webhook
/// secret, shown once.
#[server(endpoint = "register_app")]
pub async fn register_app(form: RegisterAppForm) -> Result<Registered, ServerFnError> {
    authorize("register_app")?;
    let (caller, service) = apps()?;
    service.register(&caller, form).await.map_err(refuse)
}

#[server(endpoint = "app_detail")]
pub async fn fetch_app(name: String) -> Result<AppDetail, ServerFnError> {
    authorize("app_detail")?;
    let (caller, service) = apps()?;
    service.detail(&caller, &name).await.map_err(refuse)
}

#[server(endpoint = "release_detail")]
pub async fn fetch_release(name: String, sha: String) -> Result<ReleaseDetail, ServerFnError> {
    authorize("release_detail")?;
    let (caller, service) = apps()?;
    service.release(&caller, &name, &sha).await.map_err(refuse)
}

/// A new webhook secret, shown once; the old one stops working.
#[server(endpoint = "rotate_webhook_secret")]
pub async fn rotate_webhook_secret(name: String) -> Result<String, ServerFnError> {
    authorize("rotate_webhook_secret")?;
    let (caller, service) = apps()?;
    service
        .rotate_webhook_secret(&caller, &name)
        .await
        .map_err(refuse)
}

/// Changes an app's branch, poll interval or credentials (its maintainers
/// and admins only).
#[server(endpoint = "update_app")]
pub async fn update_app(form: AppSettingsForm) -> Result<(), ServerFnError> {
    authorize("update_app")?;
    let (caller, service) = apps()?;
    service.update(&caller, form).await.map_err(refuse)
}

/// Deletes an app and its releases; `confirm_name` must repeat its name.
#[server(endpoint = "delete_app")]
pub async fn delete_app(name: String, confirm_name: String) -> Result<(), ServerFnError> {
    authorize("delete_app")?;
    let (caller, service) = apps()?;
    service
        .delete(&caller, &name, &confirm_name)
        .await
        .map_err(refuse)?;
    leptos_axum::redirect("/apps");
    Ok(())
}
