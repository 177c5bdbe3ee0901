//! The audit writer every service shares: who did what to which target,
//! with what outcome. Details summarise a change; they never hold a secret.

use crate::store::{AuditStore, NewAuditEvent, Outcome};

/// Who made a change, for the audit log.
#[derive(Clone, Debug)]
pub struct Actor {
    pub id: Option<uuid::Uuid>,
    pub name: String,
    pub address: Option<String>,
}

impl Actor {
    /// Changes made from the command line on the portal's host.
    pub fn command_line() -> Self {
        Actor {
            id: None,
            name: "portal-cli".to_string(),
            address: None,
        }
    }

    /// A signed-in person: their id (already parsed by the caller's
    /// service), name and address.
    pub fn signed_in(id: uuid::Uuid, caller: &app::caller::Caller) -> Self {
        Actor {
            id: Some(id),
            name: caller.username.clone().unwrap_or_default(),
            address: caller.address.clone(),
        }
    }

    pub(crate) fn system() -> Self {
        Actor {
            id: None,
            name: "portal".to_string(),
            address: None,
        }
    }
}

/// An event for the store to write in the same transaction as the change
/// it records (a crash cannot keep one without the other).
pub fn event(
    actor: &Actor,
    action: &str,
    target: &str,
    outcome: Outcome,
    details: serde_json::Value,
) -> NewAuditEvent {
    NewAuditEvent {
        actor_id: actor.id,
        actor_name: actor.name.clone(),
        client_address: actor.address.clone(),
        action: action.to_string(),
        target: target.to_string(),
        outcome,
        details,
    }
}

/// Appends one event that must be there before the caller goes on: a
/// password is shown only once the log says who saw it.
pub async fn audit_or_refuse(
    store: &dyn AuditStore,
    actor: &Actor,
    action: &str,
    target: &str,
    outcome: Outcome,
    details: serde_json::Value,
) -> Result<(), crate::store::StoreError> {
    append_or_refuse(store, event(actor, action, target, outcome, details)).await
}

/// Appends an event built with [`event`]; a failure is logged and returned.
pub async fn append_or_refuse(
    store: &dyn AuditStore,
    event: NewAuditEvent,
) -> Result<(), crate::store::StoreError> {
    let (action, target) = (event.action.clone(), event.target.clone());
    store
        .append_audit(event)
        .await
        .map(|_| ())
        .inspect_err(|error| {
            tracing::error!(%error, %action, %target, "cannot append to the audit log");
        })
}

/// Appends one event; a failing audit log is logged, never fatal to the change.
pub async fn audit(
    store: &dyn AuditStore,
    actor: &Actor,
    action: &str,
    target: &str,
    outcome: Outcome,
    details: serde_json::Value,
) {
    // Logged by `audit_or_refuse`; the change stands either way.
    let _ = audit_or_refuse(store, actor, action, target, outcome, details).await;
}
