//! Databases: names, listings, request keys, customers' changes checked in
//! the statement that makes them. The engine's side is in `database_engine.rs`.

use super::*;

on_both_stores!(
    database_names_are_unique_per_owner,
    databases_are_listed_per_owner_or_for_everyone,
    a_database_needs_an_existing_owner,
    a_database_create_with_the_same_request_key_creates_one,
    changes_are_checked_in_the_statement_that_makes_them,
    terminate_and_protect_at_once_never_both_win,
    databases_are_searched_and_filtered_by_status,
);

async fn database_names_are_unique_per_owner(test: &TestStore) {
    let owner = test
        .store
        .create_user(local_user("olga", Role::Customer))
        .await
        .unwrap();
    let other = test
        .store
        .create_user(local_user("oscar", Role::Customer))
        .await
        .unwrap();
    let orders = |owner_id| NewDatabase {
        id: uuid::Uuid::now_v7(),
        owner_id,
        name: "orders".to_string(),
        engine: Engine::Cassandra,
        tier: small(),
        region: "local".to_string(),
        schema_name: "shop".to_string(),
        request_key: None,
        audit: None,
    };
    let created = test
        .store
        .create_database(orders(owner.id))
        .await
        .unwrap()
        .into_record();
    assert_eq!(created.status, Status::Pending);
    assert_eq!(
        test.store.database(created.id).await.unwrap().name,
        "orders"
    );

    match test.store.create_database(orders(owner.id)).await {
        Err(StoreError::Conflict(message)) => assert!(message.contains("orders"), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    test.store
        .create_database(orders(other.id))
        .await
        .unwrap()
        .into_record();

    // A terminated database stays as history and gives its name back.
    test.store
        .change_database(created.id, DesiredChange::Terminate, None)
        .await
        .unwrap();
    let again = test
        .store
        .create_database(orders(owner.id))
        .await
        .unwrap()
        .into_record();
    assert_ne!(again.id, created.id);
    assert_eq!(
        test.store.database(created.id).await.unwrap().name,
        "orders"
    );
    match test.store.create_database(orders(owner.id)).await {
        Err(StoreError::Conflict(message)) => assert!(message.contains("orders"), "{message}"),
        other => panic!("the live one still holds the name, got {other:?}"),
    }
    test.store
        .change_database(again.id, DesiredChange::Terminate, None)
        .await
        .unwrap();
    test.store
        .create_database(orders(owner.id))
        .await
        .unwrap()
        .into_record();
    assert_eq!(
        databases_owned_by(test, owner.id).await,
        3,
        "two terminated and one live, all named orders"
    );
}

async fn databases_are_listed_per_owner_or_for_everyone(test: &TestStore) {
    let ann = test
        .store
        .create_user(local_user("ann", Role::Customer))
        .await
        .unwrap();
    let bob = test
        .store
        .create_user(local_user("bob", Role::Customer))
        .await
        .unwrap();
    for (owner, count) in [(ann.id, 7), (bob.id, 3)] {
        for index in 0..count {
            test.store
                .create_database(NewDatabase {
                    id: uuid::Uuid::now_v7(),
                    owner_id: owner,
                    name: format!("db-{index}"),
                    engine: Engine::Postgresql,
                    tier: small(),
                    region: "local".to_string(),
                    schema_name: "shop".to_string(),
                    request_key: None,
                    audit: None,
                })
                .await
                .unwrap()
                .into_record();
        }
    }
    let anns = test
        .store
        .list_databases(&DatabaseQuery {
            search: None,
            status: None,
            owner_id: Some(ann.id),
            limit: 5,
            offset: 5,
        })
        .await
        .unwrap();
    assert_eq!(anns.total, 7);
    assert_eq!(anns.items.len(), 2);
    // A full page and a page past the end are counted; a short one needs not.
    for (offset, limit, shown) in [(0, 7, 7), (0, 3, 3), (20, 5, 0)] {
        let page = test
            .store
            .list_databases(&DatabaseQuery {
                search: None,
                status: None,
                owner_id: Some(ann.id),
                limit,
                offset,
            })
            .await
            .unwrap();
        assert_eq!(
            (page.total, page.items.len()),
            (7, shown),
            "offset {offset}, limit {limit}"
        );
    }
    assert!(
        anns.items
            .iter()
            .all(|database| database.owner_id == ann.id)
    );

    let everyone = test
        .store
        .list_databases(&DatabaseQuery {
            search: None,
            status: None,
            owner_id: None,
            limit: 100,
            offset: 0,
        })
        .await
        .unwrap();
    assert_eq!(everyone.total, 10);
    // Newest first.
    assert!(
        everyone
            .items
            .windows(2)
            .all(|pair| pair[0].created_at >= pair[1].created_at)
    );

    // Every filter at once: owner, name and status.
    let query = |owner_id, search: &str, status: &str| DatabaseQuery {
        owner_id,
        search: Some(search.to_string()),
        status: Some(status.parse().unwrap()),
        limit: 100,
        offset: 0,
    };
    let found = test
        .store
        .list_databases(&query(Some(ann.id), "db-1", "PENDING"))
        .await
        .unwrap();
    assert_eq!(found.total, 1);
    assert_eq!(found.items[0].name, "db-1");
    assert_eq!(found.items[0].owner_id, ann.id);
    let none_active = test
        .store
        .list_databases(&query(Some(bob.id), "db-", "ACTIVE"))
        .await
        .unwrap();
    assert_eq!(none_active.total, 0);
    let all_pending = test
        .store
        .list_databases(&query(None, "db-", "PENDING"))
        .await
        .unwrap();
    assert_eq!(all_pending.total, 10);
    // `_` is a character, not a wildcard.
    let underscore = test
        .store
        .list_databases(&query(None, "db_", "PENDING"))
        .await
        .unwrap();
    assert_eq!(underscore.total, 0);
}

async fn a_database_needs_an_existing_owner(test: &TestStore) {
    let result = test
        .store
        .create_database(NewDatabase {
            id: uuid::Uuid::now_v7(),
            owner_id: Uuid::now_v7(),
            name: "orphan".to_string(),
            engine: Engine::Cassandra,
            tier: small(),
            region: "local".to_string(),
            schema_name: "shop".to_string(),
            request_key: None,
            audit: None,
        })
        .await;
    assert!(result.is_err(), "a database must belong to a known user");
}

async fn a_database_create_with_the_same_request_key_creates_one(test: &TestStore) {
    let owner = test
        .store
        .create_user(local_user("dora", Role::Customer))
        .await
        .unwrap();
    let first = test
        .store
        .create_database(new_database(owner.id, "orders", Some("form-1")))
        .await
        .unwrap();
    let again = test
        .store
        .create_database(new_database(owner.id, "orders", Some("form-1")))
        .await
        .unwrap();
    // The caller is told which one made it: only that one audits and wakes the engine.
    assert!(matches!(first, store::Creation::Created(_)), "{first:?}");
    assert!(matches!(again, store::Creation::Replayed(_)), "{again:?}");
    let (first, again) = (first.into_record(), again.into_record());
    assert_eq!(first.id, again.id);
    assert_eq!(
        (first.status.as_str(), first.intent.as_str()),
        ("PENDING", "running")
    );
    assert!(!first.settled && !first.configured);
    assert_eq!(first.schema_name, "shop");
    assert_eq!(databases_owned_by(test, owner.id).await, 1);
    // The same form sent twice at the same moment: one database for both.
    let (one, other) = tokio::join!(
        test.store
            .create_database(new_database(owner.id, "carts", Some("form-3"))),
        test.store
            .create_database(new_database(owner.id, "carts", Some("form-3"))),
    );
    let (one, other) = (one.unwrap(), other.unwrap());
    assert_eq!(one.record().id, other.record().id);
    let created = [&one, &other]
        .iter()
        .filter(|creation| matches!(creation, store::Creation::Created(_)))
        .count();
    assert_eq!(created, 1, "one of the two made it: {one:?} {other:?}");
    // Another key with the same name is a conflict that names it.
    match test
        .store
        .create_database(new_database(owner.id, "orders", Some("form-2")))
        .await
    {
        Err(StoreError::Conflict(message)) => assert!(message.contains("orders"), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

async fn changes_are_checked_in_the_statement_that_makes_them(test: &TestStore) {
    let owner = test
        .store
        .create_user(local_user("hal", Role::Customer))
        .await
        .unwrap();
    let db = test
        .store
        .create_database(new_database(owner.id, "vault", None))
        .await
        .unwrap()
        .into_record();
    let refused = |result: Result<store::DatabaseRecord, StoreError>| match result {
        Err(StoreError::Conflict(message)) => message,
        other => panic!("expected a refusal, got {other:?}"),
    };
    // Rotation needs an ACTIVE database.
    let message = refused(
        test.store
            .change_database(db.id, DesiredChange::RotateCredentials, None)
            .await,
    );
    assert!(message.contains("ACTIVE"), "{message}");
    test.store
        .change_database(db.id, DesiredChange::DeletionProtection(true), None)
        .await
        .unwrap();
    let message = refused(
        test.store
            .change_database(db.id, DesiredChange::Terminate, None)
            .await,
    );
    assert!(message.contains("deletion protection on"), "{message}");
    let message = refused(
        test.store
            .change_database(db.id, DesiredChange::Resume, None)
            .await,
    );
    assert!(message.contains("already running"), "{message}");
    let message = refused(
        test.store
            .change_database(db.id, DesiredChange::Resize(small()), None)
            .await,
    );
    assert!(message.contains("already small"), "{message}");
    test.store
        .change_database(db.id, DesiredChange::DeletionProtection(false), None)
        .await
        .unwrap();
    test.store
        .change_database(db.id, DesiredChange::Terminate, None)
        .await
        .unwrap();
    // Terminated is final: nothing brings it back or changes it.
    for change in [
        DesiredChange::Park,
        DesiredChange::Resume,
        DesiredChange::Resize(*app::databases::tier("large").unwrap()),
        DesiredChange::DeletionProtection(true),
        DesiredChange::Terminate,
    ] {
        let message = refused(test.store.change_database(db.id, change, None).await);
        assert!(message.contains("terminated"), "{change:?}: {message}");
    }
    let after = test.store.database(db.id).await.unwrap();
    assert_eq!(
        (after.intent, after.tier.name, after.deletion_protection),
        (Intent::Terminated, "small", false)
    );
}

/// A terminate and a "protect" sent at the same instant, many times: the
/// database ends either protected and running, or terminated and
/// unprotected; never terminated behind a protection that was accepted.
async fn terminate_and_protect_at_once_never_both_win(test: &TestStore) {
    let owner = test
        .store
        .create_user(local_user("ivy", Role::Customer))
        .await
        .unwrap();
    // Room for every round's database, whichever request wins it (the
    // default quota allows ten that are not terminated, 40 vCPU in all).
    let room = app::databases::Quota {
        databases: 20,
        cpu_millis: 1_000_000,
        memory_mib: 1_000_000,
        storage_gib: 1_000_000,
    };
    test.store
        .set_customer_quota(
            owner.id,
            Some(&room),
            &event("root", "quota.set", "user:ivy"),
        )
        .await
        .unwrap();
    for round in 0..20 {
        let db = test
            .store
            .create_database(new_database(owner.id, &format!("race-{round}"), None))
            .await
            .unwrap()
            .into_record();
        let (terminated, protected) = tokio::join!(
            test.store
                .change_database(db.id, DesiredChange::Terminate, None),
            test.store
                .change_database(db.id, DesiredChange::DeletionProtection(true), None),
        );
        let after = test.store.database(db.id).await.unwrap();
        match (terminated.is_ok(), protected.is_ok()) {
            (true, false) => {
                assert!(after.intent == Intent::Terminated && !after.deletion_protection)
            }
            (false, true) => assert!(after.intent == Intent::Running && after.deletion_protection),
            other => panic!("round {round}: {other:?} left {after:?}"),
        }
    }
}

async fn databases_are_searched_and_filtered_by_status(test: &TestStore) {
    let owner = test
        .store
        .create_user(local_user("fay", Role::Customer))
        .await
        .unwrap();
    for name in ["orders", "order_history", "users"] {
        let name = name.replace('_', "-");
        test.store
            .create_database(new_database(owner.id, &name, None))
            .await
            .unwrap()
            .into_record();
    }
    let found = test
        .store
        .list_databases(&DatabaseQuery {
            search: Some("ORDER".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.total, 2);
    let active = test
        .store
        .list_databases(&DatabaseQuery {
            status: Some(Status::Active),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(active.total, 0);
}

/// A SQLite file from before names were reusable (migration 5 rebuilds the
/// databases table) keeps every database, its timeline and its foreign keys.
#[tokio::test]
async fn upgrading_a_sqlite_file_keeps_databases_and_their_timelines() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
    use std::str::FromStr;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("portal.db").display());
    let owner = Uuid::now_v7();
    let database = Uuid::now_v7();
    {
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true)
            .foreign_keys(true);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        let mut before = sqlx::migrate!("../migrations/sqlite");
        let older: Vec<_> = before
            .migrations
            .iter()
            .filter(|migration| migration.version < 5)
            .cloned()
            .collect();
        before.migrations = std::borrow::Cow::Owned(older);
        before.run(&pool).await.unwrap();
        let now = Utc::now();
        sqlx::query(
            "INSERT INTO users (id, username, display_name, role, created_at, updated_at) \
             VALUES ($1, 'olga', 'Olga', 'customer', $2, $2)",
        )
        .bind(owner)
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO databases (id, owner_id, name, engine, tier, region, status, created_at, \
             updated_at, schema_name, intent, settled, deletion_protection, request_key) \
             VALUES ($1, $2, 'orders', 'cassandra', 'small', 'local', 'TERMINATED', $3, $3, \
             'shop', 'terminated', TRUE, TRUE, 'form-1')",
        )
        .bind(database)
        .bind(owner)
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO provisioning_steps (database_id, step, attempt, started_at, outcome) \
             VALUES ($1, 'namespace', 1, $2, 'success')",
        )
        .bind(database)
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }

    let store = store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let kept = store.database(database).await.unwrap();
    assert_eq!(
        (
            kept.name.as_str(),
            kept.intent.as_str(),
            kept.status.as_str()
        ),
        ("orders", "terminated", "TERMINATED")
    );
    assert!(kept.deletion_protection && kept.settled);
    assert_eq!(store.steps(database).await.unwrap().len(), 1);
    // Steps still need their database, and new ones follow the old ids.
    let step = store
        .start_step(database, None, "namespace", 2)
        .await
        .unwrap();
    assert!(step > 1, "step ids continue after the kept one: {step}");
    assert!(
        store
            .start_step(Uuid::now_v7(), None, "namespace", 1)
            .await
            .is_err()
    );
    // The terminated one gave its name back; the request key still counts.
    let again = store
        .create_database(new_database(owner, "orders", None))
        .await
        .unwrap()
        .into_record();
    assert_ne!(again.id, database);
    let replay = store
        .create_database(new_database(owner, "other", Some("form-1")))
        .await
        .unwrap()
        .into_record();
    assert_eq!(replay.id, database);
    // Foreign keys are on again and point at the rebuilt table.
    assert!(
        store
            .create_database(new_database(Uuid::now_v7(), "orphan", None))
            .await
            .is_err()
    );
    match store.delete_user(owner, None).await {
        Err(StoreError::Conflict(message)) => assert!(message.contains("databases"), "{message}"),
        other => panic!("the user's databases keep them, got {other:?}"),
    }
}
