//! Who may do what. Built so far: local accounts and their passwords, the
//! session token and cookie rules, and sign-in throttling. Still to come
//! (issue 4): the sign-in routes that put these together, single sign-on and
//! the shared role guard.

pub mod accounts;
pub mod password;
pub mod session;
pub mod sign_in;
pub mod throttle;
