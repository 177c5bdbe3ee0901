//! The server half of DSCloud Portal: configuration, HTTP, the store and, as
//! the features land, sign-in, the engines and the Kubernetes client.

pub mod admin_cli;
pub mod apps;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod cluster;
pub mod crypto;
pub mod databases;
pub mod deploy;
pub mod engine;
pub mod git;
pub mod http;
pub mod manifests;
pub mod metrics;
pub mod provisioning;
pub mod random;
pub mod registry;
pub mod secrets;
pub mod serve;
pub mod stopping;
pub mod store;
pub mod supervise;
pub mod telemetry;
pub mod web;
