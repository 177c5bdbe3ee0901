//! The portal user behind a verified single-sign-on identity: found by
//! (issuer, subject), created on first sign-in, and brought up to date on
//! every sign-in (name, email, and the role the groups give: the provider is
//! the source of truth for its users, as in Argo CD, where groups are read
//! at sign-in).

use serde_json::json;

use super::{Identity, ProviderConfig};
use crate::audit::{Actor, audit};
use crate::store::{NewUser, OidcIdentity, Outcome, Store, StoreError, User};

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("your groups give you no role in the portal; ask an admin for access")]
    NoRole,
    #[error("your account is disabled")]
    Disabled,
    /// The groups no longer make the last active admin an admin: signing
    /// in with the old role would ignore the provider, and demoting them
    /// would leave nobody to manage the portal (`portal admin` can).
    #[error(
        "your groups no longer make you an admin, but you are the portal's last active admin: an admin must be named before you can sign in with your new role"
    )]
    LastAdmin,
    #[error("{0}")]
    Store(#[from] StoreError),
}

pub async fn user_for(
    store: &dyn Store,
    identity: &Identity,
    provider: &ProviderConfig,
    address: &str,
) -> Result<User, Refusal> {
    let key = OidcIdentity {
        issuer: identity.issuer.clone(),
        subject: identity.subject.clone(),
    };
    let actor = Actor {
        id: None,
        name: identity.username_hint.clone(),
        address: Some(address.to_string()),
    };
    let target = format!("sso:{}:{}", identity.provider, identity.subject);
    let Some(role) = provider.role_for(&identity.groups) else {
        audit(
            store,
            &actor,
            "session.sign_in_sso",
            &target,
            Outcome::Denied,
            json!({"reason": "no role for these groups", "groups": identity.groups}),
        )
        .await;
        return Err(Refusal::NoRole);
    };
    let display_name = identity
        .display_name
        .clone()
        .unwrap_or_else(|| identity.username_hint.clone());
    match store.user_by_oidc_identity(&key).await {
        Ok(user) if user.disabled => Err(Refusal::Disabled),
        Ok(user) => {
            let changed = user.role != role
                || user.display_name != display_name
                || user.email != identity.email;
            if !changed {
                return Ok(user);
            }
            let access_event = (user.role != role).then(|| {
                crate::audit::event(
                    &actor,
                    "user.update_access",
                    &format!("user:{}", user.username),
                    Outcome::Success,
                    json!({
                        "before": {"role": user.role.as_str()},
                        "after": {"role": role.as_str()},
                        "reason": format!("groups from {}", identity.provider),
                    }),
                )
            });
            let updated = store
                .update_user_profile(
                    user.id,
                    &display_name,
                    identity.email.as_deref(),
                    role,
                    access_event.as_ref(),
                )
                .await;
            match updated {
                Ok(updated) => Ok(updated),
                Err(StoreError::LastAdmin(_)) => {
                    audit(
                        store,
                        &actor,
                        "user.update_access",
                        &format!("user:{}", user.username),
                        Outcome::Denied,
                        json!({"reason": "last active admin", "after": {"role": role.as_str()}}),
                    )
                    .await;
                    Err(Refusal::LastAdmin)
                }
                Err(error) => Err(error.into()),
            }
        }
        Err(StoreError::NotFound) => {
            Ok(create(store, identity, key, &display_name, role, &actor).await?)
        }
        Err(error) => Err(error.into()),
    }
}

/// Creates the user under the first free name: the hint, then the hint
/// with the provider's id, then with a number; audited with the creation.
async fn create(
    store: &dyn Store,
    identity: &Identity,
    key: OidcIdentity,
    display_name: &str,
    role: app::roles::Role,
    actor: &Actor,
) -> Result<User, StoreError> {
    let base = identity.username_hint.trim().to_string();
    let candidates = std::iter::once(base.clone())
        .chain(std::iter::once(format!("{base}@{}", identity.provider)))
        .chain((2..20).map(|n| format!("{base}@{}-{n}", identity.provider)));
    let mut last = StoreError::Conflict(format!("no free username for {base:?}"));
    for username in candidates {
        let event = crate::audit::event(
            actor,
            "user.create",
            &format!("user:{username}"),
            Outcome::Success,
            json!({"after": {"role": role.as_str(), "signs_in_with": identity.provider}}),
        );
        let created = store
            .create_user(NewUser {
                username,
                display_name: display_name.to_string(),
                email: identity.email.clone(),
                role,
                password_hash: None,
                oidc_identity: Some(key.clone()),
                audit: Some(event),
            })
            .await;
        match created {
            Err(StoreError::Conflict(message)) => last = StoreError::Conflict(message),
            other => return other,
        }
    }
    Err(last)
}
