//! Faults on demand, for reliability tests: error responses per verb and
//! resource, added latency, watches cut short, resumes refused with 410.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::status::ApiError;

/// The verbs faults can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
}

/// What a faulty request gets instead of its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// 500 InternalError.
    Internal,
    /// 503 ServiceUnavailable.
    Unavailable,
    /// 429 TooManyRequests with `Retry-After: seconds`.
    TooManyRequests { retry_after_seconds: u32 },
    /// 409 Conflict, as if another writer had been first.
    Conflict,
}

/// One fault: which requests it hits, how often, and what they get.
#[derive(Clone, Debug)]
pub struct Fault {
    /// `None` hits every verb.
    pub verb: Option<Verb>,
    /// A plural (`configmaps`) or a qualified id (`deployments.apps`); `None` hits all.
    pub resource: Option<String>,
    /// The share of matching requests that fail, 0.0 to 1.0.
    pub rate: f64,
    pub failure: Option<Failure>,
    /// Added before answering (failing or not).
    pub latency: Duration,
    /// How many more requests it may hit; `None` for no end.
    pub remaining: Option<u32>,
}

impl Fault {
    /// Every matching request fails with `failure`.
    pub fn always(failure: Failure) -> Self {
        Fault {
            verb: None,
            resource: None,
            rate: 1.0,
            failure: Some(failure),
            latency: Duration::ZERO,
            remaining: None,
        }
    }

    pub fn on(mut self, verb: Verb) -> Self {
        self.verb = Some(verb);
        self
    }

    pub fn for_resource(mut self, resource: &str) -> Self {
        self.resource = Some(resource.to_string());
        self
    }

    pub fn rate(mut self, rate: f64) -> Self {
        self.rate = rate.clamp(0.0, 1.0);
        self
    }

    pub fn times(mut self, count: u32) -> Self {
        self.remaining = Some(count);
        self
    }

    /// Only slower, never failing.
    pub fn latency(latency: Duration) -> Self {
        Fault {
            failure: None,
            latency,
            ..Fault::always(Failure::Internal)
        }
    }
}

#[derive(Default)]
struct Plan {
    faults: Vec<Fault>,
    /// Watches end (cleanly, as on a server timeout) after this long.
    cut_watches_after: Option<Duration>,
    /// Watches that resume from a resourceVersion get 410 Gone.
    expire_resumes: bool,
    /// The rolls that decide which requests a partial fault hits.
    rolls: Rolls,
}

/// The environment variable that fixes the seed of the fault rolls.
pub const SEED_VARIABLE: &str = "SANDBOX_FAULT_SEED";

/// A small xorshift generator (no dependency), seeded once: from
/// [`Faults::seed`], else `SANDBOX_FAULT_SEED`, else at random. The seed is
/// printed when the first roll is made, so a failing test's output tells how
/// to replay its rolls. The same seed gives the same rolls in the same order;
/// which request meets which roll still depends on the tasks' interleaving.
#[derive(Default)]
struct Rolls {
    /// 0 until seeded (xorshift never reaches 0 from a non-zero state).
    state: u64,
}

impl Rolls {
    fn seeded(seed: u64) -> Rolls {
        // splitmix64 spreads small seeds (1, 2, 3…) over the whole state.
        let mut mixed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rolls {
            state: (mixed ^ (mixed >> 31)) | 1,
        }
    }

    /// A number in [0, 1).
    fn next(&mut self) -> f64 {
        if self.state == 0 {
            let seed = std::env::var(SEED_VARIABLE)
                .ok()
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or_else(|| {
                    u64::from_le_bytes(
                        uuid::Uuid::new_v4().as_bytes()[..8]
                            .try_into()
                            .unwrap_or([7; 8]),
                    )
                });
            // stderr, not the log: a test harness shows it with a failure.
            eprintln!("sandbox faults: seed {seed} ({SEED_VARIABLE}={seed} replays these rolls)");
            *self = Rolls::seeded(seed);
        }
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A handle on the faults of one sandbox; cheap to clone.
#[derive(Clone, Default)]
pub struct Faults(Arc<Mutex<Plan>>);

impl Faults {
    fn plan(&self) -> MutexGuard<'_, Plan> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn inject(&self, fault: Fault) {
        self.plan().faults.push(fault);
    }

    pub fn cut_watches_after(&self, after: Option<Duration>) {
        self.plan().cut_watches_after = after;
    }

    /// Fixes the seed of the rolls that decide which requests a fault with a
    /// rate below 1 hits.
    pub fn seed(&self, seed: u64) {
        self.plan().rolls = Rolls::seeded(seed);
    }

    pub fn expire_resumes(&self, expire: bool) {
        self.plan().expire_resumes = expire;
    }

    /// Back to a well-behaved API.
    pub fn clear(&self) {
        let mut plan = self.plan();
        plan.faults.clear();
        plan.cut_watches_after = None;
        plan.expire_resumes = false;
    }

    pub(crate) fn watch_cut(&self) -> Option<Duration> {
        self.plan().cut_watches_after
    }

    pub(crate) fn resumes_expired(&self) -> bool {
        self.plan().expire_resumes
    }

    /// Decides the fate of one request: the latency to add, and the failure
    /// to answer with instead, if any.
    pub(crate) fn decide(&self, verb: Verb, plural: &str, id: &str) -> (Duration, Option<Failure>) {
        let mut plan = self.plan();
        let mut latency = Duration::ZERO;
        let mut failure = None;
        for index in 0..plan.faults.len() {
            let fault = &plan.faults[index];
            let matches = fault.verb.is_none_or(|wanted| wanted == verb)
                && fault
                    .resource
                    .as_deref()
                    .is_none_or(|wanted| wanted == plural || wanted == id)
                && fault.remaining != Some(0);
            if !matches {
                continue;
            }
            let rate = fault.rate;
            let roll = plan.rolls.next();
            let fault = &mut plan.faults[index];
            latency += fault.latency;
            if fault.failure.is_none() {
                // A latency-only fault hits every request it slows.
                if let Some(remaining) = fault.remaining.as_mut() {
                    *remaining -= 1;
                }
            } else if failure.is_none() && roll < rate {
                failure = fault.failure;
                if let Some(remaining) = fault.remaining.as_mut() {
                    *remaining -= 1;
                }
            }
        }
        (latency, failure)
    }
}

impl Failure {
    pub(crate) fn response(self) -> Response {
        let error = |code: StatusCode, reason: &'static str, message: &str| ApiError {
            code,
            reason,
            message: message.to_string(),
            details: None,
        };
        match self {
            Failure::Internal => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "an injected internal error",
            )
            .into_response(),
            Failure::Unavailable => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "an injected outage",
            )
            .into_response(),
            Failure::Conflict => error(
                StatusCode::CONFLICT,
                "Conflict",
                "an injected conflict: the object was modified",
            )
            .into_response(),
            Failure::TooManyRequests {
                retry_after_seconds,
            } => {
                let mut response = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequests",
                    "an injected rate limit",
                )
                .into_response();
                if let Ok(value) = retry_after_seconds.to_string().parse() {
                    response
                        .headers_mut()
                        .insert(axum::http::header::RETRY_AFTER, value);
                }
                response
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(faults: &Faults, requests: usize) -> Vec<bool> {
        (0..requests)
            .map(|_| faults.decide(Verb::Get, "pods", "pods").1.is_some())
            .collect()
    }

    #[test]
    fn a_seed_replays_the_same_hits_and_another_seed_does_not() {
        let faulty = || {
            let faults = Faults::default();
            faults.inject(Fault::always(Failure::Internal).rate(0.5));
            faults
        };
        let (first, again, other) = (faulty(), faulty(), faulty());
        first.seed(42);
        again.seed(42);
        other.seed(43);
        let hits_first = hits(&first, 64);
        assert_eq!(hits_first, hits(&again, 64));
        assert_ne!(hits_first, hits(&other, 64));
        let share = hits_first.iter().filter(|hit| **hit).count();
        assert!((16..=48).contains(&share), "{share} of 64 at a rate of 0.5");
    }
}
