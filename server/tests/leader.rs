//! Two portal replicas on one cluster (the sandbox) and one store: one
//! holds the engine's Lease and a term in the store; the other waits, and
//! takes over once the holder has stopped renewing for a whole lease
//! duration by its own clock. A holder whose renewal hangs stops acting
//! before that, and its late writes are refused by the store.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Client;
use kube::api::{Api, PostParams};
use sandbox::{Behaviour, Fault, Sandbox, Verb};
use server::engine::{LeaderElector, Leadership, LeaseTimings};
use server::store::{Store, StoreError};

mod support;

const LEASE: &str = "dscloud-provisioning-engine";

/// Short timings, so that the expiries below take a second, not a minute
/// (a Lease states its duration in whole seconds).
const TIMINGS: LeaseTimings = LeaseTimings {
    duration: Duration::from_secs(1),
    renew_every: Duration::from_millis(100),
    renew_deadline: Duration::from_millis(500),
};

/// A cluster and a store, with an elector for each replica named. The
/// electors act as the portal's ServiceAccount under deploy/'s roles, in
/// the portal's namespace (a Lease request those roles refuse fails the
/// test).
struct Replicas {
    sandbox: Sandbox,
    /// A cluster admin's client, for the test's own reads.
    client: Client,
    _portal: support::rbac::AsPortal,
    store: Arc<dyn Store>,
    electors: Vec<LeaderElector>,
    _dir: tempfile::TempDir,
}

async fn replicas(count: usize) -> Replicas {
    let sandbox = Sandbox::with_controllers(Behaviour::instant());
    let client = Client::new(sandbox.router(), "default");
    let portal = support::rbac::AsPortal::install(&sandbox, &client).await;
    let (store, dir) = support::sqlite().await;
    let electors = (0..count)
        .map(|index| {
            elector(
                &portal.client,
                &store,
                &format!("replica-{}", (b'a' + index as u8) as char),
            )
        })
        .collect();
    Replicas {
        sandbox,
        client,
        _portal: portal,
        store,
        electors,
        _dir: dir,
    }
}

fn elector(client: &Client, store: &Arc<dyn Store>, name: &str) -> LeaderElector {
    LeaderElector::new(
        client.clone(),
        support::rbac::NAMESPACE,
        LEASE,
        name.to_string(),
        store.clone(),
        Leadership::new("provisioning/local"),
    )
    .with_timings(TIMINGS)
}

#[tokio::test]
async fn one_replica_leads_and_a_silent_one_is_taken_over_by_the_others_clock() {
    let bed = replicas(2).await;
    let (first, second) = (&bed.electors[0], &bed.electors[1]);

    assert!(
        first.round().await.unwrap(),
        "the first replica creates the lease"
    );
    assert!(!second.round().await.unwrap(), "the second one follows");
    assert!(first.round().await.unwrap(), "the holder renews");
    assert!(!second.round().await.unwrap());
    assert_eq!(first.leadership().current().unwrap().term, 1);
    assert!(second.leadership().current().is_none());

    // A renewal stamped long ago by a skewed wall clock is still a renewal:
    // only the Lease not changing for a whole duration counts.
    let leases: Api<Lease> = Api::namespaced(bed.client.clone(), support::rbac::NAMESPACE);
    let mut lease = leases.get(LEASE).await.unwrap();
    lease.spec.as_mut().unwrap().renew_time = Some(MicroTime(
        jiff::Timestamp::now() - jiff::SignedDuration::from_secs(3600),
    ));
    leases
        .replace(LEASE, &PostParams::default(), &lease)
        .await
        .unwrap();
    assert!(!second.round().await.unwrap(), "a changed lease is alive");

    // A goes silent. B's own clock runs past the lease's duration.
    tokio::time::sleep(TIMINGS.duration).await;
    assert!(
        second.round().await.unwrap(),
        "B takes the silent lease over"
    );
    let spec = leases.get(LEASE).await.unwrap().spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("replica-b"));
    assert_eq!(spec.lease_transitions, Some(1));
    assert_eq!(second.leadership().current().unwrap().term, 2);
    assert!(!first.round().await.unwrap(), "A, back, follows B");
    assert!(first.leadership().current().is_none());
}

#[tokio::test]
async fn a_leader_whose_renewal_hangs_stops_acting_and_its_late_write_is_refused() {
    let bed = replicas(2).await;
    let (first, second) = (&bed.electors[0], &bed.electors[1]);
    assert!(first.round().await.unwrap());
    let old_fence = first.leadership().current().unwrap();
    let owner = support::user(bed.store.as_ref(), "cora", app::roles::Role::Customer).await;
    let database = bed
        .store
        .create_database(support::new_database(
            owner.id,
            "orders",
            "cassandra",
            "small",
        ))
        .await
        .unwrap()
        .into_record();
    assert!(!second.round().await.unwrap());

    // A's next renewal hangs in the API server.
    bed.sandbox.faults().inject(
        Fault::latency(Duration::from_secs(3600))
            .for_resource("leases.coordination.k8s.io")
            .on(Verb::Get)
            .times(1),
    );
    let hung = tokio::time::timeout(TIMINGS.renew_deadline, first.round()).await;
    assert!(hung.is_err(), "the renewal hung");
    // By its deadline, shorter than the lease, A no longer acts.
    assert!(
        first.leadership().current().is_none(),
        "a leader that cannot renew stops before anyone may take over"
    );

    // B takes over once the lease went unchanged for its duration.
    assert!(!second.round().await.unwrap());
    tokio::time::sleep(TIMINGS.duration).await;
    assert!(second.round().await.unwrap());
    let new_fence = second.leadership().current().unwrap();
    assert!(new_fence.term > old_fence.term);

    // A's write, decided before it hung, arrives late: refused.
    match bed
        .store
        .start_step(database.id, Some(&old_fence), "namespace", 1)
        .await
    {
        Err(StoreError::Deposed { term, .. }) => assert_eq!(term, old_fence.term),
        other => panic!("a deposed leader's write went through: {other:?}"),
    }
    bed.store
        .start_step(database.id, Some(&new_fence), "namespace", 1)
        .await
        .unwrap();
}

#[tokio::test]
async fn two_replicas_taking_over_at_once_cannot_both_win() {
    let bed = replicas(6).await;
    let electors = &bed.electors;
    let rounds = futures_util::future::join_all(electors.iter().map(LeaderElector::round)).await;
    let winners = rounds
        .into_iter()
        .filter(|won| *won.as_ref().unwrap())
        .count();
    assert_eq!(winners, 1);
    let leading = electors
        .iter()
        .filter(|elector| elector.leadership().current().is_some())
        .count();
    assert_eq!(leading, 1, "exactly the winner acts");
}

#[tokio::test]
async fn a_released_lease_is_taken_at_once() {
    let bed = replicas(2).await;
    let (first, second) = (&bed.electors[0], &bed.electors[1]);
    assert!(first.round().await.unwrap());
    assert!(!second.round().await.unwrap());
    first.release().await.unwrap();
    assert!(first.leadership().current().is_none());
    assert!(
        second.round().await.unwrap(),
        "no need to wait for the lease to expire"
    );
}

#[tokio::test]
async fn a_leader_whose_renewals_fail_steps_down_by_its_deadline_before_anyone_may_take_over() {
    let bed = replicas(2).await;
    let (first, second) = (&bed.electors[0], &bed.electors[1]);
    assert!(first.round().await.unwrap());
    let renewed_at = std::time::Instant::now();
    // From now on the API server refuses every Lease request of A's.
    bed.sandbox.faults().inject(
        Fault::always(sandbox::Failure::Unavailable).for_resource("leases.coordination.k8s.io"),
    );
    assert!(first.round().await.is_err(), "the renewal fails");
    assert!(
        first.leadership().current().is_some(),
        "one failed renewal is not yet the end: the last one holds until its deadline"
    );
    tokio::time::sleep(TIMINGS.renew_deadline.saturating_sub(renewed_at.elapsed())).await;
    assert!(first.round().await.is_err());
    assert!(
        first.leadership().current().is_none(),
        "past the renewal deadline a leader that could not renew has stepped down"
    );
    // The deadline is shorter than the lease: only now may B take over.
    bed.sandbox.faults().clear();
    assert!(!second.round().await.unwrap(), "B still sees a live lease");
    tokio::time::sleep(TIMINGS.duration).await;
    assert!(
        second.round().await.unwrap(),
        "B takes over the silent lease"
    );
}
