//! One engine at a time: with several portal replicas, the one holding a
//! Kubernetes Lease (coordination.k8s.io/v1) runs an engine, and the store
//! fences it.
//!
//! - Expiry is judged by each elector's own monotonic clock: a follower
//!   takes over once the Lease has not changed for a whole lease duration
//!   since it last saw it change, whatever the machines' wall clocks say.
//! - The holder renews every `renew_every`; it acts only until
//!   `renew_deadline` after the start of its last successful renewal, which
//!   is shorter than the lease: a leader whose renewal hangs or fails stops
//!   acting before anyone else may start.
//! - Each leadership begins a new term in the store ([`TermStore`]); every
//!   engine write carries it, and the store refuses a write from an ended
//!   term in the same statement. A replica that was paused past its
//!   deadline and wakes up believing it leads cannot overwrite anything.
//!
//! `decide` is the rule, without IO; `LeaderElector` reads and writes the
//! Lease, guarded by its resourceVersion so two replicas can never both win.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::store::{Fence, TermStore};

/// The Lease's timings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTimings {
    /// How long a lease holds without renewal.
    pub duration: Duration,
    /// How often the holder renews (and others look).
    pub renew_every: Duration,
    /// How long after the start of its last successful renewal the holder
    /// may act: less than `duration`, so it stops before anyone takes over.
    pub renew_deadline: Duration,
}

impl Default for LeaseTimings {
    fn default() -> Self {
        LeaseTimings {
            duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
            renew_deadline: Duration::from_secs(10),
        }
    }
}

/// The Lease as the rule needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub identity: String,
    pub duration: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseStep {
    /// No lease yet: create it, holding it.
    Create,
    /// Ours: renew it.
    Renew,
    /// Someone else's, expired or released: take it over.
    TakeOver,
    /// Someone else's and alive: leave the engine to them.
    Follow,
}

/// What to do with the lease, given who holds it and how long, by this
/// elector's own clock, it has gone unchanged.
pub fn decide(holder: Option<&Holder>, me: &str, unchanged_for: Duration) -> LeaseStep {
    match holder {
        None => LeaseStep::Create,
        Some(holder) if holder.identity == me => LeaseStep::Renew,
        Some(holder) if holder.identity.is_empty() || unchanged_for >= holder.duration => {
            LeaseStep::TakeOver
        }
        Some(_) => LeaseStep::Follow,
    }
}

/// Whether, and in which term, this replica leads an engine: read before
/// every action, carried by every write.
pub struct Leadership {
    lease: String,
    held: Mutex<Option<Held>>,
    gained: Notify,
}

#[derive(Clone, Copy)]
struct Held {
    term: i64,
    valid_until: Instant,
}

impl Leadership {
    /// `lease` names the engine's lease in the store's terms (an engine in
    /// a region), e.g. `provisioning/local`.
    pub fn new(lease: impl Into<String>) -> Arc<Leadership> {
        Arc::new(Leadership {
            lease: lease.into(),
            held: Mutex::new(None),
            gained: Notify::new(),
        })
    }

    /// The lease's name in the store's terms.
    pub fn lease(&self) -> &str {
        &self.lease
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Held>> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The fence to write with, while this replica leads in time.
    pub fn current(&self) -> Option<Fence> {
        let held = (*self.lock())?;
        (Instant::now() < held.valid_until).then(|| Fence {
            lease: self.lease.clone(),
            term: held.term,
        })
    }

    /// Resolves when this replica starts leading.
    pub async fn gained(&self) {
        self.gained.notified().await;
    }

    /// A write was refused for the term: stop acting; the elector begins a
    /// new term if it still holds the Lease.
    pub fn lost(&self) {
        *self.lock() = None;
    }

    fn hold(&self, term: i64, valid_until: Instant) {
        *self.lock() = Some(Held { term, valid_until });
        self.gained.notify_waiters();
        self.gained.notify_one();
    }

    fn extend(&self, valid_until: Instant) -> bool {
        match self.lock().as_mut() {
            Some(held) => {
                held.valid_until = valid_until;
                true
            }
            None => false,
        }
    }
}

/// What this elector last saw of the Lease, and since when (its own clock).
struct Seen {
    version: String,
    since: Instant,
}

pub struct LeaderElector {
    leases: Api<Lease>,
    lease_name: String,
    identity: String,
    timings: LeaseTimings,
    terms: Arc<dyn TermStore>,
    leadership: Arc<Leadership>,
    seen: Mutex<Option<Seen>>,
}

impl LeaderElector {
    /// An elector for the Lease `lease_name` in `namespace`, fencing in
    /// the store under `leadership`'s lease key.
    pub fn new(
        client: kube::Client,
        namespace: &str,
        lease_name: &str,
        identity: String,
        terms: Arc<dyn TermStore>,
        leadership: Arc<Leadership>,
    ) -> Self {
        LeaderElector {
            leases: Api::namespaced(client, namespace),
            lease_name: lease_name.to_string(),
            identity,
            timings: LeaseTimings::default(),
            terms,
            leadership,
            seen: Mutex::new(None),
        }
    }

    pub fn with_timings(mut self, timings: LeaseTimings) -> Self {
        self.timings = timings;
        self
    }

    pub fn leadership(&self) -> Arc<Leadership> {
        self.leadership.clone()
    }

    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// How long the Lease has gone unchanged by this elector's clock.
    fn unchanged_for(&self, lease: Option<&Lease>, now: Instant) -> Duration {
        let version = lease.map(|lease| {
            let spec = lease.spec.clone().unwrap_or_default();
            format!(
                "{}/{:?}/{:?}",
                lease.metadata.resource_version.clone().unwrap_or_default(),
                spec.holder_identity,
                spec.renew_time.map(|time| time.0.to_string()),
            )
        });
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match (version, seen.as_ref()) {
            (Some(version), Some(last)) if last.version == version => now - last.since,
            (Some(version), _) => {
                *seen = Some(Seen {
                    version,
                    since: now,
                });
                Duration::ZERO
            }
            (None, _) => {
                *seen = None;
                Duration::ZERO
            }
        }
    }

    /// One round: acquire, renew or follow; returns whether we lead.
    pub async fn round(&self) -> Result<bool, kube::Error> {
        let started = Instant::now();
        let current = self.leases.get_opt(&self.lease_name).await?;
        let holder = current.as_ref().map(holder_of);
        let unchanged_for = self.unchanged_for(current.as_ref(), started);
        // The longer of the holder's stated duration and ours: replicas
        // configured differently still never take over early.
        let holder = holder.map(|holder| Holder {
            duration: holder.duration.max(self.timings.duration),
            ..holder
        });
        let step = decide(holder.as_ref(), &self.identity, unchanged_for);
        let won = match (step, current) {
            (LeaseStep::Follow, _) => false,
            (LeaseStep::Create, _) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.lease_name.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(self.spec(None, 0)),
                };
                written(self.leases.create(&PostParams::default(), &lease).await)?
            }
            (LeaseStep::Renew | LeaseStep::TakeOver, Some(mut lease)) => {
                let previous = lease.spec.take().unwrap_or_default();
                let transitions = previous.lease_transitions.unwrap_or(0)
                    + i32::from(step == LeaseStep::TakeOver);
                let acquired = if step == LeaseStep::Renew {
                    previous.acquire_time
                } else {
                    None
                };
                lease.spec = Some(self.spec(acquired, transitions));
                // The resourceVersion read above guards the write: of two
                // replicas taking over at once, one gets 409 Conflict.
                written(
                    self.leases
                        .replace(&self.lease_name, &PostParams::default(), &lease)
                        .await,
                )?
            }
            (LeaseStep::Renew | LeaseStep::TakeOver, None) => false,
        };
        if !won {
            if self.leadership.current().is_some() {
                tracing::warn!(identity = %self.identity, lease = %self.lease_name, "another replica holds the lease now");
            }
            self.leadership.lost();
            return Ok(false);
        }
        let valid_until = started + self.timings.renew_deadline;
        if !self.leadership.extend(valid_until) {
            // Newly leading (or a write was refused for our term): a new term.
            match self
                .terms
                .begin_term(self.leadership.lease.as_str(), &self.identity)
                .await
            {
                Ok(term) => {
                    if step == LeaseStep::TakeOver {
                        tracing::warn!(identity = %self.identity, lease = %self.lease_name, term, "took over the lease from an unresponsive replica");
                    } else {
                        tracing::info!(identity = %self.identity, lease = %self.lease_name, term, "this replica leads");
                    }
                    self.leadership.hold(term, valid_until);
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot begin a term in the store; not leading yet");
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    fn spec(&self, acquired: Option<MicroTime>, transitions: i32) -> LeaseSpec {
        let now = jiff::Timestamp::now();
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(
                i32::try_from(self.timings.duration.as_secs().max(1)).unwrap_or(i32::MAX),
            ),
            acquire_time: acquired.or(Some(MicroTime(now))),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// Keeps trying to lead, renewing in time, until the task is dropped.
    /// A round that hangs is cut at the renew deadline; the leadership
    /// lapses on its own when renewals stop succeeding.
    pub async fn run(self: Arc<Self>) {
        loop {
            match tokio::time::timeout(self.timings.renew_deadline, self.round()).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => {
                    tracing::warn!(%error, lease = %self.lease_name, "cannot reach the lease");
                }
                Err(_) => {
                    tracing::warn!(lease = %self.lease_name, "renewing the lease hung");
                }
            }
            tokio::time::sleep(self.timings.renew_every).await;
        }
    }

    /// Gives the lease up (at shutdown), so another replica takes over at
    /// once instead of waiting for it to expire.
    pub async fn release(&self) -> Result<(), kube::Error> {
        self.leadership.lost();
        let Some(mut lease) = self.leases.get_opt(&self.lease_name).await? else {
            return Ok(());
        };
        let mut spec = lease.spec.take().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = Some(String::new());
        lease.spec = Some(spec);
        written(
            self.leases
                .replace(&self.lease_name, &PostParams::default(), &lease)
                .await,
        )?;
        Ok(())
    }
}

/// A conflict or a lost race is "not ours", not an error.
fn written(result: Result<Lease, kube::Error>) -> Result<bool, kube::Error> {
    match result {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(response)) if response.code == 409 => Ok(false),
        Err(error) => Err(error),
    }
}

fn holder_of(lease: &Lease) -> Holder {
    let spec = lease.spec.clone().unwrap_or_default();
    Holder {
        identity: spec.holder_identity.unwrap_or_default(),
        duration: Duration::from_secs(
            u64::try_from(spec.lease_duration_seconds.unwrap_or(15)).unwrap_or(15),
        ),
    }
}

/// This replica's name in the lease: the pod's hostname and a random suffix
/// (two processes on one host differ).
pub fn identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|host| !host.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|host| host.trim().to_string())
        })
        .unwrap_or_else(|| "portal".to_string());
    format!("{host}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// The namespace the lease lives in: the portal's own in a cluster, else `default`.
pub fn namespace() -> String {
    std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        .map(|namespace| namespace.trim().to_string())
        .ok()
        .filter(|namespace| !namespace.is_empty())
        .unwrap_or_else(|| "default".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held_by(identity: &str) -> Holder {
        Holder {
            identity: identity.to_string(),
            duration: Duration::from_secs(15),
        }
    }

    #[test]
    fn the_lease_goes_to_one_replica_and_an_unresponsive_one_is_taken_over() {
        let seconds = Duration::from_secs;
        assert_eq!(decide(None, "a", seconds(0)), LeaseStep::Create);
        assert_eq!(
            decide(Some(&held_by("a")), "a", seconds(3)),
            LeaseStep::Renew
        );
        // Even an expired lease of our own is renewed, not taken over.
        assert_eq!(
            decide(Some(&held_by("a")), "a", seconds(60)),
            LeaseStep::Renew
        );
        assert_eq!(
            decide(Some(&held_by("b")), "a", seconds(3)),
            LeaseStep::Follow
        );
        assert_eq!(
            decide(Some(&held_by("b")), "a", seconds(14)),
            LeaseStep::Follow
        );
        assert_eq!(
            decide(Some(&held_by("b")), "a", seconds(15)),
            LeaseStep::TakeOver
        );
        // Released at shutdown: taken at once.
        assert_eq!(
            decide(Some(&held_by("")), "a", seconds(0)),
            LeaseStep::TakeOver
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_leader_stops_acting_at_its_deadline_without_a_renewal() {
        let leadership = Leadership::new("provisioning/local");
        assert_eq!(leadership.current(), None);
        leadership.hold(3, Instant::now() + Duration::from_secs(10));
        assert_eq!(
            leadership.current(),
            Some(Fence {
                lease: "provisioning/local".into(),
                term: 3
            })
        );
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(leadership.current(), None, "no renewal: no more acting");
    }
}
