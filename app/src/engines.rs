//! How the portal's engines are doing, for the admin's home: whether this
//! replica leads each one, what waits in its queue, and its last failure.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One engine (in one region) as this replica sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineHealth {
    /// The engine and, where it has one, its region: `provisioning/local`.
    pub name: String,
    /// Whether this replica acts for it now (another replica may lead).
    pub leading: bool,
    /// Items waiting for their turn, being reconciled, and backing off
    /// after failures.
    pub queued: u64,
    pub running: u64,
    pub failing: u64,
    /// Reconciles and failed reconciles since this replica started.
    pub reconciles: u64,
    pub failures: u64,
    /// RFC 3339, UTC.
    pub last_reconcile_at: Option<String>,
    pub last_failure: Option<EngineFailure>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineFailure {
    /// The item it failed on, as the engine names it.
    pub item: String,
    pub message: String,
    /// RFC 3339, UTC.
    pub at: String,
}

impl EngineHealth {
    /// What an admin should read first: "stand-by", "failing", "working" or
    /// "idle".
    pub fn state(&self) -> &'static str {
        if !self.leading {
            "stand-by"
        } else if self.failing > 0 {
            "failing"
        } else if self.running > 0 || self.queued > 0 {
            "working"
        } else {
            "idle"
        }
    }
}

/// The engines this server runs; the server provides it as context.
#[cfg(feature = "ssr")]
pub trait EngineBoard: Send + Sync {
    fn engines(&self) -> Vec<EngineHealth>;
}

#[server(endpoint = "engine_health")]
pub async fn fetch_engine_health() -> Result<Vec<EngineHealth>, ServerFnError> {
    crate::caller::authorize("engine_health")?;
    // A server without engines (a test bed) has none to show.
    Ok(use_context::<std::sync::Arc<dyn EngineBoard>>()
        .map(|board| board.engines())
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(leading: bool, queued: u64, running: u64, failing: u64) -> EngineHealth {
        EngineHealth {
            name: "deploy".to_string(),
            leading,
            queued,
            running,
            failing,
            reconciles: 0,
            failures: 0,
            last_reconcile_at: None,
            last_failure: None,
        }
    }

    #[test]
    fn the_state_puts_stand_by_then_failures_first() {
        assert_eq!(engine(false, 3, 1, 1).state(), "stand-by");
        assert_eq!(engine(true, 3, 1, 1).state(), "failing");
        assert_eq!(engine(true, 3, 0, 0).state(), "working");
        assert_eq!(engine(true, 0, 1, 0).state(), "working");
        assert_eq!(engine(true, 0, 0, 0).state(), "idle");
    }
}
