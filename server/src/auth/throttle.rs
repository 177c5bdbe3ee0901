//! Failed sign-ins are throttled per account and per client address, as
//! Argo CD does (5 failures in 5 minutes): an attacker can neither guess one
//! account's password quickly nor spray many accounts from one address.
//! Pure: the caller passes the time, so the rules are tested without waiting.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Failures allowed within the window before sign-ins are refused.
pub const MAX_FAILURES: usize = 5;
pub const WINDOW: Duration = Duration::from_secs(300);
/// Per address the budget is larger: an office shares one address.
pub const MAX_FAILURES_PER_ADDRESS: usize = 20;

#[derive(Default)]
pub struct Throttle {
    accounts: HashMap<String, Vec<Instant>>,
    addresses: HashMap<String, Vec<Instant>>,
}

/// Refused: try again after this long.
#[derive(Debug, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl Throttle {
    /// Whether a sign-in for `account` from `address` may be tried now.
    pub fn check(&mut self, account: &str, address: &str, now: Instant) -> Result<(), RetryAfter> {
        // Only names and addresses that already failed are kept: checking
        // does not grow the maps.
        let by_account = self
            .accounts
            .get_mut(&account.to_lowercase())
            .and_then(|failures| wait(failures, MAX_FAILURES, now));
        let by_address = self
            .addresses
            .get_mut(address)
            .and_then(|failures| wait(failures, MAX_FAILURES_PER_ADDRESS, now));
        match by_account.max(by_address) {
            Some(wait) => Err(RetryAfter(wait)),
            None => Ok(()),
        }
    }

    pub fn record_failure(&mut self, account: &str, address: &str, now: Instant) {
        self.accounts
            .entry(account.to_lowercase())
            .or_default()
            .push(now);
        self.addresses
            .entry(address.to_string())
            .or_default()
            .push(now);
        // Bound the memory an attacker can make us use.
        if self.accounts.len() > 100_000 || self.addresses.len() > 100_000 {
            self.forget_old(now);
        }
    }

    /// A successful sign-in clears that account's failures (not the address's).
    pub fn record_success(&mut self, account: &str) {
        self.accounts.remove(&account.to_lowercase());
    }

    fn forget_old(&mut self, now: Instant) {
        for failures in self
            .accounts
            .values_mut()
            .chain(self.addresses.values_mut())
        {
            failures.retain(|at| now.duration_since(*at) < WINDOW);
        }
        self.accounts.retain(|_, failures| !failures.is_empty());
        self.addresses.retain(|_, failures| !failures.is_empty());
    }
}

/// How long until the oldest failure in the window leaves it, when over budget.
fn wait(failures: &mut Vec<Instant>, budget: usize, now: Instant) -> Option<Duration> {
    failures.retain(|at| now.duration_since(*at) < WINDOW);
    (failures.len() >= budget).then(|| WINDOW.saturating_sub(now.duration_since(failures[0])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_the_account_for_the_rest_of_the_window() {
        let mut throttle = Throttle::default();
        let start = Instant::now();
        for second in 0..5 {
            assert!(throttle.check("Kim", "10.0.0.1", start).is_ok());
            throttle.record_failure("kim", "10.0.0.1", start + Duration::from_secs(second));
        }
        let refused = throttle.check("KIM", "10.0.0.2", start + Duration::from_secs(10));
        assert_eq!(refused, Err(RetryAfter(Duration::from_secs(290))));
        // Other accounts are not affected; the window passes.
        assert!(
            throttle
                .check("lee", "10.0.0.2", start + Duration::from_secs(10))
                .is_ok()
        );
        assert!(
            throttle
                .check("kim", "10.0.0.2", start + WINDOW + Duration::from_secs(5))
                .is_ok()
        );
    }

    #[test]
    fn one_address_spraying_many_accounts_is_stopped() {
        let mut throttle = Throttle::default();
        let now = Instant::now();
        for index in 0..MAX_FAILURES_PER_ADDRESS {
            throttle.record_failure(&format!("user{index}"), "203.0.113.9", now);
        }
        assert!(throttle.check("someone-else", "203.0.113.9", now).is_err());
        assert!(throttle.check("someone-else", "198.51.100.1", now).is_ok());
    }

    #[test]
    fn success_clears_the_account() {
        let mut throttle = Throttle::default();
        let now = Instant::now();
        for _ in 0..4 {
            throttle.record_failure("kim", "10.0.0.1", now);
        }
        throttle.record_success("kim");
        throttle.record_failure("kim", "10.0.0.1", now);
        assert!(throttle.check("kim", "10.0.0.1", now).is_ok());
    }
}
