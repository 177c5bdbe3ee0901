//! The planner and secrets: a missing key holds the release, a value that
//! does not open fails it, changed values redeploy what runs.

use app::deploys::{DeploymentStatus, Trigger};

use super::tests::{APP, at, environment, plan_for, record, state, status_of};
use super::*;
use crate::store::{EnvironmentState, Hold, SecretSlot};

#[test]
fn a_missing_secret_holds_the_release_queued_and_says_which() {
    let queued = record(1, 9, DeploymentStatus::Queued, Trigger::Poll);
    let waiting = Observed::Queued {
        missing_images: vec!["web".into()],
        missing_secrets: vec!["DB_PASSWORD".into()],
    };
    let plan = plan_for(&queued, None, waiting.clone());
    let progress = plan.progress.clone().unwrap();
    assert_eq!(progress.status, DeploymentStatus::Queued);
    assert_eq!(
        progress.reason.as_deref(),
        Some(
            "waiting for secrets: DB_PASSWORD has no value in test; set it on the app's Secrets page"
        )
    );
    assert!(
        plan.create.is_empty() && !plan.apply,
        "nothing is built or applied"
    );
    // Said once: looking again writes nothing new.
    let mut said = queued.clone();
    said.reason = progress.reason;
    assert_eq!(plan_for(&said, None, waiting).progress, None);
    // Set: it goes on, and the reason is gone.
    let plan = plan_for(
        &said,
        None,
        Observed::Queued {
            missing_images: vec![],
            missing_secrets: vec![],
        },
    );
    let progress = plan.progress.unwrap();
    assert_eq!(progress.status, DeploymentStatus::Deploying);
    assert_eq!(progress.reason, None);
}

#[test]
fn a_secret_that_does_not_open_fails_the_deployment_without_a_rollback() {
    let deploying = record(2, 9, DeploymentStatus::Deploying, Trigger::Poll);
    let current = record(1, 8, DeploymentStatus::Succeeded, Trigger::Poll);
    let plan = plan_for(
        &deploying,
        Some(&current),
        Observed::Deploying {
            unreadable_secrets: Some("the secret DB (version 2) in dev does not open".into()),
        },
    );
    assert_eq!(status_of(&plan), DeploymentStatus::Failed);
    assert!(!plan.apply);
    assert!(plan.rollback.is_none());
}

#[test]
fn changed_secrets_redeploy_what_runs_once_and_never_over_a_hold() {
    let current = record(1, 8, DeploymentStatus::Succeeded, Trigger::Poll);
    let state = EnvironmentState {
        current: Some(current.clone()),
        ..EnvironmentState::default()
    };
    let written = vec![(SecretSlot::app("DB"), 1), (SecretSlot::app("OLD"), 1)];
    let desired = vec![(SecretSlot::app("DB"), 2)];
    let redeploy = secrets_resync("dev", &state, &written, None, &desired).unwrap();
    assert_eq!(redeploy.release_id, 8);
    assert_eq!(redeploy.trigger, Trigger::Redeploy);
    assert_eq!(redeploy.by, None);
    assert_eq!(
        redeploy.trigger_detail.as_deref(),
        Some("secrets changed: DB v2, OLD deleted")
    );
    // What runs wrote these: nothing to do.
    assert!(secrets_resync("dev", &state, &desired, None, &desired).is_none());
    // A deployment with these very versions failed: not again and again.
    assert!(secrets_resync("dev", &state, &written, Some(&desired), &desired).is_none());
    // Busy or held: later.
    let busy = EnvironmentState {
        active: Some(record(2, 9, DeploymentStatus::RollingOut, Trigger::Poll)),
        ..state.clone()
    };
    assert!(secrets_resync("dev", &busy, &written, None, &desired).is_none());
    let mut held = state.clone();
    held.rules.hold = Some(Hold {
        by: None,
        by_name: "dana".into(),
        reason: "bad release".into(),
        at: at(0),
    });
    assert!(secrets_resync("dev", &held, &written, None, &desired).is_none());
    // Nothing ever succeeded there: nothing to redeploy.
    assert!(
        secrets_resync(
            "dev",
            &EnvironmentState::default(),
            &written,
            None,
            &desired
        )
        .is_none()
    );
}

#[test]
fn a_newer_release_takes_over_from_the_engines_waiting_secrets_redeploy_but_not_a_persons() {
    let mut state = state(&[9]);
    let mut waiting = record(5, 3, DeploymentStatus::Queued, Trigger::Redeploy);
    waiting.triggered_by_name = None;
    waiting.reason = Some("waiting for secrets: OLD has no value in test".into());
    state.active = Some(waiting.clone());
    match admit(APP, &environment(), &state) {
        Admission::Enqueue { replacing, .. } => assert_eq!(replacing, Some((5, waiting.revision))),
        other => panic!("{other:?}"),
    }
    waiting.triggered_by_name = Some("dana".into());
    state.active = Some(waiting);
    assert_eq!(admit(APP, &environment(), &state), Admission::Nothing);
}
