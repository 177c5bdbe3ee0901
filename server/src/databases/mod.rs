//! Databases as customers use them: the service behind the pages' server
//! functions, and the live status stream. The provisioning engine
//! (`crate::provisioning`) does the work on Kubernetes.

mod detail;
pub mod events;
pub mod feed;
mod quotas;
pub mod service;

pub use service::DatabaseService;
