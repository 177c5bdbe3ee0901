//! The isomorphic half of the portal: everything that renders on the server and
//! hydrates in the browser, plus the types both sides share.
//!
//! Server-only code lives in the `server` crate; anything here that must not
//! reach the browser sits behind the `ssr` feature.

mod components;
mod pages;
pub mod roles;
mod shell;
pub mod theme;

pub use shell::{App, shell};
