//! Databases: names, listings, request keys, the engine's reports and timeline,
//! customers' changes checked in the statement that makes them.

use super::*;

on_both_stores!(
    database_names_are_unique_per_owner,
    databases_are_listed_per_owner_or_for_everyone,
    a_database_needs_an_existing_owner,
    a_database_create_with_the_same_request_key_creates_one,
    the_engine_finds_unsettled_databases_and_records_steps,
    a_report_for_an_older_desired_state_is_not_recorded,
    changes_are_checked_in_the_statement_that_makes_them,
    terminate_and_protect_at_once_never_both_win,
    a_deposed_leaders_writes_are_refused,
    provisions_are_timed_from_their_first_step_to_configured,
    databases_are_searched_and_filtered_by_status,
    a_databases_mark_moves_with_each_change_its_page_would_show,
    a_step_that_keeps_failing_keeps_its_first_and_newest_attempts,
);

/// A database whose step fails on every retry: its timeline keeps the first
/// attempt and the newest `KEPT_FAILURES`, not a row per retry for ever;
/// other steps and other databases are untouched.
async fn a_step_that_keeps_failing_keeps_its_first_and_newest_attempts(test: &TestStore) {
    use server::store::KEPT_FAILURES;
    let owner = test
        .store
        .create_user(local_user("kai", Role::Customer))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for name in ["stuck", "fine"] {
        ids.push(
            test.store
                .create_database(new_database(owner.id, name, None))
                .await
                .unwrap()
                .into_record()
                .id,
        );
    }
    let (stuck, fine) = (ids[0], ids[1]);
    for (database, step) in [(stuck, "credentials"), (fine, "namespace")] {
        let started = test
            .store
            .start_step(database, None, step, 1)
            .await
            .unwrap();
        test.store
            .finish_step(started, "success", None)
            .await
            .unwrap();
    }
    let retries = KEPT_FAILURES + 15;
    for attempt in 1..=retries {
        let started = test
            .store
            .start_step(stuck, None, "namespace", attempt)
            .await
            .unwrap();
        test.store
            .finish_step(started, "failure", Some("the cluster's API failed"))
            .await
            .unwrap();
    }
    let steps = test.store.steps(stuck).await.unwrap();
    let attempts: Vec<i32> = steps
        .iter()
        .filter(|step| step.step == "namespace")
        .map(|step| step.attempt)
        .collect();
    let mut expected = vec![1];
    expected.extend(retries - KEPT_FAILURES + 1..=retries);
    assert_eq!(attempts, expected);
    assert!(steps.iter().any(|step| step.step == "credentials"));
    assert_eq!(test.store.steps(fine).await.unwrap().len(), 1);
}

async fn a_databases_mark_moves_with_each_change_its_page_would_show(test: &TestStore) {
    let owner = test
        .store
        .create_user(local_user("mara", Role::Customer))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for name in ["watched", "other"] {
        let record = test
            .store
            .create_database(new_database(owner.id, name, None))
            .await
            .unwrap()
            .into_record();
        ids.push(record.id);
    }
    let (watched, other) = (ids[0], ids[1]);
    let marks = |ids: Vec<Uuid>| async move {
        let mut marks = test.store.database_marks(&ids).await.unwrap();
        marks.sort();
        marks
    };
    let unknown = Uuid::now_v7();
    let first = marks(vec![watched, other, unknown]).await;
    assert_eq!(first.len(), 2, "an unknown id is left out");
    let mark_of = |marks: &[(Uuid, String)], id: Uuid| {
        marks
            .iter()
            .find(|(found, _)| *found == id)
            .map(|(_, mark)| mark.clone())
            .unwrap()
    };
    let mut last = mark_of(&first, watched);
    let other_mark = mark_of(&first, other);

    // A step begun, a step ended, the engine's report: each moves the mark.
    let step = test
        .store
        .start_step(watched, None, "namespace", 1)
        .await
        .unwrap();
    for change in 0..3 {
        match change {
            0 => {}
            1 => test.store.finish_step(step, "success", None).await.unwrap(),
            _ => {
                let generation = test.store.database(watched).await.unwrap().generation;
                test.store
                    .report_database(watched, None, &active(generation))
                    .await
                    .unwrap();
            }
        }
        let now = marks(vec![watched, other]).await;
        let mark = mark_of(&now, watched);
        assert_ne!(mark, last, "change {change}");
        assert_eq!(
            mark_of(&now, other),
            other_mark,
            "the other one did not change"
        );
        last = mark;
    }
    // Nothing changed: the same mark.
    assert_eq!(mark_of(&marks(vec![watched]).await, watched), last);
    assert!(test.store.database_marks(&[]).await.unwrap().is_empty());
}

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

async fn the_engine_finds_unsettled_databases_and_records_steps(test: &TestStore) {
    let owner = test
        .store
        .create_user(local_user("eve", Role::Customer))
        .await
        .unwrap();
    let database = test
        .store
        .create_database(new_database(owner.id, "events", None))
        .await
        .unwrap()
        .into_record();
    let unsettled = pending_ids(test, None, 10).await;
    assert_eq!(unsettled, [database.id]);
    assert_eq!(pending_ids(test, Some("local"), 10).await, [database.id]);
    assert!(
        test.store
            .pending_databases(Some("eu-west"), 10)
            .await
            .unwrap()
            .is_empty(),
        "another region's engine does not see it"
    );

    let step = test
        .store
        .start_step(database.id, None, "namespace", 1)
        .await
        .unwrap();
    test.store.finish_step(step, "success", None).await.unwrap();
    let failed = test
        .store
        .start_step(database.id, None, "operator-resource", 2)
        .await
        .unwrap();
    test.store
        .finish_step(failed, "failure", Some("429 Too Many Requests"))
        .await
        .unwrap();
    let steps = test.store.steps(database.id).await.unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(
        (steps[0].step.as_str(), steps[0].outcome.as_str()),
        ("namespace", "success")
    );
    assert!(steps[0].finished_at.is_some());
    assert_eq!(steps[1].attempt, 2);
    assert_eq!(steps[1].message.as_deref(), Some("429 Too Many Requests"));

    let reported = test
        .store
        .report_database(database.id, None, &active(database.generation))
        .await
        .unwrap();
    assert_eq!(reported, Reported::Applied);
    assert!(pending_ids(test, None, 10).await.is_empty());
    let parked = test
        .store
        .change_database(database.id, DesiredChange::Park, None)
        .await
        .unwrap();
    assert_eq!(parked.intent, Intent::Parked);
    assert!(!parked.settled && parked.configured);
    assert_eq!(parked.generation, database.generation + 1);
    let resized = test
        .store
        .change_database(
            database.id,
            DesiredChange::Resize(*app::databases::tier("medium").unwrap()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (resized.intent, resized.tier.name),
        (Intent::Parked, "medium")
    );
    assert_eq!(pending_ids(test, None, 10).await.len(), 1);
    assert!(matches!(
        test.store
            .change_database(Uuid::now_v7(), DesiredChange::Park, None)
            .await,
        Err(StoreError::NotFound)
    ));
}

/// The ids of the unfinished databases the engine would list.
async fn pending_ids(test: &TestStore, region: Option<&str>, limit: u32) -> Vec<Uuid> {
    let pending = test.store.pending_databases(region, limit).await.unwrap();
    assert!(pending.iter().all(|pending| pending.record.is_some()));
    pending.into_iter().map(|pending| pending.id).collect()
}

/// What the engine reports when a database came up.
pub(crate) fn active(generation: i64) -> EngineReport {
    EngineReport {
        generation,
        status: Status::Active,
        message: None,
        settled: true,
        configured: true,
        configured_version: 1,
    }
}

async fn a_report_for_an_older_desired_state_is_not_recorded(test: &TestStore) {
    let owner = test
        .store
        .create_user(local_user("gus", Role::Customer))
        .await
        .unwrap();
    let read = test
        .store
        .create_database(new_database(owner.id, "ledger", None))
        .await
        .unwrap()
        .into_record();
    // The customer terminates while the engine works from what it read.
    test.store
        .change_database(read.id, DesiredChange::Terminate, None)
        .await
        .unwrap();
    let reported = test
        .store
        .report_database(read.id, None, &active(read.generation))
        .await
        .unwrap();
    assert_eq!(reported, Reported::Stale);
    let now = test.store.database(read.id).await.unwrap();
    assert_eq!(
        (now.intent, now.status, now.settled),
        (Intent::Terminated, Status::Pending, false),
        "the terminate stands and the engine still has work"
    );
    assert_eq!(pending_ids(test, None, 10).await, [read.id]);
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

async fn a_deposed_leaders_writes_are_refused(test: &TestStore) {
    let owner = test
        .store
        .create_user(local_user("jo", Role::Customer))
        .await
        .unwrap();
    let db = test
        .store
        .create_database(new_database(owner.id, "fenced", None))
        .await
        .unwrap()
        .into_record();
    let lease = "provisioning/local";
    assert_eq!(test.store.current_term(lease).await.unwrap(), None);
    let first = Fence {
        lease: lease.into(),
        term: test.store.begin_term(lease, "replica-a").await.unwrap(),
    };
    test.store
        .start_step(db.id, Some(&first), "namespace", 1)
        .await
        .unwrap();
    let second = Fence {
        lease: lease.into(),
        term: test.store.begin_term(lease, "replica-b").await.unwrap(),
    };
    assert_eq!(second.term, first.term + 1);
    assert_eq!(
        test.store.current_term(lease).await.unwrap(),
        Some(second.term)
    );
    // Replica a, paused through the takeover, wakes up and writes.
    fn deposed<T>(result: Result<T, StoreError>, first: &Fence) -> bool {
        matches!(result, Err(StoreError::Deposed { term, .. }) if term == first.term)
    }
    assert!(deposed(
        test.store
            .report_database(db.id, Some(&first), &active(db.generation))
            .await,
        &first
    ));
    assert!(deposed(
        test.store.start_step(db.id, Some(&first), "quota", 1).await,
        &first
    ));
    assert!(deposed(
        test.store
            .report_unreadable_database(db.id, Some(&first), "unreadable")
            .await,
        &first
    ));
    let untouched = test.store.database(db.id).await.unwrap();
    assert_eq!(
        (untouched.status, untouched.settled),
        (Status::Pending, false)
    );
    assert_eq!(test.store.steps(db.id).await.unwrap().len(), 1);
    // The new leader's writes go through.
    assert_eq!(
        test.store
            .report_database(db.id, Some(&second), &active(db.generation))
            .await
            .unwrap(),
        Reported::Applied
    );
}

async fn provisions_are_timed_from_their_first_step_to_configured(test: &TestStore) {
    let owner = test
        .store
        .create_user(local_user("kit", Role::Customer))
        .await
        .unwrap();
    let db = test
        .store
        .create_database(new_database(owner.id, "timed", None))
        .await
        .unwrap()
        .into_record();
    assert!(
        test.store
            .provisioning_durations(Engine::Cassandra, 25)
            .await
            .unwrap()
            .is_empty()
    );
    let first = test
        .store
        .start_step(db.id, None, "namespace", 1)
        .await
        .unwrap();
    test.store
        .finish_step(first, "success", None)
        .await
        .unwrap();
    let configured = test
        .store
        .start_step(db.id, None, "configured", 1)
        .await
        .unwrap();
    test.store
        .finish_step(configured, "success", None)
        .await
        .unwrap();
    test.store
        .report_database(db.id, None, &active(db.generation))
        .await
        .unwrap();
    let durations = test
        .store
        .provisioning_durations(Engine::Cassandra, 25)
        .await
        .unwrap();
    assert_eq!(durations.len(), 1);
    assert!((0.0..5.0).contains(&durations[0]), "{durations:?}");
    assert!(
        test.store
            .provisioning_durations(Engine::Postgresql, 25)
            .await
            .unwrap()
            .is_empty()
    );
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
