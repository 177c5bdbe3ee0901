//! Deployments as developers see them: every attempt to put a release into
//! an environment, its steps and tests, approvals, rollbacks and holds.

mod model;

pub use model::*;
