//! People's decisions on a release: approval and rejection, a rollback that
//! holds prod until the hold is lifted, and a newer release that supersedes
//! one waiting for its turn.

use server::engine::{Reconciler as _, Term};

use super::*;

#[tokio::test]
async fn prod_waits_for_approval_and_a_rejection_ends_it() {
    let bed = bed(Scenario::version("1")).await;
    bed.store
        .set_approval_rules(bed.app, "prod", true, false, None)
        .await
        .unwrap();
    let first = first_sha(&bed).await;
    let engine = bed.start(bed.deployer());
    let history = bed
        .until("waiting before prod", |history| {
            history
                .iter()
                .any(|row| row.status == DeploymentStatus::AwaitingApproval)
        })
        .await;
    let waiting = of(&history, "prod", &first)[0];
    assert!(waiting.approval_required);
    assert_eq!(bed.running_version("prod").await, None);
    bed.store
        .decide_approval(
            waiting.id,
            &server::store::Approval {
                approved: true,
                by: None,
                by_name: "grace".into(),
                comment: "ship it".into(),
                at: chrono::Utc::now(),
            },
            None,
        )
        .await
        .unwrap();
    engine.handle().changed((bed.app, "prod".into()));
    let history = bed
        .until("approved and deployed", succeeded_everywhere(&first))
        .await;
    let approved = of(&history, "prod", &first)[0];
    let approval = approved.approval.as_ref().unwrap();
    assert!(approval.approved);
    assert_eq!(approval.comment, "ship it");
    // A second release waits too, and is rejected.
    let second = bed.push(Scenario::version("2"), "Second").await;
    let history = bed
        .until("the second waits", |history| {
            history
                .iter()
                .any(|row| row.sha == second && row.status == DeploymentStatus::AwaitingApproval)
        })
        .await;
    let waiting = of(&history, "prod", &second)[0];
    bed.store
        .decide_approval(
            waiting.id,
            &server::store::Approval {
                approved: false,
                by: None,
                by_name: "grace".into(),
                comment: "not on a Friday".into(),
                at: chrono::Utc::now(),
            },
            None,
        )
        .await
        .unwrap();
    let rejected = bed.store.deployment(waiting.id).await.unwrap();
    assert_eq!(rejected.status, DeploymentStatus::Rejected);
    assert_eq!(bed.running_version("prod").await.as_deref(), Some("1"));
    // Deciding twice is refused with the reason.
    let again = bed
        .store
        .decide_approval(
            waiting.id,
            &server::store::Approval {
                approved: true,
                by: None,
                by_name: "grace".into(),
                comment: String::new(),
                at: chrono::Utc::now(),
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(
        again
            .to_string()
            .contains("no longer waits for approval: it is rejected"),
        "{again}"
    );
}

#[tokio::test]
async fn a_rollback_by_a_person_holds_prod_until_the_hold_is_lifted() {
    let bed = bed(Scenario::version("1")).await;
    let first = first_sha(&bed).await;
    let engine = bed.start(bed.deployer());
    bed.until("first everywhere", succeeded_everywhere(&first))
        .await;
    let second = bed.push(Scenario::version("2"), "Second").await;
    bed.until("second everywhere", succeeded_everywhere(&second))
        .await;
    let first_release = bed.store.release(bed.app, &first).await.unwrap().id;
    bed.store
        .deploy_by_person(
            bed.app,
            "prod",
            &bed.person(),
            &PersonalDeploy::Rollback {
                release_id: first_release,
                reason: "checkout is slow".into(),
            },
            None,
        )
        .await
        .unwrap();
    engine.handle().changed((bed.app, "prod".into()));
    let history = bed
        .until("rolled back by a person", |history| {
            history.iter().any(|row| {
                row.trigger == Trigger::Rollback && row.status == DeploymentStatus::Succeeded
            })
        })
        .await;
    let rollback = history
        .iter()
        .find(|row| row.trigger == Trigger::Rollback)
        .unwrap();
    assert_eq!(rollback.triggered_by_name.as_deref(), Some("dana"));
    assert_eq!(bed.running_version("prod").await.as_deref(), Some("1"));
    let hold = bed
        .store
        .environment_rules(bed.app, "prod")
        .await
        .unwrap()
        .hold
        .unwrap();
    assert_eq!(
        (hold.by_name.as_str(), hold.reason.as_str()),
        ("dana", "checkout is slow")
    );
    // A new commit goes through dev and test, and stops at the hold.
    let third = bed.push(Scenario::version("3"), "Third").await;
    let history = bed
        .until("third in test", |history| {
            of(history, "test", &third)
                .iter()
                .any(|row| row.status == DeploymentStatus::Succeeded)
        })
        .await;
    // What a wake-up of prod would do, done here and awaited: with the
    // engine stopped, nothing else moves prod meanwhile (no waiting a while
    // and hoping the engine looked).
    drop(engine);
    let prod = (bed.app, "prod".to_string());
    let next = bed
        .deployer()
        .reconcile(&prod, &Term::unfenced(), 0)
        .await
        .unwrap();
    assert!(
        of(&bed.history().await, "prod", &third).is_empty(),
        "prod held, yet reconciling it gave {next:?}:\n{}",
        describe(&history)
    );
    assert_eq!(bed.running_version("prod").await.as_deref(), Some("1"));
    // Lifted: prod takes the newest release that passed test.
    assert!(bed.store.lift_hold(bed.app, "prod", None).await.unwrap());
    let engine = bed.start(bed.deployer());
    engine.handle().changed(prod);
    bed.until("third in prod", succeeded_everywhere(&third))
        .await;
    assert_eq!(bed.running_version("prod").await.as_deref(), Some("3"));
}

#[tokio::test]
async fn a_newer_release_supersedes_one_waiting_for_its_turn() {
    let bed = bed(Scenario::version("1")).await;
    bed.store
        .set_approval_rules(bed.app, "prod", true, false, None)
        .await
        .unwrap();
    let first = first_sha(&bed).await;
    let _engine = bed.start(bed.deployer());
    bed.until("first waits before prod", |history| {
        of(history, "prod", &first)
            .iter()
            .any(|row| row.status == DeploymentStatus::AwaitingApproval)
    })
    .await;
    let second = bed.push(Scenario::version("2"), "Second").await;
    let history = bed
        .until("second waits before prod", |history| {
            of(history, "prod", &second)
                .iter()
                .any(|row| row.status == DeploymentStatus::AwaitingApproval)
        })
        .await;
    let superseded = of(&history, "prod", &first)[0];
    assert_eq!(superseded.status, DeploymentStatus::Superseded);
    assert!(
        superseded
            .reason
            .as_deref()
            .unwrap()
            .contains("newer release")
    );
}
