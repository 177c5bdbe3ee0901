//! Databases, the engine's side: the unfinished ones it lists, its reports
//! (refused for an older desired state or a deposed leader), the timeline's
//! steps and their timing, and the marks open pages follow.

use super::*;

on_both_stores!(
    a_step_that_keeps_failing_keeps_its_first_and_newest_attempts,
    a_databases_mark_moves_with_each_change_its_page_would_show,
    the_engine_finds_unsettled_databases_and_records_steps,
    a_report_for_an_older_desired_state_is_not_recorded,
    a_deposed_leaders_writes_are_refused,
    provisions_are_timed_from_their_first_step_to_configured,
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
