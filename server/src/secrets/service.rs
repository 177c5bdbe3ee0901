//! The secrets pages' service: who may see and change what, and every
//! change written as new sealed versions, audited (key, environment,
//! version, who; never the value) and handed to the deploy engine.

use std::collections::BTreeMap;
use std::sync::Arc;

use app::caller::{Caller, ServiceError};
use app::roles::Role;
use app::secrets::{
    AppSecrets, AppSecretsSummary, EnvironmentSecrets, MAX_SECRET_BYTES, OVERVIEW_PAGE_SIZE,
    SecretGroupView, SecretKeyView, SecretState, SecretVersionView, SecretsOverview, SetValue,
    check_secret_name,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use uuid::Uuid;

use crate::apps::{access, unavailable};
use crate::audit::Actor;
use crate::crypto::Keyring;
use crate::deploy::Key;
use crate::deploy::known_environment;
use crate::engine::Handle;
use crate::store::{
    AppQuery, AppRecord, NewSecretVersion, Outcome, Person, SecretSlot, SecretVersion, Store,
    StoreError,
};

/// How often a write is tried again when another landed first.
const WRITE_ATTEMPTS: usize = 3;

pub struct SecretService {
    store: Arc<dyn Store>,
    keyring: Arc<Keyring>,
    environments: Vec<String>,
    engine: Option<Handle<Key>>,
}

/// Who changes which app's secrets, checked.
struct Changer {
    app: AppRecord,
    actor: Actor,
    person: Person,
}

/// One change of one slot: a value, or a deletion.
enum Change {
    Set(SecretString),
    Delete,
}

impl SecretService {
    pub fn new(
        store: Arc<dyn Store>,
        keyring: Arc<Keyring>,
        environments: Vec<String>,
        engine: Option<Handle<Key>>,
    ) -> Self {
        SecretService {
            store,
            keyring,
            environments,
            engine,
        }
    }

    fn reader(caller: &Caller) -> Result<(Uuid, Role), ServiceError> {
        let (id, role, _) = access::developer(caller, "secrets are for developers and admins")?;
        Ok((id, role))
    }

    async fn may_change(&self, caller: &Caller, app: &AppRecord) -> Result<bool, ServiceError> {
        let (id, role) = Self::reader(caller)?;
        access::may_change(self.store.as_ref(), id, role, app.id).await
    }

    async fn app_named(&self, name: &str) -> Result<AppRecord, ServiceError> {
        access::app_named(self.store.as_ref(), name).await
    }

    fn check_environment(&self, environment: &str) -> Result<(), ServiceError> {
        known_environment(&self.environments, environment)
    }

    fn check_group(group: &str) -> Result<(), ServiceError> {
        if group.is_empty() || app::names::dns_label(group, app::dscloud::MAX_LABEL).is_ok() {
            Ok(())
        } else {
            Err(ServiceError::Invalid(format!(
                "{group:?} is not a secret group's name (a DNS label: lowercase letters, digits, '-')"
            )))
        }
    }

    /// The app, checked for a change by this caller in this environment.
    async fn changeable(
        &self,
        caller: &Caller,
        app: &str,
        environment: &str,
        group: &str,
    ) -> Result<Changer, ServiceError> {
        let (id, role, actor) = access::developer(caller, "secrets are for developers and admins")?;
        self.check_environment(environment)?;
        Self::check_group(group)?;
        let app = self.app_named(app).await?;
        if !access::may_change(self.store.as_ref(), id, role, app.id).await? {
            return Err(ServiceError::Forbidden(format!(
                "only {}'s maintainers and admins change its secrets",
                app.name
            )));
        }
        let person = Person {
            id,
            name: actor.name.clone(),
        };
        Ok(Changer { app, actor, person })
    }

    /// One slot changed and audited as `action`; answers its new version.
    async fn change_one(
        &self,
        changer: &Changer,
        environment: &str,
        slot: SecretSlot,
        change: Change,
        action: &str,
    ) -> Result<i64, ServiceError> {
        let versions = self
            .write(changer, environment, &[(slot, change)], action)
            .await?;
        Ok(versions.first().copied().unwrap_or_default())
    }

    /// Writes the changes as the next versions of their slots, with their
    /// audit event (`action`), all or none, trying again when another write
    /// landed first. Answers each slot's new version.
    async fn write(
        &self,
        changer: &Changer,
        environment: &str,
        changes: &[(SecretSlot, Change)],
        action: &str,
    ) -> Result<Vec<i64>, ServiceError> {
        let app = &changer.app;
        for attempt in 1..=WRITE_ATTEMPTS {
            let latest = self.latest(app.id, environment).await?;
            let mut versions = Vec::with_capacity(changes.len());
            for (slot, change) in changes {
                let current = latest.get(slot);
                let version = current.map_or(1, |row| row.version + 1);
                let sealed = match change {
                    Change::Set(value) => {
                        let purpose = super::purpose(environment, &slot.group);
                        let scope = super::scope(app.id, &purpose, slot, version);
                        Some(
                            self.keyring
                                .seal(&scope, value.expose_secret().as_bytes())
                                .map_err(|error| {
                                    tracing::error!(%error, "secrets: cannot seal");
                                    ServiceError::Unavailable(
                                        "the value could not be sealed; nothing was saved"
                                            .to_string(),
                                    )
                                })?,
                        )
                    }
                    Change::Delete => {
                        if current.is_none_or(|row| row.sealed.is_none()) {
                            return Err(ServiceError::NotFound(format!(
                                "{} has no value in {environment}",
                                slot.label()
                            )));
                        }
                        None
                    }
                };
                versions.push(NewSecretVersion {
                    slot: slot.clone(),
                    version,
                    sealed,
                });
            }
            let written: Vec<(SecretSlot, i64)> = versions
                .iter()
                .map(|version| (version.slot.clone(), version.version))
                .collect();
            let event = Self::event(changer, action, environment, &written);
            match self
                .store
                .insert_secret_versions(
                    app.id,
                    environment,
                    &versions,
                    &changer.person,
                    Some(&event),
                )
                .await
            {
                Ok(()) => {
                    if let Some(engine) = &self.engine {
                        engine.changed((app.id, environment.to_string()));
                    }
                    return Ok(versions.iter().map(|version| version.version).collect());
                }
                Err(StoreError::Conflict(message)) if attempt == WRITE_ATTEMPTS => {
                    return Err(ServiceError::Conflict(message));
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(error) => return Err(unavailable(&error)),
            }
        }
        Err(ServiceError::Conflict(
            "the secrets kept changing meanwhile; try again".to_string(),
        ))
    }

    async fn latest(
        &self,
        app: Uuid,
        environment: &str,
    ) -> Result<BTreeMap<SecretSlot, SecretVersion>, ServiceError> {
        Ok(self
            .store
            .latest_secrets(app, environment)
            .await
            .map_err(|error| unavailable(&error))?
            .into_iter()
            .map(|row| (row.slot.clone(), row))
            .collect())
    }

    /// The audit event of a write: which keys got which versions; never a value.
    fn event(
        changer: &Changer,
        action: &str,
        environment: &str,
        slots: &[(SecretSlot, i64)],
    ) -> crate::store::NewAuditEvent {
        let keys: Vec<_> = slots
            .iter()
            .map(|(slot, version)| json!({ "group": slot.group, "key": slot.name, "version": version }))
            .collect();
        crate::audit::event(
            &changer.actor,
            action,
            &format!("app:{}", changer.app.name),
            Outcome::Success,
            json!({ "environment": environment, "keys": keys }),
        )
    }

    /// Each environment's slots: the ones the newest release expects, then
    /// the ones set that it does not read.
    async fn environments_of(
        &self,
        app: &AppRecord,
        file: Option<&app::dscloud::DscloudFile>,
    ) -> Result<Vec<EnvironmentSecrets>, ServiceError> {
        let mut environments = Vec::new();
        for environment in &self.environments {
            let expected = file
                .map(|file| super::expected(file, environment))
                .unwrap_or_default();
            let latest = self.latest(app.id, environment).await?;
            let mut groups: BTreeMap<String, Vec<SecretKeyView>> = BTreeMap::new();
            for (slot, needed_by) in &expected {
                let state = match latest.get(slot) {
                    Some(row) if row.sealed.is_some() => SecretState::Set(set_value(row)),
                    _ => SecretState::Missing,
                };
                groups
                    .entry(slot.group.clone())
                    .or_default()
                    .push(SecretKeyView {
                        name: slot.name.clone(),
                        state,
                        needed_by: needed_by.clone(),
                    });
            }
            for (slot, row) in &latest {
                if row.sealed.is_some() && !expected.contains_key(slot) {
                    groups
                        .entry(slot.group.clone())
                        .or_default()
                        .push(SecretKeyView {
                            name: slot.name.clone(),
                            state: SecretState::Unused(set_value(row)),
                            needed_by: Vec::new(),
                        });
                }
            }
            // The app's own Secret ('' sorts first), then the groups by name.
            groups.entry(String::new()).or_default();
            environments.push(EnvironmentSecrets {
                environment: environment.clone(),
                groups: groups
                    .into_iter()
                    .map(|(group, keys)| SecretGroupView { group, keys })
                    .collect(),
            });
        }
        Ok(environments)
    }

    async fn newest_file(
        &self,
        app: &AppRecord,
    ) -> Result<Option<(String, app::dscloud::DscloudFile)>, ServiceError> {
        let release = self
            .store
            .latest_accepted_release(app.id)
            .await
            .map_err(|error| unavailable(&error))?;
        Ok(release.and_then(|release| {
            let file = app::dscloud::check(release.dscloud_yaml.as_deref()?).file?;
            Some((
                release.sha.get(..7).unwrap_or(&release.sha).to_string(),
                file,
            ))
        }))
    }
}

fn set_value(row: &SecretVersion) -> SetValue {
    SetValue {
        version: row.version,
        by: row.created_by_name.clone(),
        at: crate::deploy::plan::timestamp(row.created_at),
        in_cluster_since: row.synced_at.map(crate::deploy::plan::timestamp),
    }
}

fn check_name(name: &str) -> Result<(), ServiceError> {
    check_secret_name(name).map_err(ServiceError::Invalid)
}

fn check_value(name: &str, value: &SecretString) -> Result<(), ServiceError> {
    let length = value.expose_secret().len();
    if length == 0 {
        return Err(ServiceError::Invalid(format!(
            "{name} needs a value: to remove it, delete it"
        )));
    }
    if length > MAX_SECRET_BYTES {
        return Err(ServiceError::Invalid(format!(
            "{name}'s value is {length} bytes: at most {} KiB",
            MAX_SECRET_BYTES / 1024
        )));
    }
    Ok(())
}

#[async_trait::async_trait]
impl app::secrets::Secrets for SecretService {
    async fn overview(&self, caller: &Caller, page: u32) -> Result<SecretsOverview, ServiceError> {
        Self::reader(caller)?;
        let page = page.max(1);
        let apps = self
            .store
            .list_apps(&AppQuery {
                search: None,
                limit: OVERVIEW_PAGE_SIZE,
                offset: (page - 1).saturating_mul(OVERVIEW_PAGE_SIZE),
            })
            .await
            .map_err(|error| unavailable(&error))?;
        let mut summaries = Vec::with_capacity(apps.items.len());
        for app in &apps.items {
            let file = self.newest_file(app).await?;
            let environments = self
                .environments_of(app, file.as_ref().map(|(_, file)| file))
                .await?;
            let set = environments
                .iter()
                .flat_map(|environment| &environment.groups)
                .flat_map(|group| &group.keys)
                .filter(|key| !matches!(key.state, SecretState::Missing))
                .count();
            summaries.push(AppSecretsSummary {
                app: app.name.clone(),
                missing: environments
                    .iter()
                    .map(|environment| (environment.environment.clone(), environment.missing()))
                    .filter(|(_, missing)| !missing.is_empty())
                    .collect(),
                set: u32::try_from(set).unwrap_or(u32::MAX),
            });
        }
        Ok(SecretsOverview {
            apps: summaries,
            total: apps.total,
            page,
            page_size: OVERVIEW_PAGE_SIZE,
        })
    }

    async fn app(&self, caller: &Caller, name: &str) -> Result<AppSecrets, ServiceError> {
        Self::reader(caller)?;
        let app = self.app_named(name).await?;
        let may_change = self.may_change(caller, &app).await?;
        let file = self.newest_file(&app).await?;
        let environments = self
            .environments_of(&app, file.as_ref().map(|(_, file)| file))
            .await?;
        Ok(AppSecrets {
            app: app.name,
            release: file.map(|(sha, _)| sha),
            environments,
            may_change,
        })
    }

    async fn versions(
        &self,
        caller: &Caller,
        app: &str,
        environment: &str,
        group: &str,
        name: &str,
    ) -> Result<Vec<SecretVersionView>, ServiceError> {
        Self::reader(caller)?;
        self.check_environment(environment)?;
        Self::check_group(group)?;
        check_name(name)?;
        let app = self.app_named(app).await?;
        let slot = SecretSlot::in_group(group, name);
        let history = self
            .store
            .secret_history(app.id, environment, &slot)
            .await
            .map_err(|error| unavailable(&error))?;
        let newest = history.first().map(|row| row.version);
        Ok(history
            .iter()
            .map(|row| SecretVersionView {
                version: row.version,
                deleted: row.sealed.is_none(),
                by: row.created_by_name.clone(),
                at: crate::deploy::plan::timestamp(row.created_at),
                current: Some(row.version) == newest && row.sealed.is_some(),
            })
            .collect())
    }

    async fn set(
        &self,
        caller: &Caller,
        app: &str,
        environment: &str,
        group: &str,
        name: &str,
        value: SecretString,
    ) -> Result<i64, ServiceError> {
        check_name(name)?;
        check_value(name, &value)?;
        let changer = self.changeable(caller, app, environment, group).await?;
        let slot = SecretSlot::in_group(group, name);
        self.change_one(
            &changer,
            environment,
            slot,
            Change::Set(value),
            "secret.set",
        )
        .await
    }

    async fn delete(
        &self,
        caller: &Caller,
        app: &str,
        environment: &str,
        group: &str,
        name: &str,
    ) -> Result<i64, ServiceError> {
        check_name(name)?;
        let changer = self.changeable(caller, app, environment, group).await?;
        let slot = SecretSlot::in_group(group, name);
        self.change_one(&changer, environment, slot, Change::Delete, "secret.delete")
            .await
    }

    async fn roll_back(
        &self,
        caller: &Caller,
        app: &str,
        environment: &str,
        group: &str,
        name: &str,
        version: i64,
    ) -> Result<i64, ServiceError> {
        check_name(name)?;
        let changer = self.changeable(caller, app, environment, group).await?;
        let app = &changer.app;
        let slot = SecretSlot::in_group(group, name);
        let history = self
            .store
            .secret_history(app.id, environment, &slot)
            .await
            .map_err(|error| unavailable(&error))?;
        let Some(earlier) = history.iter().find(|row| row.version == version) else {
            return Err(ServiceError::NotFound(format!(
                "{} has no version {version} in {environment}",
                slot.label()
            )));
        };
        if history.first().map(|row| row.version) == Some(version) {
            return Err(ServiceError::Invalid(format!(
                "version {version} of {} is the one in force",
                slot.label()
            )));
        }
        let Some(sealed) = &earlier.sealed else {
            return Err(ServiceError::Invalid(format!(
                "version {version} of {} is a deletion: delete the key instead",
                slot.label()
            )));
        };
        let purpose = super::purpose(environment, group);
        let value = self
            .keyring
            .open_text(&super::scope(app.id, &purpose, &slot, version), sealed)
            .map_err(|error| {
                tracing::error!(app = %app.name, %environment, key = %slot.label(), version, %error, "secrets: a stored value does not open");
                ServiceError::Unavailable(format!(
                    "version {version} of {} cannot be opened ({error}); it was not used",
                    slot.label()
                ))
            })?;
        self.change_one(
            &changer,
            environment,
            slot,
            Change::Set(value),
            "secret.rollback",
        )
        .await
    }

    async fn import(
        &self,
        caller: &Caller,
        app: &str,
        environment: &str,
        group: &str,
        text: SecretString,
    ) -> Result<u32, ServiceError> {
        let lines = super::env_file::parse(&text).map_err(|problems| {
            ServiceError::Invalid(format!("nothing was set: {}", problems.join("; ")))
        })?;
        let changer = self.changeable(caller, app, environment, group).await?;
        let changes: Vec<(SecretSlot, Change)> = lines
            .into_iter()
            .map(|line| {
                (
                    SecretSlot::in_group(group, &line.name),
                    Change::Set(line.value),
                )
            })
            .collect();
        let versions = self
            .write(&changer, environment, &changes, "secret.import")
            .await?;
        Ok(u32::try_from(versions.len()).unwrap_or(u32::MAX))
    }
}
