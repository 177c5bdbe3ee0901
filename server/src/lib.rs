//! The server half of DSCloud Portal: configuration, HTTP, the store and, as
//! the features land, sign-in, the engines and the Kubernetes client.

pub mod admin_cli;
pub mod auth;
pub mod cli;
pub mod databases;
pub mod http;
pub mod manifests;
pub mod provisioning;
pub mod serve;
pub mod store;
pub mod telemetry;
