//! Sessions and single-sign-on flows past their end are deleted every few
//! minutes. An ended session is refused anyway; this keeps the tables from
//! growing for ever. Every replica may run it: the deletes are idempotent.

use std::sync::Arc;
use std::time::Duration;

use super::session::Lifetimes;
use super::sso::FLOW_LIFETIME;
use crate::store::{Store, StoreResult};

pub const EVERY: Duration = Duration::from_secs(10 * 60);

/// Deletes what ended before `now`; returns (sessions, flows) deleted.
pub async fn forget_ended(
    store: &dyn Store,
    lifetimes: Lifetimes,
    now: chrono::DateTime<chrono::Utc>,
) -> StoreResult<(u64, u64)> {
    let before = |span: Duration| now - chrono::Duration::from_std(span).unwrap_or_default();
    let sessions = store
        .delete_ended_sessions(now, before(lifetimes.idle), before(lifetimes.absolute))
        .await?;
    let flows = store
        .delete_sign_in_flows_before(before(FLOW_LIFETIME))
        .await?;
    Ok((sessions, flows))
}

/// Runs [`forget_ended`] every [`EVERY`] until the process stops.
pub async fn run(store: Arc<dyn Store>, lifetimes: Lifetimes) {
    let mut interval = tokio::time::interval(EVERY);
    loop {
        interval.tick().await;
        match forget_ended(store.as_ref(), lifetimes, chrono::Utc::now()).await {
            Ok((0, 0)) => {}
            Ok((sessions, flows)) => {
                tracing::info!(sessions, flows, "forgot ended sessions and sign-in flows");
            }
            Err(error) => tracing::warn!(%error, "cannot forget ended sessions"),
        }
    }
}
