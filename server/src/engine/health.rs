//! What each engine's runner reports about itself: leadership, its queue,
//! and its last failure. The admin's home reads it through [`Board`].

use std::sync::Arc;
use std::time::SystemTime;

use app::engines::{EngineFailure, EngineHealth};

/// Counts a runner keeps as it reconciles (under its queue's lock).
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub reconciles: u64,
    pub failures: u64,
    pub last_reconcile: Option<SystemTime>,
    pub last_failure: Option<Failed>,
}

#[derive(Debug)]
pub(super) struct Failed {
    pub item: String,
    pub message: String,
    pub at: SystemTime,
}

impl Tally {
    pub fn succeeded(&mut self) {
        self.reconciles += 1;
        self.last_reconcile = Some(SystemTime::now());
    }

    pub fn failed(&mut self, item: String, message: &str) {
        let now = SystemTime::now();
        self.reconciles += 1;
        self.failures += 1;
        self.last_reconcile = Some(now);
        self.last_failure = Some(Failed {
            item,
            // A failure message is for a glance; the log has all of it.
            message: message.chars().take(500).collect(),
            at: now,
        });
    }
}

/// One engine's report, read at the moment it is asked.
pub trait Probe: Send + Sync {
    fn health(&self) -> EngineHealth;
}

/// Every engine this replica runs.
#[derive(Clone, Default)]
pub struct Board {
    probes: Vec<Arc<dyn Probe>>,
}

impl Board {
    pub fn new(probes: Vec<Arc<dyn Probe>>) -> Board {
        Board { probes }
    }
}

impl app::engines::EngineBoard for Board {
    fn engines(&self) -> Vec<EngineHealth> {
        let mut engines: Vec<EngineHealth> =
            self.probes.iter().map(|probe| probe.health()).collect();
        engines.sort_by(|left, right| left.name.cmp(&right.name));
        engines
    }
}

pub(super) fn rfc3339(at: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(at).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(super) fn failure_view(failed: &Failed) -> EngineFailure {
    EngineFailure {
        item: failed.item.clone(),
        message: failed.message.clone(),
        at: rfc3339(failed.at),
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::super::{Failure, Leadership, Next, Reconciler, Runner, RunnerSettings, Term};

    /// Item 1 always fails; every other item is done at once.
    struct OneFails;

    #[async_trait]
    impl Reconciler for OneFails {
        type Key = u32;

        fn name(&self) -> &'static str {
            "test-engine"
        }

        async fn pending(&self) -> Result<Vec<u32>, Failure> {
            Ok(vec![1, 2, 3])
        }

        async fn reconcile(&self, key: &u32, _: &Term, _: u32) -> Result<Next, Failure> {
            match key {
                1 => Err(Failure::Retry("the API answered 500".to_string())),
                _ => Ok(Next::Done),
            }
        }
    }

    #[tokio::test]
    async fn a_runner_reports_its_reconciles_its_failing_item_and_its_last_failure() {
        let runner = Runner::new(OneFails, RunnerSettings::default());
        let probe = runner.handle().probe();
        let before = probe.health();
        assert_eq!(
            (before.name.as_str(), before.reconciles),
            ("test-engine", 0)
        );
        assert_eq!(before.state(), "idle");

        assert_eq!(runner.pass().await, Ok(3));
        let health = probe.health();
        assert!(health.leading, "without leader election it always acts");
        assert_eq!((health.reconciles, health.failures), (3, 1));
        assert_eq!((health.failing, health.running, health.queued), (1, 0, 0));
        assert_eq!(health.state(), "failing");
        let failure = health.last_failure.expect("the failure is kept");
        assert_eq!(
            (failure.item.as_str(), failure.message.as_str()),
            ("1", "the API answered 500")
        );
        assert!(health.last_reconcile_at.is_some());
    }

    #[tokio::test]
    async fn a_runner_that_does_not_lead_says_so_under_its_leases_name() {
        let runner = Runner::new(OneFails, RunnerSettings::default())
            .with_leadership(Leadership::new("test-engine/east"));
        let health = runner.handle().probe().health();
        assert_eq!(health.name, "test-engine/east");
        assert!(!health.leading);
        assert_eq!(health.state(), "stand-by");
        // A follower reconciles nothing.
        assert_eq!(runner.pass().await, Ok(0));
        assert_eq!(runner.handle().probe().health().reconciles, 0);
    }
}
