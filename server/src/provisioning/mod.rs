//! The provisioning engine: databases on Kubernetes through their operators.
//! `plan` decides (pure, tested without a cluster); the IO around it reads
//! what Kubernetes reports and carries the decisions out.

pub mod credentials;
pub mod engine;
pub mod leader;
pub mod objects;
pub mod plan;
pub mod readiness;
pub mod regions;
pub mod watch;
