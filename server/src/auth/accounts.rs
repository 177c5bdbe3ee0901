//! Local accounts: the first admin, and what `portal admin` does. Every
//! change is audited; a password appears once, to whoever created it, and
//! never in the audit log.

use app::roles::Role;
use serde_json::json;

use super::password::{self, PasswordError};
use crate::audit::{Actor, audit};
use crate::store::prelude::*;
use crate::store::{NewUser, Outcome, StoreError, User};

/// The username of the admin created on the first start.
pub const FIRST_ADMIN: &str = "admin";

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Password(#[from] PasswordError),
    #[error("there is no user named {0:?}")]
    UnknownUser(String),
    #[error("{0:?} is the last active admin: make another user admin first")]
    LastAdmin(String),
    #[error("{0}")]
    InvalidUsername(String),
    #[error("{0}")]
    Store(#[from] StoreError),
}

pub struct NewLocalUser {
    pub username: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub role: Role,
    /// `None`: a password is generated and returned.
    pub password: Option<String>,
}

/// Creates a local user; returns it and the password when one was generated.
pub async fn create_local_user(
    store: &dyn Store,
    actor: &Actor,
    user: NewLocalUser,
) -> Result<(User, Option<String>), AccountError> {
    app::accounts::check_username(&user.username).map_err(AccountError::InvalidUsername)?;
    let generated = user.password.is_none().then(crate::random::password);
    let chosen = user
        .password
        .as_deref()
        .or(generated.as_deref())
        .unwrap_or_default();
    let password_hash = password::hash_off_the_runtime(chosen.to_string()).await?;
    let temporary = generated.is_some().then(|| password_hash.clone());
    let event = crate::audit::event(
        actor,
        "user.create",
        &format!("user:{}", user.username),
        Outcome::Success,
        json!({"after": {"role": user.role.as_str(), "signs_in_with": "password"}}),
    );
    let mut created = store
        .create_user(NewUser {
            display_name: user.display_name.unwrap_or_else(|| user.username.clone()),
            username: user.username,
            email: user.email,
            role: user.role,
            password_hash: Some(password_hash),
            oidc_identity: None,
            audit: Some(event),
        })
        .await?;
    // A generated password is shown (in the log, on the page): whoever
    // signs in with it must choose their own first. Before it is shown, so
    // a crash in between leaves nobody knowing it.
    if let Some(hash) = temporary {
        store.set_password_hash(created.id, &hash, true).await?;
        created.must_change_password = true;
    }
    Ok((created, generated))
}

/// Sets a new password (generated when `None`) and ends the user's sessions.
pub async fn reset_password(
    store: &dyn Store,
    actor: &Actor,
    username: &str,
    new_password: Option<String>,
) -> Result<Option<String>, AccountError> {
    let user = match store.user_by_username(username).await {
        Ok(user) => user,
        Err(StoreError::NotFound) => return Err(AccountError::UnknownUser(username.to_string())),
        Err(error) => return Err(error.into()),
    };
    let generated = new_password.is_none().then(crate::random::password);
    let chosen = new_password
        .as_deref()
        .or(generated.as_deref())
        .unwrap_or_default();
    let event = crate::audit::event(
        actor,
        "user.reset_password",
        &format!("user:{}", user.username),
        Outcome::Success,
        json!({}),
    );
    store
        .replace_password(
            user.id,
            &password::hash_off_the_runtime(chosen.to_string()).await?,
            generated.is_some(),
            None,
            Some(&event),
        )
        .await?;
    Ok(generated)
}

/// Changes a user's role and whether they may sign in. Either change ends
/// their open sessions (a session carries the access it was opened with);
/// the last active admin can be neither demoted nor disabled.
pub async fn set_access(
    store: &dyn Store,
    actor: &Actor,
    username: &str,
    role: Role,
    disabled: bool,
) -> Result<User, AccountError> {
    let user = match store.user_by_username(username).await {
        Ok(user) => user,
        Err(StoreError::NotFound) => return Err(AccountError::UnknownUser(username.to_string())),
        Err(error) => return Err(error.into()),
    };
    if user.role == role && user.disabled == disabled {
        return Ok(user);
    }
    let target = format!("user:{}", user.username);
    let event = crate::audit::event(
        actor,
        "user.update_access",
        &target,
        Outcome::Success,
        json!({
            "before": {"role": user.role.as_str(), "disabled": user.disabled},
            "after": {"role": role.as_str(), "disabled": disabled},
        }),
    );
    match store
        .update_user_access(user.id, role, disabled, Some(&event))
        .await
    {
        Ok(change) => Ok(change.user),
        Err(StoreError::LastAdmin(username)) => {
            Err(refused_last_admin(store, actor, "user.update_access", &target, username).await)
        }
        Err(error) => Err(error.into()),
    }
}

/// Ends every session of a user (ASVS 7.4.5: admins can end sessions).
pub async fn end_sessions(
    store: &dyn Store,
    actor: &Actor,
    username: &str,
) -> Result<u64, AccountError> {
    let user = find(store, username).await?;
    let event = crate::audit::event(
        actor,
        "user.end_sessions",
        &format!("user:{}", user.username),
        Outcome::Success,
        json!({}),
    );
    Ok(store.delete_sessions_of_user(user.id, Some(&event)).await?)
}

/// Deletes a user and their sessions; never the last active admin. Their
/// audit events stay, under their name.
pub async fn delete_user(
    store: &dyn Store,
    actor: &Actor,
    username: &str,
) -> Result<(), AccountError> {
    let user = find(store, username).await?;
    let target = format!("user:{}", user.username);
    let event = crate::audit::event(
        actor,
        "user.delete",
        &target,
        Outcome::Success,
        json!({"before": {"role": user.role.as_str(), "disabled": user.disabled}}),
    );
    match store.delete_user(user.id, Some(&event)).await {
        Ok(()) => Ok(()),
        Err(StoreError::LastAdmin(username)) => {
            Err(refused_last_admin(store, actor, "user.delete", &target, username).await)
        }
        Err(error) => {
            audit_failure(store, actor, &target, &error).await;
            Err(error.into())
        }
    }
}

/// The store refused to leave the portal without an active admin (checked
/// under its lock, so two admins demoting each other cannot both pass):
/// the refusal is audited and said.
async fn refused_last_admin(
    store: &dyn Store,
    actor: &Actor,
    action: &str,
    target: &str,
    username: String,
) -> AccountError {
    audit(
        store,
        actor,
        action,
        target,
        Outcome::Denied,
        json!({"reason": "last active admin"}),
    )
    .await;
    AccountError::LastAdmin(username)
}

async fn audit_failure(store: &dyn Store, actor: &Actor, target: &str, error: &StoreError) {
    audit(
        store,
        actor,
        "user.delete",
        target,
        Outcome::Failure,
        json!({"reason": error.to_string()}),
    )
    .await;
}

async fn find(store: &dyn Store, username: &str) -> Result<User, AccountError> {
    match store.user_by_username(username).await {
        Ok(user) => Ok(user),
        Err(StoreError::NotFound) => Err(AccountError::UnknownUser(username.to_string())),
        Err(error) => Err(error.into()),
    }
}

/// On a store with no user at all, creates `admin` with a random password
/// and returns it, to be shown once.
pub async fn ensure_first_admin(store: &dyn Store) -> Result<Option<String>, AccountError> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let (_, password) = create_local_user(
        store,
        &Actor::system(),
        NewLocalUser {
            username: FIRST_ADMIN.to_string(),
            display_name: Some("Administrator".to_string()),
            email: None,
            role: Role::Admin,
            password: None,
        },
    )
    .await?;
    Ok(password)
}
