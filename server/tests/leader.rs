//! Two portal replicas on one cluster (the sandbox): one holds the engine's
//! Lease; the other waits, and takes over once the holder stops renewing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::atomic::Ordering;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Client;
use kube::api::{Api, PostParams};
use sandbox::{Behaviour, Sandbox};
use server::provisioning::leader::{LEASE_NAME, LeaderElector};

#[tokio::test]
async fn one_replica_leads_and_a_silent_one_is_taken_over() {
    let sandbox = Sandbox::with_controllers(Behaviour::instant());
    let client = Client::new(sandbox.router(), "default");
    let first = LeaderElector::new(client.clone(), "default", "replica-a".into());
    let second = LeaderElector::new(client.clone(), "default", "replica-b".into());

    assert!(
        first.round().await.unwrap(),
        "the first replica creates the lease"
    );
    assert!(!second.round().await.unwrap(), "the second one follows");
    assert!(first.round().await.unwrap(), "the holder renews");
    assert!(!second.round().await.unwrap());

    // Replica A hangs: its last renewal ages past the lease's duration.
    let leases: Api<Lease> = Api::namespaced(client.clone(), "default");
    let mut lease = leases.get(LEASE_NAME).await.unwrap();
    let spec = lease.spec.as_mut().unwrap();
    spec.renew_time = Some(MicroTime(
        jiff::Timestamp::now() - jiff::SignedDuration::from_secs(20),
    ));
    leases
        .replace(LEASE_NAME, &PostParams::default(), &lease)
        .await
        .unwrap();

    assert!(
        second.round().await.unwrap(),
        "B takes the expired lease over"
    );
    let lease = leases.get(LEASE_NAME).await.unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("replica-b"));
    assert_eq!(spec.lease_transitions, Some(1));
    assert!(!first.round().await.unwrap(), "A, back, follows B");
}

#[tokio::test]
async fn two_replicas_taking_over_at_once_cannot_both_win() {
    let sandbox = Sandbox::with_controllers(Behaviour::instant());
    let client = Client::new(sandbox.router(), "default");
    let electors: Vec<LeaderElector> = (0..6)
        .map(|index| LeaderElector::new(client.clone(), "default", format!("replica-{index}")))
        .collect();
    let rounds = futures_util::future::join_all(electors.iter().map(LeaderElector::round)).await;
    let winners = rounds
        .into_iter()
        .filter(|won| *won.as_ref().unwrap())
        .count();
    assert_eq!(winners, 1);
    // Nobody runs the engine until a round says so.
    assert!(
        electors
            .iter()
            .all(|elector| !elector.leading().load(Ordering::SeqCst))
    );
}
