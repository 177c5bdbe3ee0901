//! The planner and images external CI pushes: waited for with the reason
//! said, taken by digest when they appear, failed at the deadline.

use app::deploys::{DeploymentStatus, StepKind, StepState, Trigger};

use super::tests::{after, at, plan_at, record, status_of};
use super::*;

const TAG: &str = "image registry.example/shop/web:0000000000000000000000000000000000000009";

fn awaited(name: &str, state: RunState) -> Run {
    Run {
        name: name.into(),
        object: TAG.replace("/web:", &format!("/{name}:")),
        state,
    }
}

fn not_there() -> RunState {
    RunState::Waiting("waiting for external CI to push it".into())
}

#[test]
fn an_image_not_pushed_yet_is_waited_for_and_the_history_says_so() {
    let building = record(1, 9, DeploymentStatus::Building, Trigger::Poll);
    let plan = plan_at(
        &building,
        None,
        Observed::Building(vec![
            awaited("web", not_there()),
            awaited("api", not_there()),
        ]),
        at(0),
    );
    assert!(plan.create.is_empty(), "nothing is built by the portal");
    assert_eq!(plan.wait, Some(IMAGE_POLL));
    let progress = plan.progress.clone().expect("the reason is written");
    assert_eq!(progress.status, DeploymentStatus::Building);
    assert_eq!(
        progress.reason.as_deref(),
        Some("waiting for images from external CI: web, api")
    );
    let step = &progress.steps[0];
    assert_eq!(step.kind, StepKind::Build);
    assert_eq!(step.state, StepState::Running);
    assert_eq!(step.object.as_deref(), Some(TAG));
    assert_eq!(
        step.message.as_deref(),
        Some("waiting for external CI to push it")
    );
    // Looking again with nothing new writes nothing.
    let building = after(building, &plan);
    let plan = plan_at(
        &building,
        None,
        Observed::Building(vec![
            awaited("web", not_there()),
            awaited("api", not_there()),
        ]),
        at(30),
    );
    assert_eq!(plan.progress, None);
    assert_eq!(plan.wait, Some(IMAGE_POLL));
}

#[test]
fn an_image_that_appears_is_deployed_by_its_digest() {
    let building = record(1, 9, DeploymentStatus::Building, Trigger::Poll);
    let waiting = plan_at(
        &building,
        None,
        Observed::Building(vec![
            awaited("web", not_there()),
            awaited("api", not_there()),
        ]),
        at(0),
    );
    let building = after(building, &waiting);
    let digest = format!("sha256:{}", "d".repeat(64));
    let pushed = RunState::Succeeded {
        digest: Some(digest.clone()),
        log: String::new(),
    };
    let plan = plan_at(
        &building,
        None,
        Observed::Building(vec![
            awaited("web", pushed.clone()),
            awaited("api", not_there()),
        ]),
        at(20),
    );
    assert_eq!(plan.images, [("web".to_string(), digest.clone())]);
    assert_eq!(
        plan.progress.unwrap().reason.as_deref(),
        Some("waiting for image from external CI: api")
    );
    let plan = plan_at(
        &building,
        None,
        Observed::Building(vec![awaited("web", pushed.clone()), awaited("api", pushed)]),
        at(40),
    );
    assert_eq!(status_of(&plan), DeploymentStatus::Deploying);
    assert_eq!(plan.progress.unwrap().reason, None, "no longer waiting");
}

#[test]
fn an_image_that_never_appears_fails_the_release_at_the_deadline_without_a_rollback() {
    let building = record(1, 9, DeploymentStatus::Building, Trigger::Poll);
    let current = record(0, 5, DeploymentStatus::Succeeded, Trigger::Poll);
    let first = plan_at(
        &building,
        Some(&current),
        Observed::Building(vec![awaited("web", not_there())]),
        at(0),
    );
    let building = after(building, &first);
    // The test environment's image deadline is 600 s.
    let plan = plan_at(
        &building,
        Some(&current),
        Observed::Building(vec![awaited("web", not_there())]),
        at(599),
    );
    assert_ne!(
        plan.progress.map(|p| p.status),
        Some(DeploymentStatus::Failed)
    );
    let plan = plan_at(
        &building,
        Some(&current),
        Observed::Building(vec![awaited("web", not_there())]),
        at(600),
    );
    let progress = plan.progress.expect("failed");
    assert_eq!(progress.status, DeploymentStatus::Failed);
    let reason = progress.reason.unwrap();
    assert_eq!(
        reason,
        format!("the build of web failed: {TAG} did not appear in the registry within 600 s")
    );
    assert_eq!(plan.rollback, None, "nothing was applied");
    assert_eq!(progress.steps[0].state, StepState::Failed);
}

#[test]
fn a_registry_that_keeps_failing_is_said_as_such() {
    let deployment = record(1, 9, DeploymentStatus::Building, Trigger::Poll);
    let progress = errored(
        &deployment,
        "the registry",
        "the registry reg.example cannot be reached: connection refused",
    );
    assert_eq!(progress.status, DeploymentStatus::Errored);
    assert_eq!(
        progress.reason.as_deref(),
        Some(
            "the registry kept failing while building: the registry reg.example cannot be reached: connection refused"
        )
    );
}
