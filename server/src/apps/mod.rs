//! Applications from git: registering a repository (checked at once), the
//! poller that turns each new head of the tracked branch into a release,
//! and the push webhooks that wake it.

pub mod poller;
pub mod release;
pub mod service;
pub mod webhooks;

use crate::crypto::Scope;

/// Where an app's sealed values belong (`crate::crypto`).
pub fn credentials_scope(app: uuid::Uuid) -> Scope<'static> {
    Scope {
        app,
        purpose: "repository-credentials",
        name: "credentials",
        version: 1,
    }
}

pub fn webhook_scope(app: uuid::Uuid, version: i64) -> Scope<'static> {
    Scope {
        app,
        purpose: "webhook-secret",
        name: "secret",
        version,
    }
}

/// The longest app name: it names the namespaces `<app>-<environment>`,
/// which must stay DNS labels of at most 63 characters.
pub const MAX_APP_NAME: usize = 40;
