//! The signal that wakes open database pages: every write their marks
//! follow moves it, and on PostgreSQL a write committed by another replica
//! (another store on the same database) reaches this one through NOTIFY.

use std::time::Duration as StdDuration;

use tokio::sync::watch;

use super::database_engine::active;
use super::*;

on_both_stores!(every_write_a_page_shows_signals_the_change_feed);

/// Whether the signal moved since last asked (without waiting).
fn signalled(changes: &mut watch::Receiver<u64>) -> bool {
    let moved = changes.has_changed().unwrap();
    changes.mark_unchanged();
    moved
}

async fn every_write_a_page_shows_signals_the_change_feed(test: &TestStore) {
    let owner = test
        .store
        .create_user(local_user("sig", Role::Customer))
        .await
        .unwrap();
    let mut changes = test.store.database_changes();
    let id = test
        .store
        .create_database(new_database(owner.id, "signalled", None))
        .await
        .unwrap()
        .into_record()
        .id;
    assert!(signalled(&mut changes), "create");

    let step = test
        .store
        .start_step(id, None, "namespace", 1)
        .await
        .unwrap();
    assert!(signalled(&mut changes), "a step begun");
    test.store.finish_step(step, "success", None).await.unwrap();
    assert!(signalled(&mut changes), "a step ended");

    let generation = test.store.database(id).await.unwrap().generation;
    test.store
        .report_database(id, None, &active(generation))
        .await
        .unwrap();
    assert!(signalled(&mut changes), "the engine's report");

    test.store
        .change_database(id, DesiredChange::Park, None)
        .await
        .unwrap();
    assert!(signalled(&mut changes), "a customer's change");

    test.store
        .report_unreadable_database(id, None, "no such operator")
        .await
        .unwrap();
    assert!(signalled(&mut changes), "an unreadable database");
}

/// Two replicas on one PostgreSQL: a write through one wakes the other's
/// feed, which never wrote anything itself.
#[tokio::test]
async fn a_write_on_one_replica_signals_the_other_through_postgresql() {
    let Some(test) = TestStore::postgres().await else {
        return;
    };
    let other_replica = store::connect(&test.url).await.unwrap();
    let mut changes = other_replica.database_changes();
    let owner = test
        .store
        .create_user(local_user("rep", Role::Customer))
        .await
        .unwrap();
    let id = test
        .store
        .create_database(new_database(owner.id, "watched", None))
        .await
        .unwrap()
        .into_record()
        .id;
    // The other replica's listener starts with its first subscriber; until
    // it listens a NOTIFY passes it by, so writes go on until one arrives.
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(10);
    let mut writes = 0;
    loop {
        writes += 1;
        test.store
            .start_step(id, None, "namespace", writes)
            .await
            .unwrap();
        let heard = tokio::time::timeout(StdDuration::from_millis(250), changes.changed()).await;
        if heard.is_ok() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{writes} writes on one replica, none heard on the other"
        );
    }
    drop(other_replica);
    test.finish().await;
}
