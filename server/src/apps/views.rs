//! The apps pages' service: `app::apps::Apps` over the store and
//! [`AppService`], turning records into what the pages show.

use app::apps::{
    APPS_PAGE_SIZE, AppDetail, AppList, AppSettingsForm, AppSummary, CommitLine, RegisterAppForm,
    Registered, ReleaseDetail, ReleaseSummary,
};
use app::caller::{Caller, ServiceError};
use app::roles::Role;
use secrecy::{ExposeSecret, SecretString};

use super::service::{AppService, Registration};
use super::unavailable;
use crate::store::{AppQuery, AppRecord, CredentialsKind, ReleaseRecord, StoreError};

const RFC3339: chrono::SecondsFormat = chrono::SecondsFormat::Secs;

fn developer(caller: &Caller) -> Result<(), ServiceError> {
    match caller.role {
        Some(Role::Developer | Role::Admin) => Ok(()),
        _ => Err(ServiceError::Forbidden(
            "apps are for developers and admins".to_string(),
        )),
    }
}

fn summary(release: &ReleaseRecord) -> ReleaseSummary {
    ReleaseSummary {
        sha: release.sha.clone(),
        subject: release.subject.clone(),
        author: release.author.clone(),
        committed_at: release.committed_at.clone(),
        accepted: release.accepted,
        errors: release
            .problems
            .as_array()
            .map_or(0, |problems| {
                problems
                    .iter()
                    .filter(|problem| problem["severity"] == "error")
                    .count()
            })
            .try_into()
            .unwrap_or(u32::MAX),
        commits: release
            .commits
            .as_array()
            .map_or(0, Vec::len)
            .try_into()
            .unwrap_or(u32::MAX),
        force_pushed: release.force_pushed,
        created_at: release.created_at.to_rfc3339_opts(RFC3339, true),
    }
}

pub fn webhook_path(name: &str) -> String {
    super::webhooks::PATH.replace("{name}", name)
}

impl AppService {
    async fn named(&self, name: &str) -> Result<AppRecord, ServiceError> {
        match self.store().app_by_name(name).await {
            Ok(app) => Ok(app),
            Err(StoreError::NotFound) => Err(ServiceError::NotFound(format!(
                "there is no app named {name:?}"
            ))),
            Err(error) => Err(unavailable(&error)),
        }
    }
}

#[async_trait::async_trait]
impl app::apps::Apps for AppService {
    async fn list(
        &self,
        caller: &Caller,
        search: String,
        page: u32,
    ) -> Result<AppList, ServiceError> {
        developer(caller)?;
        let page = page.max(1);
        let search = search.trim();
        let found = self
            .store()
            .list_apps(&AppQuery {
                search: (!search.is_empty()).then(|| search.chars().take(200).collect()),
                limit: APPS_PAGE_SIZE,
                offset: (page - 1).saturating_mul(APPS_PAGE_SIZE),
            })
            .await
            .map_err(|error| unavailable(&error))?;
        let ids: Vec<uuid::Uuid> = found.items.iter().map(|app| app.id).collect();
        let mut newest: std::collections::HashMap<uuid::Uuid, ReleaseRecord> = self
            .store()
            .newest_releases(&ids)
            .await
            .map_err(|error| unavailable(&error))?
            .into_iter()
            .map(|release| (release.app_id, release))
            .collect();
        let items = found
            .items
            .into_iter()
            .map(|app| AppSummary {
                last_commit: newest.remove(&app.id).map(|release| CommitLine {
                    sha: release.sha,
                    subject: release.subject,
                    accepted: release.accepted,
                }),
                last_polled_at: app
                    .last_polled_at
                    .map(|at| at.to_rfc3339_opts(RFC3339, true)),
                last_error: app.last_error,
                name: app.name,
                repository_url: app.repository_url,
                branch: app.branch,
            })
            .collect();
        Ok(AppList {
            items,
            total: found.total,
            page,
            page_size: APPS_PAGE_SIZE,
        })
    }

    async fn register(
        &self,
        caller: &Caller,
        form: RegisterAppForm,
    ) -> Result<Registered, ServiceError> {
        developer(caller)?;
        let poll_interval_seconds = match form.poll_interval_seconds.trim() {
            "" => None,
            text => Some(text.parse::<u32>().map_err(|_| {
                ServiceError::Invalid(format!("{text:?} is not a number of seconds"))
            })?),
        };
        let credentials = match form.credentials_kind.trim() {
            "" | "none" => None,
            "token" => Some((
                CredentialsKind::Token,
                SecretString::from(form.credentials.trim().to_string()),
            )),
            "ssh-key" => Some((
                CredentialsKind::SshKey,
                SecretString::from(form.credentials.clone()),
            )),
            other => {
                return Err(ServiceError::Invalid(format!(
                    "unknown kind of credentials {other:?}: none, token or ssh-key"
                )));
            }
        };
        let build = app::apps::BuildMode::parse(&form.build)
            .map_err(ServiceError::Invalid)?
            .unwrap_or_default();
        let registered = self
            .register(
                caller,
                Registration {
                    name: form.name,
                    repository_url: form.repository_url,
                    branch: form.branch,
                    poll_interval_seconds,
                    credentials,
                    maintainers: form
                        .maintainers
                        .split([',', ' ', '\n'])
                        .map(str::to_string)
                        .collect(),
                    build,
                },
            )
            .await?;
        Ok(Registered {
            webhook_path: webhook_path(&registered.app.name),
            name: registered.app.name,
            webhook_secret: registered.webhook_secret.expose_secret().to_string(),
        })
    }

    async fn detail(&self, caller: &Caller, name: &str) -> Result<AppDetail, ServiceError> {
        developer(caller)?;
        let app = self.named(name).await?;
        let may_change = self.may_change(caller, &app).await?;
        let mut maintainers = Vec::new();
        for id in self
            .store()
            .app_maintainers(app.id)
            .await
            .map_err(|error| unavailable(&error))?
        {
            if let Ok(user) = self.store().user_by_id(id).await {
                maintainers.push(user.username);
            }
        }
        let releases = self
            .store()
            .releases(app.id, 50, 0)
            .await
            .map_err(|error| unavailable(&error))?;
        let latest = self
            .store()
            .latest_accepted_release(app.id)
            .await
            .map_err(|error| unavailable(&error))?;
        Ok(AppDetail {
            webhook_path: webhook_path(&app.name),
            build: app.build,
            image_pattern: self.image_pattern(&app.name),
            credentials: app
                .credentials
                .as_ref()
                .map(|credentials| credentials.kind.as_str().to_string()),
            maintainers,
            may_change,
            last_polled_at: app
                .last_polled_at
                .map(|at| at.to_rfc3339_opts(RFC3339, true)),
            last_webhook_at: app
                .last_webhook_at
                .map(|at| at.to_rfc3339_opts(RFC3339, true)),
            last_error: app.last_error.clone(),
            failures: app.failures,
            latest_accepted: latest.as_ref().map(summary),
            dscloud_yaml: latest.and_then(|release| release.dscloud_yaml),
            releases: releases.items.iter().map(summary).collect(),
            releases_total: releases.total,
            name: app.name,
            repository_url: app.repository_url,
            branch: app.branch,
            poll_interval_seconds: app.poll_interval_seconds,
        })
    }

    async fn release(
        &self,
        caller: &Caller,
        name: &str,
        sha: &str,
    ) -> Result<ReleaseDetail, ServiceError> {
        developer(caller)?;
        let app = self.named(name).await?;
        let release = match self.store().release(app.id, sha).await {
            Ok(release) => release,
            Err(StoreError::NotFound) => {
                return Err(ServiceError::NotFound(format!(
                    "{name} has no release {sha:?}"
                )));
            }
            Err(error) => return Err(unavailable(&error)),
        };
        let text = |value: &serde_json::Value| value.as_str().unwrap_or_default().to_string();
        let file = release
            .dscloud_yaml
            .as_deref()
            .and_then(|yaml| app::dscloud::check(yaml).file);
        let previous_file = match &release.previous_sha {
            Some(previous) => self
                .store()
                .release(app.id, previous)
                .await
                .ok()
                .and_then(|previous| previous.dscloud_yaml)
                .and_then(|yaml| app::dscloud::check(&yaml).file),
            None => None,
        };
        let changes = match (&previous_file, &file) {
            (Some(before), Some(after)) => app::apps::diff::changes(before, after),
            (None, Some(_)) if release.previous_sha.is_some() => {
                vec!["the previous release's file could not be read: no comparison".to_string()]
            }
            _ => Vec::new(),
        };
        let environments = file
            .as_ref()
            .map(|file| file.environments(&["dev", "test", "prod"]))
            .unwrap_or_default();
        Ok(ReleaseDetail {
            app: app.name,
            summary: summary(&release),
            author_email: release.author_email.clone(),
            previous_sha: release.previous_sha.clone(),
            commits: release
                .commits
                .as_array()
                .into_iter()
                .flatten()
                .map(|commit| {
                    (
                        text(&commit["sha"]),
                        text(&commit["subject"]),
                        text(&commit["author"]),
                    )
                })
                .collect(),
            commits_truncated: release.commits_truncated,
            problems: release
                .problems
                .as_array()
                .into_iter()
                .flatten()
                .map(|problem| {
                    (
                        problem["line"].as_u64().unwrap_or(0),
                        problem["column"].as_u64().unwrap_or(0),
                        text(&problem["path"]),
                        text(&problem["message"]),
                        problem["severity"] == "error",
                    )
                })
                .collect(),
            dscloud_yaml: release.dscloud_yaml,
            changes,
            environments,
        })
    }

    async fn rotate_webhook_secret(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<String, ServiceError> {
        developer(caller)?;
        let secret = AppService::rotate_webhook_secret(self, caller, name).await?;
        Ok(secret.expose_secret().to_string())
    }

    async fn update(&self, caller: &Caller, form: AppSettingsForm) -> Result<(), ServiceError> {
        developer(caller)?;
        let branch = Some(form.branch.trim().to_string()).filter(|branch| !branch.is_empty());
        let poll_interval_seconds = match form.poll_interval_seconds.trim() {
            "" => None,
            text => Some(text.parse::<u32>().map_err(|_| {
                ServiceError::Invalid(format!("{text:?} is not a number of seconds"))
            })?),
        };
        let credentials = match form.credentials_kind.trim() {
            "" | "keep" => None,
            "none" => Some(None),
            "token" => Some(Some((
                CredentialsKind::Token,
                SecretString::from(form.credentials.trim().to_string()),
            ))),
            "ssh-key" => Some(Some((
                CredentialsKind::SshKey,
                SecretString::from(form.credentials.clone()),
            ))),
            other => {
                return Err(ServiceError::Invalid(format!(
                    "unknown kind of credentials {other:?}: keep, none, token or ssh-key"
                )));
            }
        };
        let build = app::apps::BuildMode::parse(&form.build).map_err(ServiceError::Invalid)?;
        self.update_settings(
            caller,
            form.name.trim(),
            branch,
            poll_interval_seconds,
            credentials,
            build,
        )
        .await
    }

    async fn delete(
        &self,
        caller: &Caller,
        name: &str,
        confirm_name: &str,
    ) -> Result<(), ServiceError> {
        developer(caller)?;
        if confirm_name.trim() != name {
            return Err(ServiceError::Invalid(format!(
                "type the app's name, {name}, to confirm"
            )));
        }
        AppService::delete(self, caller, name).await
    }
}
