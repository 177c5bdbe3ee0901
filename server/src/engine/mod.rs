//! The runner every engine shares. An engine is a [`Reconciler`]: it lists
//! the items whose desired state (in the store) is not reached yet, and
//! brings one item one step closer, deciding with a pure planner and
//! acting through `crate::cluster`. The [`Runner`] does the rest, the same
//! for every engine: wake-ups (watch events, desired-state changes, a slow
//! resync), bounded concurrency with one reconcile per item at a time,
//! per-item backoff, a deadline per reconcile, and leadership with fencing
//! (`leader`), so that with several replicas one acts and a deposed one's
//! writes are refused.

pub mod health;
pub mod leader;
mod runner;
pub mod watch;

pub use leader::{LeaderElector, Leadership, LeaseTimings};
pub use runner::{Failure, Handle, Next, Reconciler, Runner, RunnerSettings, Term};
