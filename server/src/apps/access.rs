//! Who may do what with an app, for every service that acts on one (apps,
//! deploys, secrets): the caller as signed in, developers and admins as
//! readers, an app's maintainers and admins as the ones who change it.

use app::caller::{Caller, ServiceError};
use app::roles::Role;
use uuid::Uuid;

use super::unavailable;
use crate::audit::Actor;
use crate::store::{AppRecord, Store, StoreError};

/// The signed-in caller: id, role, and as the audit names them.
pub fn signed_in(caller: &Caller) -> Result<(Uuid, Role, Actor), ServiceError> {
    let id = caller
        .user_id
        .as_deref()
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(|| ServiceError::Forbidden("sign in first".to_string()))?;
    let role = caller
        .role
        .ok_or_else(|| ServiceError::Forbidden("sign in first".to_string()))?;
    Ok((id, role, Actor::signed_in(id, caller)))
}

/// A signed-in developer or admin; anyone else is refused with `refusal`.
pub fn developer(caller: &Caller, refusal: &str) -> Result<(Uuid, Role, Actor), ServiceError> {
    let (id, role, actor) = signed_in(caller)?;
    if matches!(role, Role::Developer | Role::Admin) {
        Ok((id, role, actor))
    } else {
        Err(ServiceError::Forbidden(refusal.to_string()))
    }
}

/// Whether this user changes the app: an admin, or a developer among its
/// maintainers.
pub async fn may_change(
    store: &dyn Store,
    id: Uuid,
    role: Role,
    app: Uuid,
) -> Result<bool, ServiceError> {
    if role == Role::Admin {
        return Ok(true);
    }
    let maintainers = store
        .app_maintainers(app)
        .await
        .map_err(|error| unavailable(&error))?;
    Ok(role == Role::Developer && maintainers.contains(&id))
}

/// The app of that name; `NotFound` said for people.
pub async fn app_named(store: &dyn Store, name: &str) -> Result<AppRecord, ServiceError> {
    match store.app_by_name(name).await {
        Ok(app) => Ok(app),
        Err(StoreError::NotFound) => Err(ServiceError::NotFound(format!(
            "there is no app named {name:?}"
        ))),
        Err(error) => Err(unavailable(&error)),
    }
}
