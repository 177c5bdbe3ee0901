//! What the databases pages' server functions call. Ownership is decided
//! here on every call: customers see and act on their own databases only,
//! admins on everyone's; another customer's database answers exactly like
//! one that does not exist. Changes only write desired state to the store
//! and wake the engine; every change and every password reveal is audited.

use std::collections::HashMap;
use std::sync::Arc;

use app::caller::{Caller, ServiceError};
use app::databases::{
    DATABASES_PAGE_SIZE, DatabaseChange, DatabaseDetail, DatabaseList, DatabaseOverview, Engine,
    LOCAL_REGION, NewDatabaseForm, Status, check_name, check_schema_name, default_schema_name,
    tier,
};
use app::roles::Role;
use serde_json::json;
use uuid::Uuid;

use super::detail::summary;
use crate::audit::{Actor, audit};
use crate::provisioning::RegionConnection;
use crate::provisioning::credentials::CredentialsClient;
use crate::provisioning::engine::database_spec;
use crate::store::prelude::*;
use crate::store::{
    Creation, DatabaseQuery, DatabaseRecord, DesiredChange, NewDatabase, Outcome, StoreError,
};

pub struct DatabaseService {
    pub(super) store: Arc<dyn Store>,
    /// Where databases are provisioned: each region's cluster (credentials
    /// live there) and the wake-up of its engine. Empty without Kubernetes.
    pub(super) regions: Vec<RegionConnection>,
}

/// Who is calling, as the ownership checks need it.
pub(super) struct Requester {
    pub(super) id: Uuid,
    pub(super) admin: bool,
    pub(super) actor: Actor,
}

impl DatabaseService {
    pub fn new(store: Arc<dyn Store>, regions: Vec<RegionConnection>) -> Self {
        DatabaseService { store, regions }
    }

    pub(super) fn region(&self, name: &str) -> Option<&RegionConnection> {
        self.regions.iter().find(|region| region.name == name)
    }

    /// The regions a new database may go to; without Kubernetes, `local`
    /// (the desired state waits in the store for an engine).
    fn offered_regions(&self) -> Vec<&str> {
        if self.regions.is_empty() {
            vec![LOCAL_REGION]
        } else {
            self.regions
                .iter()
                .map(|region| region.name.as_str())
                .collect()
        }
    }

    pub(super) fn requester(caller: &Caller) -> Result<Requester, ServiceError> {
        let id = caller
            .user_id
            .as_deref()
            .and_then(|id| Uuid::parse_str(id).ok())
            .ok_or_else(|| ServiceError::Forbidden("sign in first".to_string()))?;
        Ok(Requester {
            id,
            admin: caller.role == Some(Role::Admin),
            actor: Actor::signed_in(id, caller),
        })
    }

    /// The database, if the requester may see it; otherwise "not found".
    async fn visible(
        &self,
        requester: &Requester,
        id: &str,
    ) -> Result<DatabaseRecord, ServiceError> {
        let not_found = || ServiceError::NotFound(format!("no database {id:?} among yours"));
        let uuid = Uuid::parse_str(id).map_err(|_| not_found())?;
        match self.store.database(uuid).await {
            Ok(record) if requester.admin || record.owner_id == requester.id => Ok(record),
            Ok(_) | Err(StoreError::NotFound) => Err(not_found()),
            Err(error) => Err(unavailable(&error)),
        }
    }

    /// The credentials Secret's client in the database's region.
    fn credentials(&self, record: &DatabaseRecord) -> Result<CredentialsClient, ServiceError> {
        self.region(&record.region)
            .map(|region| CredentialsClient::new(region.client.clone()))
            .ok_or_else(|| {
                ServiceError::Unavailable(format!(
                    "region {} is not connected to this portal, so its credentials cannot be reached",
                    record.region
                ))
            })
    }

    /// Wakes the engine of the database's region after a change of its
    /// desired state.
    fn wake_engine(&self, record: &DatabaseRecord) {
        if let Some(region) = self.region(&record.region) {
            region.engine.changed(record.id);
        }
    }

    async fn owner_names(&self, records: &[DatabaseRecord]) -> HashMap<Uuid, String> {
        let mut names = HashMap::new();
        for record in records {
            if names.contains_key(&record.owner_id) {
                continue;
            }
            let name = match self.store.user_by_id(record.owner_id).await {
                Ok(user) => user.username,
                Err(_) => "(deleted user)".to_string(),
            };
            names.insert(record.owner_id, name);
        }
        names
    }

    /// The detail of a database the caller may see (the live updates use it).
    pub async fn visible_detail(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<(DatabaseRecord, DatabaseDetail), ServiceError> {
        let requester = Self::requester(caller)?;
        let record = self.visible(&requester, id).await?;
        let detail = self.detail_of(record.clone()).await?;
        Ok((record, detail))
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

pub(super) fn unavailable(error: &StoreError) -> ServiceError {
    tracing::error!(%error, "databases: the store failed");
    ServiceError::Unavailable("the portal's database cannot be reached; try again".to_string())
}

#[async_trait::async_trait]
impl app::databases::Databases for DatabaseService {
    async fn quota(&self, caller: &Caller) -> Result<app::databases::QuotaView, ServiceError> {
        self.quota_view(caller).await
    }

    async fn quota_board(
        &self,
        caller: &Caller,
        page: u32,
    ) -> Result<app::databases::QuotaBoard, ServiceError> {
        self.board(caller, page).await
    }

    async fn set_quota(
        &self,
        caller: &Caller,
        username: Option<String>,
        quota: Option<app::databases::Quota>,
    ) -> Result<(), ServiceError> {
        self.change_quota(caller, username, quota).await
    }

    async fn overview(&self, caller: &Caller) -> Result<DatabaseOverview, ServiceError> {
        /// The most ERROR databases the home page lists.
        const ATTENTION: u32 = 5;
        let requester = Self::requester(caller)?;
        let mut overview = DatabaseOverview::default();
        for status in Status::ALL {
            let query = DatabaseQuery {
                owner_id: (!requester.admin).then_some(requester.id),
                status: Some(status),
                limit: if status == Status::Error {
                    ATTENTION
                } else {
                    1
                },
                ..DatabaseQuery::default()
            };
            let found = self
                .store
                .list_databases(&query)
                .await
                .map_err(|error| unavailable(&error))?;
            if found.total > 0 {
                overview.counts.push((status, found.total));
            }
            if status == Status::Error {
                overview.attention = found
                    .items
                    .into_iter()
                    .map(|record| summary(record, None))
                    .collect();
            }
        }
        Ok(overview)
    }

    async fn list(
        &self,
        caller: &Caller,
        search: String,
        status: Option<Status>,
        page: u32,
    ) -> Result<DatabaseList, ServiceError> {
        let requester = Self::requester(caller)?;
        let page = page.max(1);
        let search = search.trim();
        let query = DatabaseQuery {
            owner_id: (!requester.admin).then_some(requester.id),
            search: (!search.is_empty()).then(|| search.to_lowercase()),
            status,
            limit: DATABASES_PAGE_SIZE,
            offset: (page - 1).saturating_mul(DATABASES_PAGE_SIZE),
        };
        let found = self
            .store
            .list_databases(&query)
            .await
            .map_err(|error| unavailable(&error))?;
        let owners = if requester.admin {
            self.owner_names(&found.items).await
        } else {
            HashMap::new()
        };
        Ok(DatabaseList {
            items: found
                .items
                .into_iter()
                .map(|record| {
                    let owner = owners.get(&record.owner_id).cloned();
                    summary(record, owner)
                })
                .collect(),
            total: found.total,
            page,
            page_size: DATABASES_PAGE_SIZE,
        })
    }

    async fn create(&self, caller: &Caller, form: NewDatabaseForm) -> Result<String, ServiceError> {
        let requester = Self::requester(caller)?;
        let name = form.name.trim().to_string();
        check_name(&name)?;
        let engine: Engine = form.engine.parse()?;
        let schema_name = match form.schema_name.trim() {
            "" => default_schema_name(&name),
            given => given.to_string(),
        };
        check_schema_name(engine, &schema_name)?;
        let tier = tier(form.tier.trim()).ok_or_else(|| {
            ServiceError::Invalid(format!(
                "unknown size {:?}: choose starter, small, medium or large",
                form.tier
            ))
        })?;
        let region = form.region.trim();
        let offered = self.offered_regions();
        if !offered.contains(&region) {
            return Err(ServiceError::Invalid(format!(
                "unknown region {region:?}: choose {}",
                offered.join(", ")
            )));
        }
        let request_key = form.request_key.trim();
        let id = Uuid::now_v7();
        let target = format!("database:{id}");
        let details = json!({"name": name, "engine": engine.as_str(), "tier": tier.name, "region": region, "schema": schema_name});
        let created = self
            .store
            .create_database(NewDatabase {
                id,
                owner_id: requester.id,
                name: name.clone(),
                engine,
                tier: *tier,
                region: region.to_string(),
                schema_name: schema_name.clone(),
                request_key: (!request_key.is_empty())
                    .then(|| request_key.chars().take(128).collect()),
                audit: Some(crate::audit::event(
                    &requester.actor,
                    "database.create",
                    &target,
                    Outcome::Success,
                    details.clone(),
                )),
            })
            .await;
        match created {
            // The same form again (a double click, a retry): the database it
            // made before, already audited and known to the engine.
            Ok(Creation::Replayed(record)) => Ok(record.id.to_string()),
            Ok(Creation::Created(record)) => {
                self.wake_engine(&record);
                Ok(record.id.to_string())
            }
            Err(StoreError::OverQuota(reason)) => {
                let mut details = details;
                details["reason"] = json!(reason);
                audit(
                    self.store.as_ref(),
                    &requester.actor,
                    "database.create",
                    &format!("user:{}", requester.actor.name),
                    Outcome::Denied,
                    details,
                )
                .await;
                Err(ServiceError::Conflict(reason))
            }
            Err(StoreError::Conflict(reason)) => Err(ServiceError::Conflict(reason)),
            Err(error) => Err(unavailable(&error)),
        }
    }

    async fn detail(&self, caller: &Caller, id: &str) -> Result<DatabaseDetail, ServiceError> {
        self.visible_detail(caller, id)
            .await
            .map(|(_, detail)| detail)
    }

    async fn reveal_password(&self, caller: &Caller, id: &str) -> Result<String, ServiceError> {
        let requester = Self::requester(caller)?;
        let record = self.visible(&requester, id).await?;
        let target = format!("database:{}", record.id);
        let credentials = self.credentials(&record)?;
        let spec = database_spec(&record);
        let revealed = credentials.password(&spec).await;
        let outcome = if revealed.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        // Who saw the password, and when; never the password itself. No
        // record, no password: the log must not miss a reveal.
        let recorded = crate::audit::audit_or_refuse(
            self.store.as_ref(),
            &requester.actor,
            "database.credential.reveal",
            &target,
            outcome,
            json!({"name": record.name}),
        )
        .await;
        if recorded.is_err() {
            return Err(ServiceError::Unavailable(
                "the audit log cannot be written right now, so the password is not shown: try again shortly".to_string(),
            ));
        }
        match revealed {
            Ok(Some(password)) => Ok(password),
            Ok(None) => Err(ServiceError::Invalid(
                "the credentials do not exist yet: they are created in the first seconds of provisioning".to_string(),
            )),
            Err(error) => {
                tracing::warn!(database = %record.id, %error, "cannot read the credentials");
                Err(ServiceError::Unavailable("Kubernetes did not answer; try again".to_string()))
            }
        }
    }

    async fn rotate_password(&self, caller: &Caller, id: &str) -> Result<(), ServiceError> {
        let requester = Self::requester(caller)?;
        let record = self.visible(&requester, id).await?;
        // Desired state only: the engine writes the new password and sets it
        // inside the database, whatever happens to this process meanwhile.
        let event = crate::audit::event(
            &requester.actor,
            "database.credential.rotate",
            &format!("database:{}", record.id),
            Outcome::Success,
            json!({"name": record.name}),
        );
        let changed = self
            .apply_change(&record, DesiredChange::RotateCredentials, &event)
            .await?;
        self.wake_engine(&changed);
        Ok(())
    }

    async fn change(
        &self,
        caller: &Caller,
        id: &str,
        change: DatabaseChange,
        confirm_name: String,
    ) -> Result<(), ServiceError> {
        let requester = Self::requester(caller)?;
        let record = self.visible(&requester, id).await?;
        let target = format!("database:{}", record.id);
        let desired = match &change {
            DatabaseChange::DeletionProtection(enabled) => {
                DesiredChange::DeletionProtection(*enabled)
            }
            DatabaseChange::Resize(new_tier) => {
                DesiredChange::Resize(*tier(new_tier).ok_or_else(|| {
                    ServiceError::Invalid(format!(
                        "unknown size {new_tier:?}: choose starter, small, medium or large"
                    ))
                })?)
            }
            DatabaseChange::Terminate => DesiredChange::Terminate,
            DatabaseChange::Park => DesiredChange::Park,
            DatabaseChange::Resume => DesiredChange::Resume,
        };
        if desired == DesiredChange::Terminate && desired.refusal(&record).is_none() {
            // Checked before anything else, so a wrong name changes nothing.
            if confirm_name.trim() != record.name {
                return Err(ServiceError::Invalid(format!(
                    "type the database's name, {}, to confirm",
                    record.name
                )));
            }
        }
        let details = match desired {
            DesiredChange::DeletionProtection(enabled) => {
                json!({"name": record.name, "enabled": enabled})
            }
            _ => json!({
                "name": record.name,
                "before": {"intent": record.intent.as_str(), "tier": record.tier.name},
                "after": {
                    "intent": change.intent().unwrap_or(record.intent).as_str(),
                    "tier": match &change {
                        DatabaseChange::Resize(tier) => tier.as_str(),
                        _ => record.tier.name,
                    },
                },
            }),
        };
        let event = crate::audit::event(
            &requester.actor,
            change.audit_action(),
            &target,
            Outcome::Success,
            details,
        );
        match self.apply_change(&record, desired, &event).await {
            Ok(changed) => {
                if !matches!(desired, DesiredChange::DeletionProtection(_)) {
                    self.wake_engine(&changed);
                }
                Ok(())
            }
            Err(refused) => {
                if desired == DesiredChange::Terminate && record.deletion_protection {
                    audit(
                        self.store.as_ref(),
                        &requester.actor,
                        change.audit_action(),
                        &target,
                        Outcome::Denied,
                        json!({"name": record.name, "reason": "deletion protection"}),
                    )
                    .await;
                }
                Err(refused)
            }
        }
    }
}

impl DatabaseService {
    /// Makes a change the database allows as it stands, checked and made
    /// in one statement; a refusal says why (409).
    async fn apply_change(
        &self,
        record: &DatabaseRecord,
        change: DesiredChange,
        audit: &crate::store::NewAuditEvent,
    ) -> Result<DatabaseRecord, ServiceError> {
        if let Some(reason) = change.refusal(record) {
            return Err(ServiceError::Conflict(reason));
        }
        match self
            .store
            .change_database(record.id, change, Some(audit))
            .await
        {
            Ok(changed) => Ok(changed),
            Err(StoreError::Conflict(reason)) => Err(ServiceError::Conflict(reason)),
            Err(StoreError::OverQuota(reason)) => {
                let mut denied = audit.clone();
                denied.outcome = Outcome::Denied;
                denied.details["reason"] = json!(reason);
                // Logged there if it fails; the refusal stands either way.
                let _ = crate::audit::append_or_refuse(self.store.as_ref(), denied).await;
                Err(ServiceError::Conflict(reason))
            }
            Err(StoreError::NotFound) => Err(ServiceError::NotFound(format!(
                "no database {} among yours",
                record.id
            ))),
            Err(error) => Err(unavailable(&error)),
        }
    }
}
