//! Failed sign-ins slow a guesser down without handing anyone a denial of
//! service. As OWASP's "slow down online guessing" advice and Keycloak's
//! brute-force detection do, there is no hard lock: after a few free
//! failures each further attempt waits a delay that doubles, up to a cap.
//! Failures are counted three ways:
//!
//! - **one account from one address**: one guesser against one account
//!   (5 free, then 1 s doubling to 15 min);
//! - **one account from any address**: guessing spread over many addresses
//!   (20 free, then up to 30 s: low, so the account's owner always gets in
//!   within half a minute, whatever anyone else does);
//! - **one address, any account**: password spraying (50 free, then up to
//!   5 min). An IPv6 address counts by its /64, which one host usually
//!   holds whole.
//!
//! An attempt is counted when it begins, checked and counted in one step
//! (the caller holds the lock), so a burst of parallel attempts gets no more
//! tries than the same attempts one after another; a success or an attempt
//! that never reached the password check takes its count back.
//!
//! Every map is bounded: a count is forgotten an hour after its last
//! failure, and a full map drops its stalest tenth.
//! Pure: the caller passes the time, so the rules are tested without waiting.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Free failures, then a delay from `first_delay` doubling to `max_delay`.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub free: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

pub const ONE_ACCOUNT_ONE_ADDRESS: Rule = Rule {
    free: 5,
    first_delay: Duration::from_secs(1),
    max_delay: Duration::from_secs(15 * 60),
};
pub const ONE_ACCOUNT: Rule = Rule {
    free: 20,
    first_delay: Duration::from_secs(1),
    max_delay: Duration::from_secs(30),
};
pub const ONE_ADDRESS: Rule = Rule {
    free: 50,
    first_delay: Duration::from_secs(1),
    max_delay: Duration::from_secs(5 * 60),
};

/// A count is forgotten this long after its last failure.
pub const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// The most entries one map keeps.
pub const MAX_ENTRIES: usize = 50_000;

/// Refused: try again after this long.
#[derive(Debug, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

/// An attempt let through and counted; give it back to [`Throttle`] when it
/// succeeds or does not count.
#[derive(Debug, PartialEq, Eq)]
pub struct Attempt {
    account: String,
    address: String,
    /// Failures of this account from this address, this attempt included.
    pub failures_in_a_row: u32,
}

impl Attempt {
    /// Whether a failure of this attempt goes into the audit log: the first
    /// of a row and then every time the row doubles, each saying how many
    /// there were, so a guesser cannot grow the log at their own pace.
    pub fn worth_auditing(&self) -> bool {
        self.failures_in_a_row.is_power_of_two()
    }
}

#[derive(Clone, Copy, Debug)]
struct Count {
    failures: u32,
    last: Instant,
}

impl Rule {
    /// How long a count still holds the next attempt back at `now`.
    fn wait(&self, count: &Count, now: Instant) -> Option<Duration> {
        let over = count.failures.checked_sub(self.free)?;
        // 2^20 s is far past any cap: no overflow, the cap decides.
        let delay = self
            .first_delay
            .saturating_mul(1 << over.min(20))
            .min(self.max_delay);
        let ready = count.last + delay;
        (ready > now).then(|| ready - now)
    }
}

/// Counts keyed by what a visitor sends, bounded in size.
struct Counts {
    rule: Rule,
    entries: HashMap<String, Count>,
    capacity: usize,
}

impl Counts {
    fn new(rule: Rule, capacity: usize) -> Counts {
        Counts {
            rule,
            entries: HashMap::new(),
            capacity,
        }
    }

    fn wait(&self, key: &str, now: Instant) -> Option<Duration> {
        let count = self.entries.get(key)?;
        if now.saturating_duration_since(count.last) >= FORGET_AFTER {
            return None;
        }
        self.rule.wait(count, now)
    }

    /// Counts one more failure; returns the count.
    fn add(&mut self, key: &str, now: Instant) -> u32 {
        if !self.entries.contains_key(key) && self.entries.len() >= self.capacity {
            self.make_room(now);
        }
        let count = self.entries.entry(key.to_string()).or_insert(Count {
            failures: 0,
            last: now,
        });
        if now.saturating_duration_since(count.last) >= FORGET_AFTER {
            count.failures = 0;
        }
        count.failures = count.failures.saturating_add(1);
        count.last = now;
        count.failures
    }

    /// Moves the count's last failure to `now`, when the failure was known.
    fn ended(&mut self, key: &str, now: Instant) {
        if let Some(count) = self.entries.get_mut(key) {
            count.last = count.last.max(now);
        }
    }

    /// Takes one failure back (an attempt that succeeded or did not count).
    fn take_back(&mut self, key: &str) {
        if let Some(count) = self.entries.get_mut(key) {
            count.failures = count.failures.saturating_sub(1);
            if count.failures == 0 {
                self.entries.remove(key);
            }
        }
    }

    fn forget(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// Drops what has expired; if that is not enough, the stalest tenth.
    /// Rare (once per tenth of the capacity), so a flood of new keys costs
    /// a sort now and then, not a scan per key.
    fn make_room(&mut self, now: Instant) {
        self.entries
            .retain(|_, count| now.saturating_duration_since(count.last) < FORGET_AFTER);
        let keep = self.capacity - self.capacity.div_ceil(10);
        if self.entries.len() <= keep {
            return;
        }
        let mut lasts: Vec<Instant> = self.entries.values().map(|count| count.last).collect();
        let drop = lasts.len() - keep;
        let (_, cutoff, _) = lasts.select_nth_unstable(drop);
        let cutoff = *cutoff;
        self.entries.retain(|_, count| count.last >= cutoff);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

pub struct Throttle {
    pairs: Counts,
    accounts: Counts,
    addresses: Counts,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::with_capacity(MAX_ENTRIES)
    }
}

impl Throttle {
    /// With at most `capacity` entries in each of its three maps.
    pub fn with_capacity(capacity: usize) -> Throttle {
        Throttle {
            pairs: Counts::new(ONE_ACCOUNT_ONE_ADDRESS, capacity),
            accounts: Counts::new(ONE_ACCOUNT, capacity),
            addresses: Counts::new(ONE_ADDRESS, capacity),
        }
    }

    /// Lets a sign-in for `account` from `address` be tried now and counts
    /// it as a failure until told otherwise, or says how long to wait.
    pub fn begin(
        &mut self,
        account: &str,
        address: &str,
        now: Instant,
    ) -> Result<Attempt, RetryAfter> {
        let account = account.to_lowercase();
        let address = address_key(address);
        let pair = pair_key(&account, &address);
        let wait = [
            self.pairs.wait(&pair, now),
            self.accounts.wait(&account, now),
            self.addresses.wait(&address, now),
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(wait) = wait {
            return Err(RetryAfter(wait));
        }
        let failures_in_a_row = self.pairs.add(&pair, now);
        self.accounts.add(&account, now);
        self.addresses.add(&address, now);
        Ok(Attempt {
            account,
            address,
            failures_in_a_row,
        })
    }

    /// The password was wrong: the delays run from now, when that became
    /// known, not from when the attempt began (hashing takes a while).
    pub fn failed(&mut self, attempt: &Attempt, now: Instant) {
        self.pairs
            .ended(&pair_key(&attempt.account, &attempt.address), now);
        self.accounts.ended(&attempt.account, now);
        self.addresses.ended(&attempt.address, now);
    }

    /// The right password: this address's row for the account is over; the
    /// account's and the address's counts lose this attempt only, so the
    /// owner signing in does not wipe what a guesser elsewhere built up.
    pub fn succeeded(&mut self, attempt: Attempt) {
        self.pairs
            .forget(&pair_key(&attempt.account, &attempt.address));
        self.accounts.take_back(&attempt.account);
        self.addresses.take_back(&attempt.address);
    }

    /// The attempt never reached the password check (the store failed): it
    /// does not count.
    pub fn not_counted(&mut self, attempt: Attempt) {
        self.pairs
            .take_back(&pair_key(&attempt.account, &attempt.address));
        self.accounts.take_back(&attempt.account);
        self.addresses.take_back(&attempt.address);
    }
}

/// A wait as people say it: "12 seconds", "4 minutes".
pub fn in_words(wait: Duration) -> String {
    app::accounts::wait_in_words(wait.as_secs_f64().ceil() as u64)
}

fn pair_key(account: &str, address: &str) -> String {
    format!("{account} {address}")
}

/// What an address counts as: IPv4 as it is (also when mapped into IPv6),
/// IPv6 by its /64.
pub fn address_key(address: &str) -> String {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
        },
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => address.chars().take(64).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    /// `count` failures of `account` from `address`, one a second from `start`.
    fn fail(throttle: &mut Throttle, account: &str, address: &str, start: Instant, count: u32) {
        for second in 0..count {
            let attempt = throttle.begin(account, address, start + SECOND * second);
            assert!(attempt.is_ok(), "attempt {second}: {attempt:?}");
        }
    }

    #[test]
    fn after_five_free_failures_each_attempt_waits_twice_as_long_as_the_one_before() {
        let mut throttle = Throttle::default();
        let start = Instant::now();
        fail(&mut throttle, "Kim", "10.0.0.1", start, 5);
        let fifth = start + SECOND * 4;
        // One second after the fifth failure, then two after the sixth...
        assert_eq!(
            throttle.begin("kim", "10.0.0.1", fifth),
            Err(RetryAfter(SECOND))
        );
        let sixth = fifth + SECOND;
        assert!(throttle.begin("KIM", "10.0.0.1", sixth).is_ok());
        assert_eq!(
            throttle.begin("kim", "10.0.0.1", sixth + SECOND),
            Err(RetryAfter(SECOND))
        );
        let seventh = sixth + SECOND * 2;
        let attempt = throttle.begin("kim", "10.0.0.1", seventh).unwrap();
        assert_eq!(attempt.failures_in_a_row, 7);
        assert_eq!(
            throttle.begin("kim", "10.0.0.1", seventh),
            Err(RetryAfter(SECOND * 4))
        );
    }

    #[test]
    fn the_delay_never_passes_its_cap_and_is_forgotten_after_an_hour() {
        let mut throttle = Throttle::default();
        let mut now = Instant::now();
        let mut failures = 0;
        while failures < 30 {
            match throttle.begin("kim", "10.0.0.1", now) {
                Ok(attempt) => failures = attempt.failures_in_a_row,
                Err(RetryAfter(wait)) => {
                    assert!(wait <= ONE_ACCOUNT_ONE_ADDRESS.max_delay, "{wait:?}");
                    now += wait;
                }
            }
        }
        assert_eq!(
            throttle.begin("kim", "10.0.0.1", now),
            Err(RetryAfter(ONE_ACCOUNT_ONE_ADDRESS.max_delay))
        );
        let attempt = throttle
            .begin("kim", "10.0.0.1", now + FORGET_AFTER)
            .unwrap();
        assert_eq!(attempt.failures_in_a_row, 1, "a new row after an hour");
    }

    #[test]
    fn a_guesser_at_one_address_does_not_lock_the_owner_out_from_another() {
        let mut throttle = Throttle::default();
        let start = Instant::now();
        // Far more than the free failures, from one address, for as long
        // as the guesser likes: the owner's own address is not held back...
        fail(&mut throttle, "admin", "203.0.113.9", start, 5);
        let later = start + Duration::from_secs(3600 - 1);
        for _ in 0..100 {
            let _ = throttle.begin("admin", "203.0.113.9", later);
        }
        let owner = throttle.begin("admin", "198.51.100.7", later);
        assert!(owner.is_ok(), "{owner:?}");
        throttle.succeeded(owner.unwrap());
        // ...while the guesser's address still waits.
        assert!(throttle.begin("admin", "203.0.113.9", later).is_err());
    }

    #[test]
    fn guessing_spread_over_many_addresses_holds_the_owner_back_half_a_minute_at_most() {
        let mut throttle = Throttle::default();
        let now = Instant::now();
        for index in 0..200 {
            let _ = throttle.begin(
                "admin",
                &format!("10.1.{}.{}", index / 250, index % 250),
                now,
            );
        }
        let wait = throttle.begin("admin", "198.51.100.7", now).unwrap_err().0;
        assert!(
            wait > Duration::ZERO && wait <= ONE_ACCOUNT.max_delay,
            "{wait:?}"
        );
        assert!(throttle.begin("admin", "198.51.100.7", now + wait).is_ok());
    }

    #[test]
    fn one_address_spraying_many_accounts_is_slowed_others_are_not() {
        let mut throttle = Throttle::default();
        let now = Instant::now();
        for index in 0..ONE_ADDRESS.free {
            assert!(
                throttle
                    .begin(&format!("user{index}"), "203.0.113.9", now)
                    .is_ok()
            );
        }
        assert_eq!(
            throttle.begin("someone-else", "203.0.113.9", now),
            Err(RetryAfter(SECOND))
        );
        assert!(throttle.begin("someone-else", "198.51.100.1", now).is_ok());
    }

    #[test]
    fn the_delay_runs_from_when_the_failure_was_known() {
        let mut throttle = Throttle::default();
        let start = Instant::now();
        fail(&mut throttle, "kim", "10.0.0.1", start, 4);
        let fifth = throttle.begin("kim", "10.0.0.1", start).unwrap();
        // Checking the password took three seconds.
        throttle.failed(&fifth, start + SECOND * 3);
        assert_eq!(
            throttle.begin("kim", "10.0.0.1", start + SECOND * 3),
            Err(RetryAfter(SECOND))
        );
    }

    #[test]
    fn a_parallel_burst_gets_no_more_tries_than_a_sequence() {
        // Fifty attempts begun before any finished: each is counted as it
        // begins, so only the free five pass the check.
        let mut throttle = Throttle::default();
        let now = Instant::now();
        let passed = (0..50)
            .map(|_| throttle.begin("kim", "10.0.0.1", now))
            .filter(Result::is_ok)
            .count();
        assert_eq!(passed, 5);
    }

    #[test]
    fn a_success_ends_the_row_and_gives_back_only_its_own_count() {
        let mut throttle = Throttle::default();
        let now = Instant::now();
        fail(&mut throttle, "kim", "10.0.0.1", now, 4);
        let right = throttle.begin("kim", "10.0.0.1", now).unwrap();
        throttle.succeeded(right);
        let attempt = throttle.begin("kim", "10.0.0.1", now).unwrap();
        assert_eq!(attempt.failures_in_a_row, 1);
        // The account keeps the four failures: sixteen more from elsewhere
        // and it is held back.
        for index in 0..15 {
            assert!(
                throttle
                    .begin("kim", &format!("10.2.0.{index}"), now)
                    .is_ok()
            );
        }
        assert!(throttle.begin("kim", "10.3.0.1", now).is_err());
    }

    #[test]
    fn an_attempt_that_never_reached_the_password_does_not_count() {
        let mut throttle = Throttle::default();
        let now = Instant::now();
        for _ in 0..10 {
            let attempt = throttle.begin("kim", "10.0.0.1", now).unwrap();
            throttle.not_counted(attempt);
        }
        assert_eq!(
            throttle
                .begin("kim", "10.0.0.1", now)
                .unwrap()
                .failures_in_a_row,
            1
        );
    }

    #[test]
    fn failures_are_audited_at_the_first_and_each_doubling() {
        let mut throttle = Throttle::default();
        let mut now = Instant::now();
        let mut audited = Vec::new();
        while audited.last() != Some(&16) {
            match throttle.begin("kim", "10.0.0.1", now) {
                Ok(attempt) if attempt.worth_auditing() => audited.push(attempt.failures_in_a_row),
                Ok(_) => {}
                Err(RetryAfter(wait)) => now += wait,
            }
        }
        assert_eq!(audited, [1, 2, 4, 8, 16]);
    }

    #[test]
    fn waits_are_said_in_seconds_then_minutes() {
        assert_eq!(in_words(Duration::from_millis(200)), "1 second");
        assert_eq!(in_words(Duration::from_millis(1500)), "2 seconds");
        assert_eq!(in_words(Duration::from_secs(90)), "90 seconds");
        assert_eq!(in_words(Duration::from_secs(91)), "2 minutes");
        assert_eq!(in_words(Duration::from_secs(900)), "15 minutes");
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(address_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(address_key("2001:db8:1:2:ffff::9"), "2001:db8:1:2::/64");
        assert_eq!(address_key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(address_key("192.0.2.7"), "192.0.2.7");
        let mut throttle = Throttle::default();
        let now = Instant::now();
        for host in 0..ONE_ADDRESS.free {
            let address = format!("2001:db8:1:2::{host:x}");
            assert!(
                throttle
                    .begin(&format!("user{host}"), &address, now)
                    .is_ok()
            );
        }
        assert!(throttle.begin("other", "2001:db8:1:2:9::9", now).is_err());
    }

    #[test]
    fn the_maps_stay_within_their_capacity_under_a_flood_of_new_names() {
        let mut throttle = Throttle::with_capacity(1_000);
        let start = Instant::now();
        for index in 0..20_000u32 {
            let now = start + Duration::from_millis(u64::from(index));
            let _ = throttle.begin(
                &format!("name{index}"),
                &format!("10.9.{}.{}", index / 250 % 250, index % 250),
                now,
            );
        }
        for counts in [&throttle.pairs, &throttle.accounts, &throttle.addresses] {
            assert!(counts.len() <= 1_000, "{}", counts.len());
        }
        // The newest are kept: the last name is still counted.
        assert!(throttle.accounts.entries.contains_key("name19999"));
    }
}
