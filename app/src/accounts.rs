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
        .ok_or_else(|| ServerFnError::new("accounts are not available on this server"))?;
    Ok((crate::caller::Caller::current(), service))
}

#[server(endpoint = "sign_in_options")]
pub async fn fetch_sign_in_options() -> Result<SignInOptions, ServerFnError> {
    authorize("sign_in_options")?;
    use_context::<SignInOptions>()
        .ok_or_else(|| ServerFnError::new("sign-in is not configured on this server"))
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
