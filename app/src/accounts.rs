//! Sign-in options, the signed-in user's account, user management and the
//! audit log: the types both sides share and the server functions' thin
//! shells. Each server function checks its caller against `crate::access`
//! (the same table the server's guard enforces), then calls the
//! [`Accounts`] service the server provides.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::caller::{Caller, ServiceError, authorize, refuse};
use crate::roles::Role;

/// How this portal lets people sign in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInOptions {
    /// Local accounts with a password.
    pub local: bool,
    pub providers: Vec<ProviderButton>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderButton {
    pub id: String,
    pub name: String,
}

/// One user, as the users page lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: Role,
    pub disabled: bool,
    /// "password", or the single-sign-on provider's name.
    pub signs_in_with: String,
    pub single_sign_on: bool,
    /// RFC 3339, UTC.
    pub last_sign_in_at: Option<String>,
    pub created_at: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserList {
    pub items: Vec<UserSummary>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
}

impl UserList {
    pub fn pages(&self) -> u32 {
        page_count(self.total, self.page_size)
    }
}

/// How many pages `total` items fill, at least one (an empty list is one page).
pub fn page_count(total: u64, page_size: u32) -> u32 {
    let pages = total.div_ceil(u64::from(page_size.max(1)));
    u32::try_from(pages).unwrap_or(u32::MAX).max(1)
}

/// The signed-in user's own account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    pub user: UserSummary,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Targets starting with this text.
    pub target: Option<String>,
    /// RFC 3339 or a date (`2026-11-22`), inclusive.
    pub since: Option<String>,
    /// RFC 3339 or a date, exclusive.
    pub until: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub address: Option<String>,
    pub action: String,
    pub target: String,
    pub outcome: String,
    /// The before/after summary, as compact JSON.
    pub details: String,
    /// What the target is called (a database's name), where the event says.
    #[serde(default)]
    pub target_name: Option<String>,
    /// The details as `key: value` lines, nested keys joined with `.`.
    #[serde(default)]
    pub fields: Vec<(String, String)>,
}

/// Every action the portal writes to the audit log, for the audit page's
/// filter (an action typed into the address is offered too).
pub const AUDIT_ACTIONS: &[&str] = &[
    "session.sign_in",
    "session.sign_in_sso",
    "session.sign_out",
    "user.create",
    "user.update_access",
    "user.end_sessions",
    "user.reset_password",
    "user.change_password",
    "user.delete",
    "database.create",
    "database.resize",
    "database.park",
    "database.resume",
    "database.terminate",
    "database.deletion_protection",
    "database.credential.reveal",
    "database.credential.rotate",
    "app.register",
    "app.settings.change",
    "app.credentials.replace",
    "app.webhook",
    "app.webhook_secret.rotate",
    "app.delete",
    "deployment.approve",
    "deployment.reject",
    "deployment.approval_rules",
    "deployment.hold.lift",
    "deployment.redeploy",
    "deployment.rollback",
    "secret.set",
    "secret.import",
    "secret.rollback",
    "secret.delete",
];

/// An event's details as readable lines: `{"role":"customer","before":{"role":"developer"}}`
/// → `role: customer`, `before.role: developer`. Lists are joined with `, `.
pub fn detail_fields(details: &serde_json::Value) -> Vec<(String, String)> {
    fn walk(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
        use serde_json::Value;
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (key, value) in map {
                    let key = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(&key, value, out);
                }
            }
            Value::Array(items) => {
                let items: Vec<String> = items.iter().map(scalar_text).collect();
                out.push((prefix.to_string(), items.join(", ")));
            }
            other => out.push((prefix.to_string(), scalar_text(other))),
        }
    }
    fn scalar_text(value: &serde_json::Value) -> String {
        match value {
            serde_json::Value::String(text) => text.clone(),
            serde_json::Value::Null => "—".to_string(),
            serde_json::Value::Object(map) if map.is_empty() => "—".to_string(),
            other => other.to_string(),
        }
    }
    let mut out = Vec::new();
    match details {
        serde_json::Value::Null => {}
        serde_json::Value::Object(map) if map.is_empty() => {}
        serde_json::Value::Object(_) => walk("", details, &mut out),
        other => out.push(("details".to_string(), scalar_text(other))),
    }
    out
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditList {
    pub items: Vec<AuditEntry>,
    /// The cursor of the next (older) page.
    pub next_before: Option<i64>,
}

/// Users on one page of the users list.
pub const USERS_PAGE_SIZE: u32 = 25;
/// Events on one page of the audit log.
pub const AUDIT_PAGE_SIZE: u32 = 50;

#[cfg(feature = "ssr")]
fn accounts() -> Result<(crate::caller::Caller, std::sync::Arc<dyn Accounts>), ServerFnError> {
    let service = use_context::<std::sync::Arc<dyn Accounts>>()
        .ok_or_else(|| crate::caller::missing_service("accounts are"))?;
    Ok((crate::caller::Caller::current(), service))
}

#[server(endpoint = "sign_in_options")]
pub async fn fetch_sign_in_options() -> Result<SignInOptions, ServerFnError> {
    authorize("sign_in_options")?;
    use_context::<SignInOptions>().ok_or_else(|| crate::caller::missing_service("sign-in is"))
}

#[server(endpoint = "my_account")]
pub async fn my_account() -> Result<AccountView, ServerFnError> {
    authorize("my_account")?;
    let (caller, service) = accounts()?;
    service.account(&caller).await.map_err(refuse)
}

#[server(endpoint = "change_my_password")]
pub async fn change_my_password(
    current_password: String,
    new_password: String,
    repeat_password: String,
) -> Result<(), ServerFnError> {
    authorize("change_my_password")?;
    if new_password != repeat_password {
        return Err(refuse(
            "the new password and its repetition differ: type the same new password twice".into(),
        ));
    }
    let (caller, service) = accounts()?;
    service
        .change_password(&caller, current_password, new_password)
        .await
        .map_err(refuse)
}

#[server(endpoint = "list_users")]
pub async fn list_users(search: String, page: u32) -> Result<UserList, ServerFnError> {
    authorize("list_users")?;
    crate::caller::check_search([("search", search.as_str())]).map_err(refuse)?;
    let (_, service) = accounts()?;
    service.list_users(search, page).await.map_err(refuse)
}

/// Creates a local user; returns the generated password, shown once.
#[server(endpoint = "create_user")]
pub async fn create_user(
    username: String,
    display_name: String,
    email: String,
    role: Role,
) -> Result<String, ServerFnError> {
    authorize("create_user")?;
    let (caller, service) = accounts()?;
    service
        .create_user(&caller, username, display_name, email, role)
        .await
        .map_err(refuse)
}

/// Changes a user's role or whether they may sign in; ends their sessions.
#[server(endpoint = "update_user")]
pub async fn update_user(
    username: String,
    role: Role,
    disabled: bool,
) -> Result<(), ServerFnError> {
    authorize("update_user")?;
    let (caller, service) = accounts()?;
    service
        .update_user(&caller, username, role, disabled)
        .await
        .map_err(refuse)
}

/// Ends every session of a user; returns how many there were.
#[server(endpoint = "end_user_sessions")]
pub async fn end_user_sessions(username: String) -> Result<u64, ServerFnError> {
    authorize("end_user_sessions")?;
    let (caller, service) = accounts()?;
    service
        .end_sessions(&caller, username)
        .await
        .map_err(refuse)
}

#[server(endpoint = "delete_user")]
pub async fn delete_user(username: String) -> Result<(), ServerFnError> {
    authorize("delete_user")?;
    let (caller, service) = accounts()?;
    service.delete_user(&caller, username).await.map_err(refuse)
}

#[server(endpoint = "list_audit")]
pub async fn list_audit(
    // No filter at all arrives as no field (the URL encoding drops empty options).
    #[server(default)] filter: AuditFilter,
    before: Option<i64>,
) -> Result<AuditList, ServerFnError> {
    authorize("list_audit")?;
    crate::caller::check_search([
        ("actor", filter.actor.as_deref().unwrap_or_default()),
        ("target", filter.target.as_deref().unwrap_or_default()),
    ])
    .map_err(refuse)?;
    let (_, service) = accounts()?;
    service
        .list_audit(filter, before, AUDIT_PAGE_SIZE)
        .await
        .map_err(refuse)
}

/// The message of a server error without the framework's prefix.
pub fn server_message(error: &ServerFnError) -> String {
    match error {
        ServerFnError::ServerError(message) => message.clone(),
        other => other.to_string(),
    }
}

/// The rule for local usernames: 1 to 64 letters, digits, `.`, `_`, `-`
/// or `@`, starting with a letter or digit.
/// A wait of `seconds` as people say it: "12 seconds", "4 minutes".
pub fn wait_in_words(seconds: u64) -> String {
    match seconds.max(1) {
        1 => "1 second".to_string(),
        seconds @ 2..=90 => format!("{seconds} seconds"),
        seconds => format!("{} minutes", seconds.div_ceil(60)),
    }
}

pub fn check_username(username: &str) -> Result<(), String> {
    let mut characters = username.chars();
    let starts_well = characters
        .next()
        .is_some_and(|first| first.is_ascii_alphanumeric());
    let rest_ok = username
        .chars()
        .all(|character| character.is_ascii_alphanumeric() || ".-_@".contains(character));
    if !starts_well || !rest_ok || username.len() > 64 {
        return Err(format!(
            "{username:?} is not a valid username: use 1 to 64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit"
        ));
    }
    Ok(())
}

#[cfg(feature = "ssr")]
/// Accounts, users and the audit log.
#[async_trait::async_trait]
pub trait Accounts: Send + Sync + 'static {
    async fn account(&self, caller: &Caller) -> Result<AccountView, ServiceError>;
    async fn change_password(
        &self,
        caller: &Caller,
        current_password: String,
        new_password: String,
    ) -> Result<(), ServiceError>;
    async fn list_users(&self, search: String, page: u32) -> Result<UserList, ServiceError>;
    /// Returns the generated password.
    async fn create_user(
        &self,
        caller: &Caller,
        username: String,
        display_name: String,
        email: String,
        role: crate::roles::Role,
    ) -> Result<String, ServiceError>;
    async fn update_user(
        &self,
        caller: &Caller,
        username: String,
        role: crate::roles::Role,
        disabled: bool,
    ) -> Result<(), ServiceError>;
    async fn end_sessions(&self, caller: &Caller, username: String) -> Result<u64, ServiceError>;
    async fn delete_user(&self, caller: &Caller, username: String) -> Result<(), ServiceError>;
    async fn list_audit(
        &self,
        filter: AuditFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<AuditList, ServiceError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_details_read_as_key_value_lines() {
        let details = serde_json::json!({
            "role": "customer",
            "sessions_ended": 1,
            "before": {"role": "developer", "disabled": false},
            "groups": ["a", "b"],
            "note": null,
        });
        assert_eq!(
            detail_fields(&details),
            [
                ("before.disabled", "false"),
                ("before.role", "developer"),
                ("groups", "a, b"),
                ("note", "—"),
                ("role", "customer"),
                ("sessions_ended", "1"),
            ]
            .map(|(key, value)| (key.to_string(), value.to_string()))
        );
        assert!(detail_fields(&serde_json::json!({})).is_empty());
    }

    #[test]
    fn usernames_follow_one_rule() {
        for good in ["admin", "e2e-dev", "jane.doe@corp", "a"] {
            assert!(check_username(good).is_ok(), "{good}");
        }
        for bad in ["", "-dash", "with space", "ümlaut", &"x".repeat(65)] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_list_has_at_least_one_page() {
        let list = |total| UserList {
            items: vec![],
            total,
            page: 1,
            page_size: 25,
        };
        assert_eq!(list(0).pages(), 1);
        assert_eq!(list(25).pages(), 1);
        assert_eq!(list(26).pages(), 2);
    }
}
