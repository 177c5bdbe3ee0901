//! Quotas: the default and each customer's own, checked in the transaction
//! that creates or resizes a database (under the owner's lock, so two
//! requests at once cannot both take the last room), and every change
//! written with its audit event or not at all.

use app::databases::{Quota, tier};
use sqlx::Connection as _;

use super::*;

on_both_stores!(
    customers_have_the_default_until_given_their_own,
    a_create_over_the_quota_is_refused_and_leaves_nothing,
    terminated_databases_give_their_room_back,
    a_resize_is_checked_and_shrinking_is_always_allowed,
    a_create_waits_for_one_in_flight_and_sees_it,
    a_change_and_its_audit_event_are_written_together,
);

fn quota(databases: u32, vcpu: u64) -> Quota {
    Quota {
        databases,
        cpu_millis: vcpu * 1000,
        memory_mib: 1024 * 1024,
        storage_gib: 100_000,
    }
}

fn size(name: &str) -> app::databases::Tier {
    *tier(name).unwrap()
}

async fn customer(test: &TestStore, name: &str) -> Uuid {
    test.store
        .create_user(local_user(name, Role::Customer))
        .await
        .unwrap()
        .id
}

async fn create(test: &TestStore, owner: Uuid, name: &str, size_name: &str) -> StoreResult<Uuid> {
    let mut database = new_database(owner, name, None);
    database.tier = size(size_name);
    test.store
        .create_database(database)
        .await
        .map(|created| created.record().id)
}

fn over_quota(result: StoreResult<impl std::fmt::Debug>) -> String {
    match result {
        Err(StoreError::OverQuota(reason)) => reason,
        other => panic!("expected a quota refusal, got {other:?}"),
    }
}

type StoreResult<T> = Result<T, StoreError>;

async fn customers_have_the_default_until_given_their_own(test: &TestStore) {
    let ann = customer(test, "ann").await;
    assert_eq!(test.store.default_quota().await.unwrap(), Quota::DEFAULT);
    let applied = test.store.quota_of(ann).await.unwrap();
    assert_eq!((applied.quota, applied.own), (Quota::DEFAULT, false));

    let lowered = quota(3, 9);
    test.store
        .set_default_quota(
            &lowered,
            &event("root", "quota.set_default", "quota:default"),
        )
        .await
        .unwrap();
    assert_eq!(test.store.quota_of(ann).await.unwrap().quota, lowered);

    let own = quota(7, 30);
    test.store
        .set_customer_quota(ann, Some(&own), &event("root", "quota.set", "user:ann"))
        .await
        .unwrap();
    create(test, ann, "one", "small").await.unwrap();
    let applied = test.store.quota_of(ann).await.unwrap();
    assert_eq!((applied.quota, applied.own), (own, true));
    assert_eq!(applied.usage.databases, 1);
    assert_eq!(applied.usage.cpu_millis, 3 * 1000);
    let listed = test.store.customer_quotas(50, 0).await.unwrap();
    assert_eq!(listed.total, 1);
    assert_eq!(listed.items[0].username, "ann");
    assert_eq!(listed.items[0].usage.databases, 1);

    test.store
        .set_customer_quota(ann, None, &event("root", "quota.remove", "user:ann"))
        .await
        .unwrap();
    assert_eq!(test.store.quota_of(ann).await.unwrap().quota, lowered);
    assert_eq!(test.store.customer_quotas(50, 0).await.unwrap().total, 0);

    // A quota for nobody: refused, and not audited.
    let before = audit_count(test, "quota.set").await;
    assert!(matches!(
        test.store
            .set_customer_quota(
                Uuid::now_v7(),
                Some(&own),
                &event("root", "quota.set", "user:x")
            )
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(audit_count(test, "quota.set").await, before);
}

async fn a_create_over_the_quota_is_refused_and_leaves_nothing(test: &TestStore) {
    let bo = customer(test, "bo").await;
    test.store
        .set_customer_quota(
            bo,
            Some(&quota(2, 100)),
            &event("root", "quota.set", "user:bo"),
        )
        .await
        .unwrap();
    create(test, bo, "first", "starter").await.unwrap();
    create(test, bo, "second", "starter").await.unwrap();
    let reason = over_quota(create(test, bo, "third", "starter").await);
    assert!(
        reason.contains("databases would be 3 databases of your 2 databases"),
        "{reason}"
    );
    assert_eq!(databases_owned_by(test, bo).await, 2);

    // CPU: 3 small databases are 9 vCPU, over a quota of 8.
    let cy = customer(test, "cy").await;
    test.store
        .set_customer_quota(
            cy,
            Some(&quota(10, 8)),
            &event("root", "quota.set", "user:cy"),
        )
        .await
        .unwrap();
    create(test, cy, "a", "small").await.unwrap();
    create(test, cy, "b", "small").await.unwrap();
    let reason = over_quota(create(test, cy, "c", "small").await);
    assert!(
        reason.contains("CPU would be 9 vCPU of your 8 vCPU"),
        "{reason}"
    );
    // What still fits is still allowed.
    create(test, cy, "c", "starter").await.unwrap();
}

async fn terminated_databases_give_their_room_back(test: &TestStore) {
    let di = customer(test, "di").await;
    test.store
        .set_customer_quota(
            di,
            Some(&quota(1, 100)),
            &event("root", "quota.set", "user:di"),
        )
        .await
        .unwrap();
    let first = create(test, di, "first", "starter").await.unwrap();
    over_quota(create(test, di, "second", "starter").await);
    // Parked still counts: it keeps its storage and may be resumed.
    test.store
        .change_database(first, DesiredChange::Park, None)
        .await
        .unwrap();
    over_quota(create(test, di, "second", "starter").await);
    test.store
        .change_database(first, DesiredChange::Terminate, None)
        .await
        .unwrap();
    create(test, di, "second", "starter").await.unwrap();
}

async fn a_resize_is_checked_and_shrinking_is_always_allowed(test: &TestStore) {
    let ed = customer(test, "ed").await;
    test.store
        .set_customer_quota(
            ed,
            Some(&quota(5, 4)),
            &event("root", "quota.set", "user:ed"),
        )
        .await
        .unwrap();
    let id = create(test, ed, "grow", "small").await.unwrap();
    let reason = over_quota(
        test.store
            .change_database(id, DesiredChange::Resize(size("medium")), None)
            .await,
    );
    assert!(
        reason.contains("CPU would be 6 vCPU of your 4 vCPU"),
        "{reason}"
    );
    assert_eq!(test.store.database(id).await.unwrap().tier.name, "small");

    // An admin lowers the quota below what ed uses: shrinking still works.
    test.store
        .set_customer_quota(
            ed,
            Some(&quota(5, 0)),
            &event("root", "quota.set", "user:ed"),
        )
        .await
        .unwrap();
    let shrunk = test
        .store
        .change_database(id, DesiredChange::Resize(size("starter")), None)
        .await
        .unwrap();
    assert_eq!(shrunk.tier.name, "starter");
    over_quota(
        test.store
            .change_database(id, DesiredChange::Resize(size("small")), None)
            .await,
    );
}

/// The interleaving a check-then-insert gets wrong: another create holds
/// the owner's lock and has written its database but not committed. The
/// store's create must wait for it and then see it; without the lock it
/// would count one database too few and both would fit.
async fn a_create_waits_for_one_in_flight_and_sees_it(test: &TestStore) {
    let fay = customer(test, "fay").await;
    test.store
        .set_customer_quota(
            fay,
            Some(&quota(1, 100)),
            &event("root", "quota.set", "user:fay"),
        )
        .await
        .unwrap();
    sqlx::any::install_default_drivers();
    let mut other = sqlx::AnyConnection::connect(&test.url).await.unwrap();
    let mut in_flight = other.begin().await.unwrap();
    sqlx::query("UPDATE users SET updated_at = updated_at WHERE username = 'fay'")
        .execute(&mut *in_flight)
        .await
        .unwrap();
    let new_id = if test.url.starts_with("sqlite") {
        "randomblob(16)"
    } else {
        "gen_random_uuid()"
    };
    sqlx::query(&format!(
        "INSERT INTO databases (id, owner_id, name, engine, tier, region, status, created_at, \
         updated_at, schema_name) SELECT {new_id}, id, 'in-flight', 'cassandra', 'starter', \
         'local', 'PENDING', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00', 'shop' \
         FROM users WHERE username = 'fay'"
    ))
    .execute(&mut *in_flight)
    .await
    .unwrap();

    let store = test.store.clone();
    let mut racing = tokio::spawn(async move {
        let mut database = new_database(fay, "racing", None);
        database.tier = size("starter");
        store.create_database(database).await.map(|_| ())
    });
    // Given time to run ahead, the create must still be waiting.
    let early = tokio::time::timeout(std::time::Duration::from_millis(500), &mut racing).await;
    assert!(early.is_err(), "the create did not wait: {early:?}");
    in_flight.commit().await.unwrap();
    over_quota(racing.await.unwrap());
    assert_eq!(databases_owned_by(test, fay).await, 1);
}

async fn a_change_and_its_audit_event_are_written_together(test: &TestStore) {
    let gus = customer(test, "gus").await;
    let mut database = new_database(gus, "audited", None);
    let target = format!("database:{}", database.id);
    database.audit = Some(event("gus", "database.create", &target));
    let id = test
        .store
        .create_database(database)
        .await
        .unwrap()
        .record()
        .id;
    test.store
        .change_database(
            id,
            DesiredChange::Park,
            Some(&event("gus", "database.park", &target)),
        )
        .await
        .unwrap();
    // Refused: neither the change nor its event.
    let refused = test
        .store
        .change_database(
            id,
            DesiredChange::Park,
            Some(&event("gus", "database.park", &target)),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    test.store
        .set_customer_quota(
            gus,
            Some(&quota(1, 100)),
            &event("root", "quota.set", "user:gus"),
        )
        .await
        .unwrap();
    let mut over = new_database(gus, "over", None);
    over.audit = Some(event(
        "gus",
        "database.create",
        &format!("database:{}", over.id),
    ));
    let over_target = format!("database:{}", over.id);
    over_quota(test.store.create_database(over).await);

    let events = |target: String| async move {
        test.store
            .list_audit(&AuditQuery {
                target: Some(target),
                limit: 10,
                ..AuditQuery::default()
            })
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|event| event.action)
            .collect::<Vec<_>>()
    };
    assert_eq!(events(target).await, ["database.park", "database.create"]);
    assert!(events(over_target).await.is_empty());
}

async fn audit_count(test: &TestStore, action: &str) -> usize {
    test.store
        .list_audit(&AuditQuery {
            action: Some(action.to_string()),
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .items
        .len()
}
