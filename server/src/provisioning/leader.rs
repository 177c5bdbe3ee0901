//! One engine at a time: with several portal replicas, the one holding a
//! Kubernetes Lease (coordination.k8s.io/v1) runs the provisioning engine.
//! The holder renews it every few seconds; a holder that stops renewing
//! (crashed, hung, cut off) is taken over once the lease has expired, and
//! it stops acting itself as soon as it cannot renew in time.
//!
//! `decide` is the rule, without IO; `LeaderElector` reads and writes the
//! Lease, guarded by its resourceVersion so two replicas can never both win.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};

/// How long a lease holds without renewal.
pub const LEASE_DURATION: Duration = Duration::from_secs(15);
/// How often the holder renews (and others look).
pub const RENEW_EVERY: Duration = Duration::from_secs(5);
pub const LEASE_NAME: &str = "dscloud-provisioning-engine";

/// The Lease as the rule needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub identity: String,
    pub renewed_at: Timestamp,
    pub duration: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseStep {
    /// No lease yet: create it, holding it.
    Create,
    /// Ours: renew it.
    Renew,
    /// Someone else's, expired: take it over.
    TakeOver,
    /// Someone else's and alive: leave the engine to them.
    Follow,
}

/// What to do with the lease, given who holds it now.
pub fn decide(holder: Option<&Holder>, me: &str, now: Timestamp) -> LeaseStep {
    match holder {
        None => LeaseStep::Create,
        Some(holder) if holder.identity == me => LeaseStep::Renew,
        Some(holder) => {
            let lease = SignedDuration::try_from(holder.duration).unwrap_or(SignedDuration::MAX);
            let expired = holder
                .renewed_at
                .checked_add(lease)
                .is_ok_and(|expires| expires <= now);
            if holder.identity.is_empty() || expired {
                LeaseStep::TakeOver
            } else {
                LeaseStep::Follow
            }
        }
    }
}

pub struct LeaderElector {
    leases: Api<Lease>,
    identity: String,
    leading: Arc<AtomicBool>,
}

impl LeaderElector {
    pub fn new(client: kube::Client, namespace: &str, identity: String) -> Self {
        LeaderElector {
            leases: Api::namespaced(client, namespace),
            identity,
            leading: Arc::new(AtomicBool::new(false)),
        }
    }

    /// True while this replica holds the lease (read before every action).
    pub fn leading(&self) -> Arc<AtomicBool> {
        self.leading.clone()
    }

    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// One round: acquire, renew or follow; returns whether we lead.
    pub async fn round(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let current = self.leases.get_opt(LEASE_NAME).await?;
        let holder = current.as_ref().map(holder_of);
        let step = decide(holder.as_ref(), &self.identity, now);
        let won = match (step, current) {
            (LeaseStep::Follow, _) => false,
            (LeaseStep::Create, _) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(LEASE_NAME.to_string()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(self.spec(now, None, 0)),
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
                lease.spec = Some(self.spec(now, acquired, transitions));
                // The resourceVersion read above guards the write: of two
                // replicas taking over at once, one gets 409 Conflict.
                written(
                    self.leases
                        .replace(LEASE_NAME, &PostParams::default(), &lease)
                        .await,
                )?
            }
            (LeaseStep::Renew | LeaseStep::TakeOver, None) => false,
        };
        if won && step == LeaseStep::TakeOver {
            tracing::warn!(identity = %self.identity, "took over the provisioning engine's lease from an unresponsive replica");
        }
        Ok(won)
    }

    fn spec(&self, now: Timestamp, acquired: Option<MicroTime>, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(LEASE_DURATION.as_secs() as i32),
            acquire_time: acquired.or(Some(MicroTime(now))),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// Keeps trying to lead until `stop`; `leading` turns false as soon as
    /// a renewal fails or the last success is older than the lease.
    pub async fn run(self: Arc<Self>, on_lead: Arc<tokio::sync::Notify>) {
        let mut last_success: Option<std::time::Instant> = None;
        loop {
            match self.round().await {
                Ok(true) => {
                    if !self.leading.swap(true, Ordering::SeqCst) {
                        tracing::info!(identity = %self.identity, "this replica runs the provisioning engine");
                        on_lead.notify_one();
                    }
                    last_success = Some(std::time::Instant::now());
                }
                Ok(false) => {
                    if self.leading.swap(false, Ordering::SeqCst) {
                        tracing::warn!(identity = %self.identity, "another replica holds the provisioning engine's lease now");
                    }
                    last_success = None;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot reach the provisioning engine's lease");
                    // Stop acting before another replica may take over.
                    let expired =
                        last_success.is_none_or(|at| at.elapsed() + RENEW_EVERY >= LEASE_DURATION);
                    if expired {
                        self.leading.store(false, Ordering::SeqCst);
                    }
                }
            }
            tokio::time::sleep(RENEW_EVERY).await;
        }
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
        renewed_at: spec
            .renew_time
            .or(spec.acquire_time)
            .map_or(Timestamp::MIN, |time| time.0),
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

    fn held_by(identity: &str, seconds_ago: i64) -> Holder {
        Holder {
            identity: identity.to_string(),
            renewed_at: Timestamp::now() - SignedDuration::from_secs(seconds_ago),
            duration: LEASE_DURATION,
        }
    }

    #[test]
    fn the_lease_goes_to_one_replica_and_an_unresponsive_one_is_taken_over() {
        let now = Timestamp::now();
        assert_eq!(decide(None, "a", now), LeaseStep::Create);
        assert_eq!(decide(Some(&held_by("a", 3)), "a", now), LeaseStep::Renew);
        // Even an expired lease of our own is renewed, not taken over.
        assert_eq!(decide(Some(&held_by("a", 60)), "a", now), LeaseStep::Renew);
        assert_eq!(decide(Some(&held_by("b", 3)), "a", now), LeaseStep::Follow);
        assert_eq!(decide(Some(&held_by("b", 14)), "a", now), LeaseStep::Follow);
        assert_eq!(
            decide(Some(&held_by("b", 16)), "a", now),
            LeaseStep::TakeOver
        );
        assert_eq!(decide(Some(&held_by("", 1)), "a", now), LeaseStep::TakeOver);
    }
}
