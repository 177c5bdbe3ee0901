//! Who may do what: local accounts and their passwords, and (as issue 4
//! lands) sessions, single sign-on and the shared role guard.

pub mod accounts;
pub mod password;
