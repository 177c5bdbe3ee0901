//! Registering an app and changing its settings. A registration checks the
//! repository at once (reachable, credentials accepted, the branch there,
//! a `dscloud.yaml` at its head that passes the checks) and creates
//! nothing unless all of it holds. Only developers and admins register;
//! only an app's maintainers (and admins) change it.

use std::sync::Arc;

use app::caller::{Caller, ServiceError};
use app::roles::Role;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use uuid::Uuid;

use super::release::{describe_problems, release_of};
use super::{MAX_APP_NAME, credentials_scope, open_credentials, unavailable, webhook_scope};
use crate::crypto::Keyring;
use crate::engine::Handle;
use crate::git::{Credentials, Git, GitError, Remote, check_branch, check_url};
use crate::store::{
    AppRecord, AppSettings, BuildMode, CredentialsKind, NewApp, Outcome, PollOutcome,
    SealedCredentials, Store, StoreError,
};

/// The poll interval when none is given, and its bounds.
pub const DEFAULT_POLL_SECONDS: u32 = 60;
pub const POLL_SECONDS: std::ops::RangeInclusive<u32> = 10..=86_400;

/// What the register form sends.
pub struct Registration {
    pub name: String,
    pub repository_url: String,
    /// Empty: the repository's default branch.
    pub branch: String,
    pub poll_interval_seconds: Option<u32>,
    pub credentials: Option<(CredentialsKind, SecretString)>,
    /// Usernames of developers who may change the app (the caller is one).
    pub maintainers: Vec<String>,
    pub build: BuildMode,
}

/// A registered app, and its webhook secret, shown this once.
pub struct Registered {
    pub app: AppRecord,
    pub webhook_secret: SecretString,
}

pub struct AppService {
    store: Arc<dyn Store>,
    keyring: Arc<Keyring>,
    git: Git,
    poller: Option<Handle<Uuid>>,
    /// Where images are named, for the pattern external CI pushes to.
    image_registry: String,
}

impl AppService {
    /// The git poller's report, where it runs.
    pub fn poller_probe(&self) -> Option<Arc<dyn crate::engine::health::Probe>> {
        self.poller.as_ref().map(Handle::probe)
    }

    pub fn new(
        store: Arc<dyn Store>,
        keyring: Arc<Keyring>,
        git: Git,
        poller: Option<Handle<Uuid>>,
    ) -> Self {
        AppService {
            store,
            keyring,
            git,
            poller,
            image_registry: crate::deploy::DEFAULT_REGISTRY.to_string(),
        }
    }

    /// The registry images are named after (`--image-registry`).
    pub fn with_image_registry(mut self, registry: &str) -> Self {
        self.image_registry = registry.trim_end_matches('/').to_string();
        self
    }

    /// `<registry>/<app>/<component>:<commit sha>`: where external CI pushes.
    pub fn image_pattern(&self, app: &str) -> String {
        format!("{}/{app}/<component>:<commit sha>", self.image_registry)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub async fn register(
        &self,
        caller: &Caller,
        registration: Registration,
    ) -> Result<Registered, ServiceError> {
        let (caller_id, role, actor) = super::access::signed_in(caller)?;
        if !matches!(role, Role::Developer | Role::Admin) {
            return Err(ServiceError::Forbidden(
                "only developers and admins register apps".to_string(),
            ));
        }
        let name = registration.name.trim().to_string();
        check_app_name(&name)?;
        let url = registration.repository_url.trim().to_string();
        check_url(&url)?;
        let interval = registration
            .poll_interval_seconds
            .unwrap_or(DEFAULT_POLL_SECONDS);
        if !POLL_SECONDS.contains(&interval) {
            return Err(ServiceError::Invalid(format!(
                "poll every {} to {} seconds",
                POLL_SECONDS.start(),
                POLL_SECONDS.end()
            )));
        }
        let credentials = match &registration.credentials {
            Some((kind, value)) if value.expose_secret().trim().is_empty() => {
                return Err(ServiceError::Invalid(format!(
                    "the {} is empty",
                    credentials_noun(*kind)
                )));
            }
            Some((CredentialsKind::Token, token)) => Some(Credentials::Token(token.clone())),
            Some((CredentialsKind::SshKey, key)) => Some(Credentials::SshKey(key.clone())),
            None => None,
        };
        let maintainers = self
            .maintainer_ids(caller_id, &registration.maintainers)
            .await?;
        match self.store.app_by_name(&name).await {
            Ok(_) => {
                return Err(ServiceError::Conflict(format!(
                    "an app named {name:?} exists already"
                )));
            }
            Err(StoreError::NotFound) => {}
            Err(error) => return Err(unavailable(&error)),
        }

        let remote = Remote {
            url: &url,
            credentials: credentials.as_ref(),
        };
        let branch = match registration.branch.trim() {
            "" => self.git.default_branch(&remote).await.map_err(refused)?,
            given => {
                check_branch(given)?;
                given.to_string()
            }
        };
        let head = self
            .git
            .head(&remote, &branch)
            .await
            .map_err(refused)?
            .ok_or_else(|| GitError::NoSuchBranch(branch.clone()))
            .map_err(refused)?;
        let id = Uuid::now_v7();
        let mirror = self.git.mirror(id);
        let checked = async {
            self.git.fetch(&mirror, &remote, &branch).await?;
            release_of(&self.git, &mirror, None, &head).await
        }
        .await;
        let release = match checked {
            Ok(release) if release.accepted => release,
            Ok(release) => {
                discard(&mirror).await;
                return Err(ServiceError::Invalid(format!(
                    "the dscloud.yaml at {} on {branch} does not pass the checks:\n{}",
                    &head[..head.len().min(12)],
                    describe_problems(&release)
                )));
            }
            Err(error) => {
                discard(&mirror).await;
                return Err(refused(error));
            }
        };

        let sealed_credentials = match &registration.credentials {
            Some((kind, value)) => Some(SealedCredentials {
                kind: *kind,
                sealed: self
                    .keyring
                    .seal(&credentials_scope(id), value.expose_secret().as_bytes())
                    .map_err(|error| ServiceError::Unavailable(error.to_string()))?,
            }),
            None => None,
        };
        let webhook_secret = SecretString::from(crate::random::token());
        let webhook_secret_sealed = self
            .keyring
            .seal(
                &webhook_scope(id, 1),
                webhook_secret.expose_secret().as_bytes(),
            )
            .map_err(|error| ServiceError::Unavailable(error.to_string()))?;
        let created = self
            .store
            .create_app(NewApp {
                id,
                name: name.clone(),
                repository_url: url.clone(),
                branch: branch.clone(),
                poll_interval_seconds: interval,
                credentials: sealed_credentials,
                webhook_secret_sealed,
                created_by: Some(caller_id),
                maintainers,
                build: registration.build,
                audit: Some(crate::audit::event(
                    &actor,
                    "app.register",
                    &format!("app:{name}"),
                    Outcome::Success,
                    json!({"repository": url, "branch": branch, "build": registration.build.as_str(), "credentials": registration.credentials.as_ref().map(|(kind, _)| kind.as_str())}),
                )),
            })
            .await;
        let app = match created {
            Ok(app) => app,
            Err(error) => {
                discard(&mirror).await;
                return Err(match error {
                    StoreError::Conflict(message) => ServiceError::Conflict(message),
                    other => unavailable(&other),
                });
            }
        };
        // The first release: the head the check just read.
        let next = chrono::Utc::now() + chrono::Duration::seconds(i64::from(interval));
        self.store
            .record_poll(
                app.id,
                None,
                PollOutcome::NewRelease(Box::new(release)),
                next,
            )
            .await
            .map_err(|error| unavailable(&error))?;
        if let Some(poller) = &self.poller {
            poller.changed(app.id);
        }
        let app = self
            .store
            .app(app.id)
            .await
            .map_err(|error| unavailable(&error))?;
        Ok(Registered {
            app,
            webhook_secret,
        })
    }

    /// The callers' own id and the named developers, all of them users.
    async fn maintainer_ids(
        &self,
        caller: Uuid,
        names: &[String],
    ) -> Result<Vec<Uuid>, ServiceError> {
        let mut ids = vec![caller];
        for name in names
            .iter()
            .map(|name| name.trim())
            .filter(|name| !name.is_empty())
        {
            let user = match self.store.user_by_username(name).await {
                Ok(user) => user,
                Err(StoreError::NotFound) => {
                    return Err(ServiceError::Invalid(format!(
                        "there is no user named {name:?}"
                    )));
                }
                Err(error) => return Err(unavailable(&error)),
            };
            if !matches!(user.role, Role::Developer | Role::Admin) {
                return Err(ServiceError::Invalid(format!(
                    "{name} is not a developer: only developers maintain apps"
                )));
            }
            if !ids.contains(&user.id) {
                ids.push(user.id);
            }
        }
        Ok(ids)
    }

    /// Whether the caller may change `app`: its maintainers and admins.
    pub async fn may_change(&self, caller: &Caller, app: &AppRecord) -> Result<bool, ServiceError> {
        let (id, role, _) = super::access::signed_in(caller)?;
        super::access::may_change(self.store.as_ref(), id, role, app.id).await
    }

    /// A new webhook secret, shown this once; the old one stops working.
    pub async fn rotate_webhook_secret(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<SecretString, ServiceError> {
        let app = self.app_to_change(caller, name).await?;
        let secret = SecretString::from(crate::random::token());
        let sealed = self
            .keyring
            .seal(
                &webhook_scope(app.id, app.webhook_secret_version + 1),
                secret.expose_secret().as_bytes(),
            )
            .map_err(|error| ServiceError::Unavailable(error.to_string()))?;
        let (_, _, actor) = super::access::signed_in(caller)?;
        let event = crate::audit::event(
            &actor,
            "app.webhook_secret.rotate",
            &format!("app:{}", app.name),
            Outcome::Success,
            json!({"version": app.webhook_secret_version + 1}),
        );
        self.store
            .change_app(app.id, AppSettings::WebhookSecret(sealed), Some(&event))
            .await
            .map_err(|error| unavailable(&error))?;
        Ok(secret)
    }

    /// A maintainer's change of branch, interval or credentials; a new
    /// branch must exist (and be readable with the credentials given).
    pub async fn update_settings(
        &self,
        caller: &Caller,
        name: &str,
        branch: Option<String>,
        poll_interval_seconds: Option<u32>,
        credentials: Option<Option<(CredentialsKind, SecretString)>>,
        build: Option<BuildMode>,
    ) -> Result<(), ServiceError> {
        let app = self.app_to_change(caller, name).await?;
        let (_, _, actor) = super::access::signed_in(caller)?;
        if let Some(seconds) = poll_interval_seconds
            && !POLL_SECONDS.contains(&seconds)
        {
            return Err(ServiceError::Invalid(format!(
                "poll every {} to {} seconds",
                POLL_SECONDS.start(),
                POLL_SECONDS.end()
            )));
        }
        let mut changes = Vec::new();
        if let Some(Some((kind, value))) = &credentials
            && value.expose_secret().trim().is_empty()
        {
            return Err(ServiceError::Invalid(format!(
                "the {} is empty",
                credentials_noun(*kind)
            )));
        }
        if let Some(branch) = branch.filter(|branch| *branch != app.branch) {
            check_branch(&branch)?;
            // Checked with the credentials it will be read with.
            let given = match &credentials {
                Some(Some((CredentialsKind::Token, token))) => {
                    Some(Credentials::Token(token.clone()))
                }
                Some(Some((CredentialsKind::SshKey, key))) => {
                    Some(Credentials::SshKey(key.clone()))
                }
                Some(None) => None,
                None => open_credentials(&self.keyring, &app)
                    .map_err(|error| ServiceError::Unavailable(error.to_string()))?,
            };
            let remote = Remote {
                url: &app.repository_url,
                credentials: given.as_ref(),
            };
            self.git
                .head(&remote, &branch)
                .await
                .map_err(refused)?
                .ok_or_else(|| refused(GitError::NoSuchBranch(branch.clone())))?;
            changes.push((
                AppSettings::Branch(branch.clone()),
                json!({"branch": {"before": app.branch, "after": branch}}),
            ));
        }
        if let Some(seconds) =
            poll_interval_seconds.filter(|seconds| *seconds != app.poll_interval_seconds)
        {
            changes.push((
                AppSettings::PollInterval(seconds),
                json!({"poll_interval_seconds": {"before": app.poll_interval_seconds, "after": seconds}}),
            ));
        }
        if let Some(build) = build.filter(|build| *build != app.build) {
            changes.push((
                AppSettings::Build(build),
                json!({"build": {"before": app.build.as_str(), "after": build.as_str()}}),
            ));
        }
        if let Some(credentials) = credentials {
            let sealed = match &credentials {
                Some((kind, value)) => Some(SealedCredentials {
                    kind: *kind,
                    sealed: self
                        .keyring
                        .seal(&credentials_scope(app.id), value.expose_secret().as_bytes())
                        .map_err(|error| ServiceError::Unavailable(error.to_string()))?,
                }),
                None => None,
            };
            changes.push((
                AppSettings::Credentials(sealed),
                json!({"credentials": credentials.as_ref().map(|(kind, _)| kind.as_str())}),
            ));
        }
        if changes.is_empty() {
            return Ok(());
        }
        for (change, details) in changes {
            let action = match change {
                AppSettings::Credentials(_) => "app.credentials.replace",
                _ => "app.settings.change",
            };
            let event = crate::audit::event(
                &actor,
                action,
                &format!("app:{}", app.name),
                Outcome::Success,
                details,
            );
            self.store
                .change_app(app.id, change, Some(&event))
                .await
                .map_err(|error| unavailable(&error))?;
        }
        if let Some(poller) = &self.poller {
            poller.changed(app.id);
        }
        Ok(())
    }

    pub async fn delete(&self, caller: &Caller, name: &str) -> Result<(), ServiceError> {
        let app = self.app_to_change(caller, name).await?;
        let (_, _, actor) = super::access::signed_in(caller)?;
        let event = crate::audit::event(
            &actor,
            "app.delete",
            &format!("app:{}", app.name),
            Outcome::Success,
            json!({"repository": app.repository_url}),
        );
        self.store
            .delete_app(app.id, Some(&event))
            .await
            .map_err(|error| unavailable(&error))?;
        discard(&self.git.mirror(app.id)).await;
        Ok(())
    }

    async fn app_to_change(&self, caller: &Caller, name: &str) -> Result<AppRecord, ServiceError> {
        let app = super::access::app_named(self.store.as_ref(), name).await?;
        if !self.may_change(caller, &app).await? {
            return Err(ServiceError::Forbidden(format!(
                "only {name}'s maintainers and admins may change it"
            )));
        }
        Ok(app)
    }
}

/// An app name: a DNS label short enough to name `<app>-<environment>`,
/// and not one of the apps pages' own paths.
pub fn check_app_name(name: &str) -> Result<(), ServiceError> {
    use app::names::{LabelProblem, dns_label};
    if ["new", "validate"].contains(&name) {
        return Err(ServiceError::Invalid(format!(
            "{name:?} is taken by the portal's own pages: choose another name"
        )));
    }
    dns_label(name, MAX_APP_NAME).map_err(|problem| {
        ServiceError::Invalid(match problem {
            LabelProblem::Empty => "give the app a name".to_string(),
            LabelProblem::TooLong(length) => format!(
                "{name:?} has {length} characters; at most {MAX_APP_NAME} (it names the namespaces <app>-<environment>)"
            ),
            LabelProblem::Characters => {
                format!("{name:?}: use lowercase letters, digits and '-' only")
            }
            LabelProblem::Ends => format!("{name:?}: start and end with a letter or digit"),
        })
    })
}

fn credentials_noun(kind: CredentialsKind) -> &'static str {
    match kind {
        CredentialsKind::Token => "access token",
        CredentialsKind::SshKey => "SSH deploy key",
    }
}

/// A repository's refusal, as the register form shows it.
fn refused(error: GitError) -> ServiceError {
    ServiceError::Invalid(error.to_string())
}

/// Removes a mirror made for a registration that did not happen.
async fn discard(mirror: &std::path::Path) {
    if let Err(error) = tokio::fs::remove_dir_all(mirror).await
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(%error, mirror = %mirror.display(), "cannot remove a repository mirror");
    }
}
