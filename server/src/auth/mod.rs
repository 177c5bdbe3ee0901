//! Who may do what: local accounts and their passwords, single sign-on with
//! OpenID Connect providers, sessions and their cookie, sign-in throttling,
//! and the one guard every request passes (`guard::require_sign_in`).

pub mod accounts;
pub mod guard;
pub mod housekeeping;
pub mod password;
pub mod service;
pub mod session;
pub mod sign_in;
pub mod sso;
pub mod throttle;
