use std::time::Duration;

use app::deploys::{DeploymentStatus, StepKind, StepState, Trigger};
use chrono::{TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::deploy::health::Health;
use crate::store::{Candidate, EnvironmentRules, Hold};

pub(super) const APP: Uuid = Uuid::nil();

pub(super) fn record(
    id: i64,
    release_id: i64,
    status: DeploymentStatus,
    trigger: Trigger,
) -> DeploymentRecord {
    DeploymentRecord {
        id,
        app_id: APP,
        app_name: "shop".into(),
        release_id,
        sha: format!("{release_id:0>40}"),
        subject: "a change".into(),
        author: "Ada".into(),
        author_email: "ada@example.com".into(),
        committed_at: "2026-12-01T10:00:00Z".into(),
        environment: "test".into(),
        trigger,
        trigger_detail: None,
        triggered_by: None,
        triggered_by_name: None,
        rollback_of: None,
        rolled_back_by: None,
        status,
        reason: None,
        approval_required: false,
        approval: None,
        steps: Vec::new(),
        tests_passed: 0,
        tests_failed: 0,
        revision: 4,
        created_at: Utc::now(),
        started_at: None,
        finished_at: None,
    }
}

fn candidate(release_id: i64) -> Candidate {
    Candidate {
        release_id,
        sha: format!("{release_id:0>40}"),
        found_by: Trigger::Promotion,
    }
}

pub(super) fn environment() -> Environment<'static> {
    Environment {
        name: "test",
        previous: Some("dev"),
        rollout_deadline: Duration::from_secs(300),
        image_deadline: Duration::from_secs(600),
    }
}

pub(super) fn state(candidates: &[i64]) -> EnvironmentState {
    EnvironmentState {
        candidates: candidates.iter().copied().map(candidate).collect(),
        ..EnvironmentState::default()
    }
}

fn enqueued(admission: Admission) -> (NewDeployment, Vec<i64>, Option<(i64, i64)>) {
    match admission {
        Admission::Enqueue {
            deployment,
            superseded,
            replacing,
        } => (*deployment, superseded, replacing),
        Admission::Nothing => panic!("expected a deployment to be enqueued"),
    }
}

#[test]
fn a_free_environment_takes_the_newest_release_and_supersedes_the_skipped_ones() {
    let (deployment, superseded, replacing) =
        enqueued(admit(APP, &environment(), &state(&[9, 7, 5])));
    assert_eq!(deployment.release_id, 9);
    assert_eq!(deployment.status, DeploymentStatus::Queued);
    assert_eq!(deployment.trigger, Trigger::Promotion);
    assert_eq!(deployment.trigger_detail.as_deref(), Some("dev"));
    assert_eq!(superseded, [7, 5]);
    assert_eq!(replacing, None);
}

#[test]
fn nothing_to_take_or_a_hold_means_nothing_happens() {
    assert_eq!(admit(APP, &environment(), &state(&[])), Admission::Nothing);
    let mut held = state(&[9]);
    held.rules.hold = Some(Hold {
        by: None,
        by_name: "grace".into(),
        reason: "bad release".into(),
        at: Utc::now(),
    });
    assert_eq!(admit(APP, &environment(), &held), Admission::Nothing);
}

#[test]
fn one_release_at_a_time_per_environment() {
    let mut busy = state(&[9]);
    busy.active = Some(record(1, 7, DeploymentStatus::Testing, Trigger::Promotion));
    assert_eq!(admit(APP, &environment(), &busy), Admission::Nothing);
    // A person's rollback, queued, is not replaced by automation.
    busy.active = Some(record(1, 3, DeploymentStatus::Queued, Trigger::Rollback));
    assert_eq!(admit(APP, &environment(), &busy), Admission::Nothing);
}

#[test]
fn a_newer_release_supersedes_one_still_waiting() {
    let mut waiting = state(&[9]);
    waiting.active = Some(record(
        1,
        7,
        DeploymentStatus::AwaitingApproval,
        Trigger::Promotion,
    ));
    let (deployment, _, replacing) = enqueued(admit(APP, &environment(), &waiting));
    assert_eq!(deployment.release_id, 9);
    assert_eq!(replacing, Some((1, 4)));
    waiting.active = Some(record(
        1,
        9,
        DeploymentStatus::AwaitingApproval,
        Trigger::Promotion,
    ));
    assert_eq!(admit(APP, &environment(), &waiting), Admission::Nothing);
}

#[test]
fn an_environment_with_approvals_makes_the_release_wait() {
    let mut guarded = state(&[9]);
    guarded.rules = EnvironmentRules {
        requires_approval: true,
        ..EnvironmentRules::default()
    };
    let (deployment, _, _) = enqueued(admit(APP, &environment(), &guarded));
    assert_eq!(deployment.status, DeploymentStatus::AwaitingApproval);
    assert!(deployment.approval_required);
}

pub(super) fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
}

pub(super) fn plan_for(
    deployment: &DeploymentRecord,
    current: Option<&DeploymentRecord>,
    observed: Observed,
) -> Plan {
    plan_at(deployment, current, observed, at(0))
}

pub(super) fn plan_at(
    deployment: &DeploymentRecord,
    current: Option<&DeploymentRecord>,
    observed: Observed,
    now: DateTime<Utc>,
) -> Plan {
    step(&Input {
        deployment,
        current,
        environment: &environment(),
        observed,
        now,
    })
}

pub(super) fn status_of(plan: &Plan) -> DeploymentStatus {
    plan.progress.as_ref().expect("progress").status
}

fn run(name: &str, state: RunState) -> Run {
    Run {
        name: name.into(),
        object: format!("Job/{name}"),
        state,
    }
}

fn failed(code: i32, log: &str) -> RunState {
    RunState::Failed {
        exit_code: Some(code),
        reason: "BackoffLimitExceeded".into(),
        log: log.into(),
    }
}

fn passed() -> RunState {
    RunState::Succeeded {
        digest: None,
        log: "ok\n".into(),
    }
}

/// `deployment` after `plan` was written, as the next reconcile reads it.
pub(super) fn after(mut deployment: DeploymentRecord, plan: &Plan) -> DeploymentRecord {
    let progress = plan.progress.clone().expect("progress");
    deployment.status = progress.status;
    deployment.steps = progress.steps;
    deployment.reason = progress.reason;
    deployment
}

#[test]
fn a_queued_release_builds_only_what_is_missing() {
    let queued = record(1, 9, DeploymentStatus::Queued, Trigger::Poll);
    let plan = plan_for(
        &queued,
        None,
        Observed::Queued {
            missing_images: vec!["web".into()],
            missing_secrets: vec![],
        },
    );
    assert_eq!(status_of(&plan), DeploymentStatus::Building);
    let plan = plan_for(
        &queued,
        None,
        Observed::Queued {
            missing_images: vec![],
            missing_secrets: vec![],
        },
    );
    assert_eq!(status_of(&plan), DeploymentStatus::Deploying);
}

#[test]
fn builds_are_created_once_then_their_digests_recorded() {
    let building = record(1, 9, DeploymentStatus::Building, Trigger::Poll);
    let plan = plan_for(
        &building,
        None,
        Observed::Building(vec![
            run("web", RunState::Missing),
            run("api", RunState::Running),
        ]),
    );
    assert_eq!(plan.create, ["web"]);
    assert_eq!(status_of(&plan), DeploymentStatus::Building);
    let building = after(building, &plan);
    let digest = format!("sha256:{}", "c".repeat(64));
    let built = RunState::Succeeded {
        digest: Some(digest.clone()),
        log: String::new(),
    };
    let plan = plan_for(
        &building,
        None,
        Observed::Building(vec![
            run("web", built.clone()),
            run("api", RunState::Running),
        ]),
    );
    assert!(plan.create.is_empty());
    assert_eq!(plan.images, [("web".to_string(), digest.clone())]);
    let plan = plan_for(
        &building,
        None,
        Observed::Building(vec![run("web", built.clone()), run("api", built)]),
    );
    assert_eq!(status_of(&plan), DeploymentStatus::Deploying);
    assert_eq!(plan.images.len(), 2);
}

#[test]
fn a_failed_build_fails_the_release_with_the_component_and_log_and_touches_nothing() {
    let building = record(1, 9, DeploymentStatus::Building, Trigger::Poll);
    let current = record(0, 5, DeploymentStatus::Succeeded, Trigger::Poll);
    let plan = plan_for(
        &building,
        Some(&current),
        Observed::Building(vec![run(
            "web",
            failed(1, "step 3/7: npm ci\nnpm ERR! missing script"),
        )]),
    );
    let progress = plan.progress.expect("progress");
    assert_eq!(progress.status, DeploymentStatus::Failed);
    let reason = progress.reason.unwrap();
    assert!(
        reason.contains("build of web failed: exit code 1"),
        "{reason}"
    );
    assert_eq!(
        plan.rollback, None,
        "nothing was applied: nothing to roll back"
    );
    let step = &progress.steps[0];
    assert_eq!(step.kind, StepKind::Build);
    assert_eq!(
        step.log_tail.as_deref(),
        Some("step 3/7: npm ci\nnpm ERR! missing script")
    );
    // A build that ends without a digest made no image.
    let plan = plan_for(
        &record(1, 9, DeploymentStatus::Building, Trigger::Poll),
        None,
        Observed::Building(vec![run("web", passed())]),
    );
    assert!(
        plan.progress
            .unwrap()
            .reason
            .unwrap()
            .contains("without an image digest")
    );
}

#[test]
fn deploying_applies_then_waits_for_the_rollout() {
    let deploying = record(1, 9, DeploymentStatus::Deploying, Trigger::Poll);
    let plan = plan_for(
        &deploying,
        None,
        Observed::Deploying {
            unreadable_secrets: None,
        },
    );
    assert!(plan.apply);
    assert_eq!(status_of(&plan), DeploymentStatus::RollingOut);
    let apply = &plan.progress.unwrap().steps[0];
    assert_eq!(
        (apply.kind, apply.state),
        (StepKind::Apply, StepState::Succeeded)
    );
}

fn rolling_out(trigger: Trigger) -> DeploymentRecord {
    let deploying = record(1, 9, DeploymentStatus::Deploying, trigger);
    let plan = plan_for(
        &deploying,
        None,
        Observed::Deploying {
            unreadable_secrets: None,
        },
    );
    after(deploying, &plan)
}

fn workload(health: Health) -> Observed {
    Observed::RollingOut(vec![Rollout {
        object: "Deployment/web".into(),
        health,
    }])
}

#[test]
fn a_healthy_rollout_goes_on_to_the_jobs_and_a_rollback_ends_there() {
    let plan = plan_for(
        &rolling_out(Trigger::Promotion),
        None,
        workload(Health::Healthy),
    );
    assert_eq!(status_of(&plan), DeploymentStatus::RunningJobs);
    let plan = plan_for(
        &rolling_out(Trigger::AutoRollback),
        None,
        workload(Health::Healthy),
    );
    assert_eq!(status_of(&plan), DeploymentStatus::Succeeded);
    assert!(plan.succeeded);
    let plan = plan_for(
        &rolling_out(Trigger::Poll),
        None,
        workload(Health::Progressing(
            "1 of 2 updated replicas available".into(),
        )),
    );
    assert_eq!(plan.wait, Some(POLL));
    let steps = plan.progress.expect("the message is recorded").steps;
    assert_eq!(
        steps[1].message.as_deref(),
        Some("1 of 2 updated replicas available")
    );
}

#[test]
fn a_rollout_that_fails_rolls_the_environment_back_to_what_ran() {
    let current = record(0, 5, DeploymentStatus::Succeeded, Trigger::Promotion);
    let plan = plan_for(
        &rolling_out(Trigger::Promotion),
        Some(&current),
        workload(Health::Failed("ProgressDeadlineExceeded: timed out".into())),
    );
    let progress = plan.progress.expect("progress");
    assert_eq!(progress.status, DeploymentStatus::Failed);
    assert!(
        progress
            .reason
            .unwrap()
            .contains("Deployment/web failed: ProgressDeadlineExceeded")
    );
    let rollback = plan.rollback.expect("a rollback");
    assert_eq!(rollback.release_id, 5);
    assert_eq!(rollback.trigger, Trigger::AutoRollback);
    assert_eq!(rollback.rollback_of, Some(1));
    assert_eq!(rollback.status, DeploymentStatus::Queued);
}

#[test]
fn a_rollout_past_the_deadline_fails_naming_what_was_not_ready() {
    let deployment = rolling_out(Trigger::Promotion);
    let plan = plan_at(
        &deployment,
        None,
        workload(Health::Progressing(
            "0 of 2 updated replicas available".into(),
        )),
        at(299),
    );
    assert_eq!(plan.wait, Some(POLL));
    let plan = plan_at(
        &deployment,
        None,
        workload(Health::Progressing(
            "0 of 2 updated replicas available".into(),
        )),
        at(300),
    );
    let progress = plan.progress.expect("progress");
    assert_eq!(progress.status, DeploymentStatus::Failed);
    let reason = progress.reason.unwrap();
    assert!(reason.contains("within 300 s"), "{reason}");
    assert!(
        reason.contains("Deployment/web (0 of 2 updated replicas available)"),
        "{reason}"
    );
    assert_eq!(plan.rollback, None, "nothing ran there before");
}

#[test]
fn never_a_rollback_of_a_rollback_nor_to_the_same_release() {
    let current = record(0, 5, DeploymentStatus::Succeeded, Trigger::Promotion);
    let plan = plan_for(
        &rolling_out(Trigger::AutoRollback),
        Some(&current),
        workload(Health::Failed("ProgressDeadlineExceeded".into())),
    );
    assert_eq!(status_of(&plan), DeploymentStatus::Failed);
    assert_eq!(plan.rollback, None);
    let same = record(0, 9, DeploymentStatus::Succeeded, Trigger::Promotion);
    let plan = plan_for(
        &rolling_out(Trigger::Redeploy),
        Some(&same),
        workload(Health::Failed("ProgressDeadlineExceeded".into())),
    );
    assert_eq!(plan.rollback, None);
}

#[test]
fn jobs_run_once_and_a_failing_one_rolls_back() {
    let running = record(1, 9, DeploymentStatus::RunningJobs, Trigger::Promotion);
    let plan = plan_for(
        &running,
        None,
        Observed::RunningJobs(vec![run("migrate-01234567", RunState::Missing)]),
    );
    assert_eq!(plan.create, ["migrate-01234567"]);
    let running = after(running, &plan);
    // Created: the next look finds it running and creates nothing.
    let plan = plan_for(
        &running,
        None,
        Observed::RunningJobs(vec![run("migrate-01234567", RunState::Running)]),
    );
    assert!(plan.create.is_empty());
    assert_eq!(plan.progress, None, "nothing changed, nothing written");
    let current = record(0, 5, DeploymentStatus::Succeeded, Trigger::Promotion);
    let plan = plan_for(
        &running,
        Some(&current),
        Observed::RunningJobs(vec![run("migrate-01234567", failed(2, "relation exists"))]),
    );
    assert!(
        plan.progress
            .unwrap()
            .reason
            .unwrap()
            .contains("Job migrate-01234567 failed: exit code 2")
    );
    assert!(plan.rollback.is_some());
    let plan = plan_for(&running, None, Observed::RunningJobs(vec![]));
    assert_eq!(status_of(&plan), DeploymentStatus::Testing);
}

#[test]
fn every_test_runs_to_its_end_and_a_failure_keeps_exit_code_and_log() {
    let testing = record(1, 9, DeploymentStatus::Testing, Trigger::Promotion);
    let current = record(0, 5, DeploymentStatus::Succeeded, Trigger::Promotion);
    let plan = plan_for(
        &testing,
        Some(&current),
        Observed::Testing(vec![
            run("api", RunState::Missing),
            run("web", RunState::Missing),
        ]),
    );
    assert_eq!(plan.create, ["api", "web"], "the tests run in parallel");
    let testing = after(testing, &plan);
    let plan = plan_for(
        &testing,
        Some(&current),
        Observed::Testing(vec![
            run("api", failed(3, "1 passed\n1 failed: checkout")),
            run("web", RunState::Running),
        ]),
    );
    assert_eq!(
        status_of(&plan),
        DeploymentStatus::Testing,
        "web's result is waited for"
    );
    let testing = after(testing, &plan);
    let plan = plan_for(
        &testing,
        Some(&current),
        Observed::Testing(vec![
            run("api", failed(3, "1 passed\n1 failed: checkout")),
            run("web", passed()),
        ]),
    );
    let progress = plan.progress.expect("progress");
    assert_eq!(progress.status, DeploymentStatus::Failed);
    assert!(
        progress
            .reason
            .unwrap()
            .contains("integration tests of api failed: exit code 3")
    );
    let api = progress
        .steps
        .iter()
        .find(|step| step.name == "api")
        .unwrap();
    assert_eq!(api.exit_code, Some(3));
    assert_eq!(
        api.log_tail.as_deref(),
        Some("1 passed\n1 failed: checkout")
    );
    let web = progress
        .steps
        .iter()
        .find(|step| step.name == "web")
        .unwrap();
    assert_eq!((web.state, web.exit_code), (StepState::Succeeded, Some(0)));
    assert_eq!(plan.rollback.expect("rolled back").release_id, 5);
}

#[test]
fn all_tests_green_means_the_environment_succeeded() {
    let testing = record(1, 9, DeploymentStatus::Testing, Trigger::Promotion);
    let plan = plan_for(
        &testing,
        None,
        Observed::Testing(vec![run("api", passed())]),
    );
    assert_eq!(status_of(&plan), DeploymentStatus::Succeeded);
    assert!(plan.succeeded);
}

#[test]
fn an_errored_deployment_says_what_it_was_doing() {
    let deployment = record(1, 9, DeploymentStatus::RollingOut, Trigger::Poll);
    let progress = errored(
        &deployment,
        "the cluster",
        "Kubernetes: 503 Service Unavailable",
    );
    assert_eq!(progress.status, DeploymentStatus::Errored);
    assert_eq!(
        progress.reason.as_deref(),
        Some("the cluster kept failing while rolling out: Kubernetes: 503 Service Unavailable")
    );
}

#[test]
fn a_log_tail_keeps_the_last_lines() {
    let log: String = (1..=100).map(|line| format!("line {line}\n")).collect();
    let kept = tail(&log, 3);
    assert_eq!(kept, "line 98\nline 99\nline 100");
}
