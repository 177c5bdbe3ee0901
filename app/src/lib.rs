//! The isomorphic half of the portal: everything that renders on the server and
//! hydrates in the browser, plus the types both sides share.
//!
//! Server-only code lives in the `server` crate; anything here that must not
//! reach the browser sits behind the `ssr` feature.

// Leptos views are deeply nested types; the hydrate build's layout queries
// need more than the default 128 levels.
#![recursion_limit = "256"]

pub mod access;
pub mod accounts;
pub mod apps;
#[cfg(feature = "ssr")]
pub mod caller;
mod components;
pub mod databases;
pub mod deploys;
pub mod dscloud;
pub mod engines;
pub mod kubernetes;
mod meta;
pub mod names;
mod pages;
pub mod roles;
mod routes;
pub mod secrets;
mod shell;
pub mod theme;
pub mod viewer;

pub use shell::{App, shell};
