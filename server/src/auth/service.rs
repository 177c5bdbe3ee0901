//! What the account, users and audit pages' server functions call: the
//! `app::accounts::Accounts` the server provides. Every change is audited
//! with who made it and from where; passwords never leave here.

use std::collections::HashMap;
use std::sync::Arc;

use app::accounts::{
    AccountView, AuditEntry, AuditFilter, AuditList, USERS_PAGE_SIZE, UserList, UserSummary,
};
use app::caller::{Caller, ServiceError};
use app::roles::Role;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::json;

use super::accounts::{self, AccountError, NewLocalUser};
use super::password;
use crate::audit::{Actor, audit};
use crate::store::{AuditQuery, Outcome, Store, StoreError, User, UserQuery};

pub struct AccountService {
    store: Arc<dyn Store>,
    /// Wrong current passwords slow down like wrong sign-ins: a stolen
    /// session must not become a fast way to guess the password.
    password_changes: std::sync::Mutex<super::throttle::Throttle>,
    /// Single-sign-on issuers by URL, with the name users know them by.
    provider_names: HashMap<String, String>,
}

impl AccountService {
    pub fn new(
        store: Arc<dyn Store>,
        providers: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        AccountService {
            store,
            password_changes: Default::default(),
            provider_names: providers
                .into_iter()
                .map(|(issuer, name)| (issuer.trim_end_matches('/').to_string(), name))
                .collect(),
        }
    }

    fn password_changes(&self) -> std::sync::MutexGuard<'_, super::throttle::Throttle> {
        self.password_changes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn summary(&self, user: &User) -> UserSummary {
        let signs_in_with = match &user.oidc_identity {
            Some(identity) => self
                .provider_names
                .get(identity.issuer.trim_end_matches('/'))
                .cloned()
                .unwrap_or_else(|| identity.issuer.clone()),
            None => "password".to_string(),
        };
        UserSummary {
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            email: user.email.clone(),
            role: user.role,
            disabled: user.disabled,
            signs_in_with,
            single_sign_on: user.oidc_identity.is_some(),
            last_sign_in_at: user.last_sign_in_at.map(display_time),
            created_at: display_time(user.created_at),
        }
    }

    async fn caller_user(&self, caller: &Caller) -> Result<User, ServiceError> {
        let username = caller.username.as_deref().ok_or("sign in first")?;
        self.store
            .user_by_username(username)
            .await
            .map_err(|error| message(error.into()))
    }

    async fn actor(&self, caller: &Caller) -> Result<Actor, ServiceError> {
        let user = self.caller_user(caller).await?;
        Ok(Actor {
            id: Some(user.id),
            name: user.username,
            address: caller.address.clone(),
        })
    }
}

/// When something happened, as the pages show it.
fn display_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn message(error: AccountError) -> ServiceError {
    match error {
        AccountError::Store(StoreError::Database(error)) => {
            tracing::error!(%error, "accounts: database error");
            ServiceError::Unavailable(
                "the portal's database is not available; try again shortly".to_string(),
            )
        }
        AccountError::Store(StoreError::Conflict(message)) => ServiceError::Conflict(message),
        AccountError::LastAdmin(_) => ServiceError::Conflict(error.to_string()),
        other => ServiceError::Invalid(other.to_string()),
    }
}

/// A time filter: a date (`2026-11-22`), a local date-time input
/// (`2026-11-22T09:30`), or RFC 3339; all in UTC.
pub fn parse_time(field: &str, text: &str) -> Result<Option<DateTime<Utc>>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(at.with_timezone(&Utc)));
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(Some(at.and_utc()));
        }
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_hms_opt(0, 0, 0).map(|at| at.and_utc()));
    }
    Err(format!(
        "{field}: {text:?} is not a time; use 2026-11-22, 2026-11-22T09:30 or RFC 3339"
    ))
}

/// The store's query for the audit page's filters.
pub fn audit_query(
    filter: &AuditFilter,
    before: Option<i64>,
    limit: u32,
) -> Result<AuditQuery, String> {
    let text = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_string)
    };
    Ok(AuditQuery {
        actor: text(&filter.actor),
        action: text(&filter.action),
        target_prefix: text(&filter.target),
        target: None,
        since: parse_time("from", filter.since.as_deref().unwrap_or_default())?,
        until: parse_time("until", filter.until.as_deref().unwrap_or_default())?,
        before_id: before,
        limit,
    })
}

pub fn audit_entry(event: crate::store::AuditEvent) -> AuditEntry {
    AuditEntry {
        id: event.id,
        at: display_time(event.at),
        target_name: target_name(&event.target, &event.details),
        fields: app::accounts::detail_fields(&event.details),
        actor: event.actor_name,
        address: event.client_address,
        action: event.action,
        target: event.target,
        outcome: event.outcome.as_str().to_string(),
        details: event.details.to_string(),
    }
}

/// A target named by an id (`database:0192…`) is shown by the name its
/// event recorded; targets that are names already (`user:kim`) need none.
pub fn target_name(target: &str, details: &serde_json::Value) -> Option<String> {
    let (_, id) = target.split_once(':')?;
    uuid::Uuid::parse_str(id).ok()?;
    ["name", "app"]
        .iter()
        .find_map(|key| details.get(key).and_then(serde_json::Value::as_str))
        .map(str::to_string)
}

#[async_trait::async_trait]
impl app::accounts::Accounts for AccountService {
    async fn account(&self, caller: &Caller) -> Result<AccountView, ServiceError> {
        let user = self.caller_user(caller).await?;
        Ok(AccountView {
            user: self.summary(&user),
        })
    }

    async fn change_password(
        &self,
        caller: &Caller,
        current_password: String,
        new_password: String,
    ) -> Result<(), ServiceError> {
        let user = self.caller_user(caller).await?;
        let Some(hash) = user.password_hash.as_deref() else {
            return Err("you sign in with single sign-on: change your password there".into());
        };
        let actor = self.actor(caller).await?;
        let target = format!("user:{}", user.username);
        let address = caller.address.clone().unwrap_or_default();
        let attempt = self
            .password_changes()
            .begin(&user.username, &address, std::time::Instant::now())
            .map_err(|retry| {
                ServiceError::TooManyAttempts(format!(
                    "too many wrong current passwords: try again in {}",
                    super::throttle::in_words(retry.0)
                ))
            })?;
        let verified =
            password::verify_off_the_runtime(current_password.clone(), hash.to_string()).await;
        if !verified {
            self.password_changes()
                .failed(&attempt, std::time::Instant::now());
            audit(
                self.store.as_ref(),
                &actor,
                "user.change_password",
                &target,
                Outcome::Failure,
                json!({"reason": "wrong current password"}),
            )
            .await;
            return Err("the current password is wrong".into());
        }
        self.password_changes().succeeded(attempt);
        if new_password == current_password {
            return Err("the new password is the current one; choose another".into());
        }
        let new_hash = password::hash_off_the_runtime(new_password)
            .await
            .map_err(|error| error.to_string())?;
        // Other sessions may be someone who knew the old password: they
        // end with the change, and the log says how many.
        let event = crate::audit::event(
            &actor,
            "user.change_password",
            &target,
            Outcome::Success,
            json!({}),
        );
        self.store
            .replace_password(
                user.id,
                &new_hash,
                false,
                caller.session_hash.as_deref(),
                Some(&event),
            )
            .await
            .map_err(|error| message(error.into()))?;
        Ok(())
    }

    async fn list_users(&self, search: String, page: u32) -> Result<UserList, ServiceError> {
        let page = page.max(1);
        let search = search.trim();
        let found = self
            .store
            .list_users(&UserQuery {
                search: (!search.is_empty()).then(|| search.to_string()),
                limit: USERS_PAGE_SIZE,
                offset: (page - 1).saturating_mul(USERS_PAGE_SIZE),
            })
            .await
            .map_err(|error| message(error.into()))?;
        Ok(UserList {
            items: found.items.iter().map(|user| self.summary(user)).collect(),
            total: found.total,
            page,
            page_size: USERS_PAGE_SIZE,
        })
    }

    async fn create_user(
        &self,
        caller: &Caller,
        username: String,
        display_name: String,
        email: String,
        role: Role,
    ) -> Result<String, ServiceError> {
        let username = username.trim().to_string();
        app::accounts::check_username(&username)?;
        let actor = self.actor(caller).await?;
        let optional = |text: String| Some(text.trim().to_string()).filter(|text| !text.is_empty());
        let (_, generated) = accounts::create_local_user(
            self.store.as_ref(),
            &actor,
            NewLocalUser {
                username,
                display_name: optional(display_name),
                email: optional(email),
                role,
                password: None,
            },
        )
        .await
        .map_err(message)?;
        generated.ok_or_else(|| "no password was generated".into())
    }

    async fn update_user(
        &self,
        caller: &Caller,
        username: String,
        role: Role,
        disabled: bool,
    ) -> Result<(), ServiceError> {
        let actor = self.actor(caller).await?;
        accounts::set_access(self.store.as_ref(), &actor, &username, role, disabled)
            .await
            .map(|_| ())
            .map_err(message)
    }

    async fn end_sessions(&self, caller: &Caller, username: String) -> Result<u64, ServiceError> {
        let actor = self.actor(caller).await?;
        accounts::end_sessions(self.store.as_ref(), &actor, &username)
            .await
            .map_err(message)
    }

    async fn delete_user(&self, caller: &Caller, username: String) -> Result<(), ServiceError> {
        let actor = self.actor(caller).await?;
        if username.eq_ignore_ascii_case(&actor.name) {
            return Err("you cannot delete your own account; another admin can".into());
        }
        accounts::delete_user(self.store.as_ref(), &actor, &username)
            .await
            .map_err(message)
    }

    async fn list_audit(
        &self,
        filter: AuditFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<AuditList, ServiceError> {
        let query = audit_query(&filter, before, limit)?;
        let page = self
            .store
            .list_audit(&query)
            .await
            .map_err(|error| message(error.into()))?;
        Ok(AuditList {
            items: page.items.into_iter().map(audit_entry).collect(),
            next_before: page.next_before_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_named_by_an_id_show_the_name_their_event_recorded() {
        let details = serde_json::json!({"name": "orders"});
        assert_eq!(
            target_name("database:0192f000-0000-7000-8000-000000000000", &details).as_deref(),
            Some("orders")
        );
        // A target that is a name already, or an event without a name: none.
        assert_eq!(target_name("user:kim", &details), None);
        assert_eq!(
            target_name(
                "database:0192f000-0000-7000-8000-000000000000",
                &serde_json::json!({})
            ),
            None
        );
    }

    #[test]
    fn time_filters_take_dates_inputs_and_rfc3339() {
        let day = parse_time("from", "2026-11-22").unwrap().unwrap();
        assert_eq!(day.to_rfc3339(), "2026-11-22T00:00:00+00:00");
        let local = parse_time("from", "2026-11-22T09:30").unwrap().unwrap();
        assert_eq!(local.to_rfc3339(), "2026-11-22T09:30:00+00:00");
        let zoned = parse_time("from", "2026-11-22T10:30:00+01:00")
            .unwrap()
            .unwrap();
        assert_eq!(zoned.to_rfc3339(), "2026-11-22T09:30:00+00:00");
        assert_eq!(parse_time("from", "  ").unwrap(), None);
        let error = parse_time("until", "yesterday").unwrap_err();
        assert!(
            error.starts_with("until:") && error.contains("2026-11-22"),
            "{error}"
        );
    }
}
