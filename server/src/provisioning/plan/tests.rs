//! The planner's transitions, played against a tiny model of Kubernetes.

use super::*;

const HASH: &str = "h1";

fn desired(intent: Intent, configured: bool) -> Desired {
    Desired {
        intent,
        spec_hash: HASH.to_string(),
        support_hash: HASH.to_string(),
        configured,
        credentials_version: 1,
        configured_version: i64::from(configured),
    }
}

fn job(state: JobState) -> Option<ConfigureJob> {
    Some(ConfigureJob { version: 1, state })
}

fn everything(readiness: Readiness) -> Observed {
    Observed {
        namespace: Presence::Present,
        secrets_unbound: false,
        quota: Some(HASH.into()),
        network_policy: Some(HASH.into()),
        credentials: Some(1),
        resource: Some(Resource {
            spec_hash: HASH.into(),
            deleting: false,
            readiness,
        }),
        configure_job: None,
    }
}

/// Plays the decisions against a tiny model of Kubernetes until settled;
/// returns every action taken and every status reported.
fn run(
    desired: &Desired,
    mut observed: Observed,
    mut previous: Status,
    operator: Readiness,
) -> (Vec<Action>, Vec<Status>) {
    let mut actions = Vec::new();
    let mut statuses = Vec::new();
    let mut configured = desired.configured;
    let mut configured_version = desired.configured_version;
    for _ in 0..20 {
        let decision = decide(
            &Desired {
                configured,
                configured_version,
                ..desired.clone()
            },
            &observed,
            previous,
        );
        statuses.push(decision.status);
        previous = decision.status;
        if decision.settled {
            return (actions, statuses);
        }
        if decision.actions.is_empty() {
            // Time passes: the operator and the job make progress.
            if let Some(resource) = observed.resource.as_mut() {
                if resource.deleting {
                    observed.resource = None;
                } else {
                    resource.readiness = if desired.intent == Intent::Parked {
                        Readiness::Stopped
                    } else {
                        operator.clone()
                    };
                }
            } else if observed.namespace == Presence::Terminating {
                observed.namespace = Presence::Absent;
            }
            if let Some(job) = observed.configure_job.as_mut()
                && job.state == JobState::Running
            {
                job.state = JobState::Succeeded;
            }
            continue;
        }
        for action in decision.actions {
            actions.push(action);
            match action {
                Action::ApplyNamespace => observed.namespace = Presence::Present,
                Action::ApplyQuota => observed.quota = Some(desired.support_hash.clone()),
                Action::ApplyNetworkPolicy => {
                    observed.network_policy = Some(desired.support_hash.clone())
                }
                Action::ApplyCredentials | Action::RotateCredentials => {
                    observed.credentials = Some(desired.credentials_version)
                }
                Action::ApplyResource => {
                    observed.resource = Some(Resource {
                        spec_hash: desired.spec_hash.clone(),
                        deleting: false,
                        readiness: Readiness::Progressing,
                    });
                }
                Action::StartConfigureJob => {
                    observed.configure_job = Some(ConfigureJob {
                        version: observed.credentials.unwrap_or_default(),
                        state: JobState::Running,
                    })
                }
                Action::DeleteConfigureJob => observed.configure_job = None,
                Action::MarkConfigured => {
                    configured = true;
                    configured_version = observed.credentials.unwrap_or_default();
                }
                Action::DeleteResource => {
                    if let Some(resource) = observed.resource.as_mut() {
                        resource.deleting = true;
                    }
                }
                Action::DeleteNamespace => observed.namespace = Presence::Terminating,
            }
        }
    }
    panic!("never settled: {statuses:?}");
}

#[test]
fn a_new_database_goes_pending_initializing_active_in_six_kubernetes_writes() {
    let (actions, statuses) = run(
        &desired(Intent::Running, false),
        Observed::default(),
        Status::Pending,
        Readiness::Ready,
    );
    assert_eq!(
        actions,
        [
            Action::ApplyNamespace,
            Action::ApplyQuota,
            Action::ApplyNetworkPolicy,
            Action::ApplyCredentials,
            Action::ApplyResource,
            Action::StartConfigureJob,
            Action::MarkConfigured,
        ]
    );
    assert_eq!(statuses.first(), Some(&Status::Pending));
    assert_eq!(statuses.last(), Some(&Status::Active));
    assert!(statuses.iter().all(|status| matches!(
        status,
        Status::Pending | Status::Initializing | Status::Active
    )));
}

#[test]
fn deciding_again_after_a_crash_repeats_nothing_already_done() {
    // Everything was applied before the crash; the operator is still working.
    let decision = decide(
        &desired(Intent::Running, false),
        &everything(Readiness::Progressing),
        Status::Initializing,
    );
    assert!(decision.actions.is_empty());
    assert_eq!(decision.status, Status::Initializing);
    // Active and configured: nothing at all.
    let decision = decide(
        &desired(Intent::Running, true),
        &everything(Readiness::Ready),
        Status::Active,
    );
    assert_eq!(decision, Decision::settled(Status::Active));
}

#[test]
fn a_resize_reapplies_the_resource_and_reports_resizing() {
    let mut wanted = desired(Intent::Running, true);
    wanted.spec_hash = "h2".into();
    let (actions, statuses) = run(
        &wanted,
        everything(Readiness::Ready),
        Status::Active,
        Readiness::Ready,
    );
    assert!(actions.contains(&Action::ApplyResource));
    assert!(
        !actions.contains(&Action::ApplyCredentials),
        "credentials survive a resize"
    );
    assert!(
        !actions.contains(&Action::StartConfigureJob),
        "configured once"
    );
    assert_eq!(statuses[0], Status::Resizing);
    assert_eq!(statuses.last(), Some(&Status::Active));
}

#[test]
fn parking_and_resuming_pass_through_their_statuses() {
    let mut parked = desired(Intent::Parked, true);
    parked.spec_hash = "parked".into();
    let (actions, statuses) = run(
        &parked,
        everything(Readiness::Ready),
        Status::Active,
        Readiness::Ready,
    );
    assert_eq!(
        actions,
        [Action::ApplyResource],
        "parking rewrites the resource only"
    );
    assert_eq!(statuses.first(), Some(&Status::Parking));
    assert_eq!(statuses.last(), Some(&Status::Parked));

    let mut stopped = everything(Readiness::Stopped);
    if let Some(resource) = stopped.resource.as_mut() {
        resource.spec_hash = "parked".into();
    }
    let (_, statuses) = run(
        &desired(Intent::Running, true),
        stopped,
        Status::Parked,
        Readiness::Ready,
    );
    assert_eq!(statuses.first(), Some(&Status::Resuming));
    assert_eq!(statuses.last(), Some(&Status::Active));
}

#[test]
fn termination_deletes_the_resource_before_the_namespace() {
    let (actions, statuses) = run(
        &desired(Intent::Terminated, true),
        everything(Readiness::Ready),
        Status::Active,
        Readiness::Ready,
    );
    assert_eq!(actions, [Action::DeleteResource, Action::DeleteNamespace]);
    assert!(
        statuses[..statuses.len() - 1]
            .iter()
            .all(|status| *status == Status::Terminating)
    );
    assert_eq!(statuses.last(), Some(&Status::Terminated));
    // Terminating something never created is immediate.
    let decision = decide(
        &desired(Intent::Terminated, false),
        &Observed::default(),
        Status::Pending,
    );
    assert_eq!(decision, Decision::settled(Status::Terminated));
}

#[test]
fn an_operator_that_refuses_the_spec_is_an_error_at_once_with_its_reason() {
    let decision = decide(
        &desired(Intent::Running, false),
        &everything(Readiness::Failed("Invalid cluster definition".into())),
        Status::Initializing,
    );
    assert_eq!(decision.status, Status::Error);
    assert!(decision.settled);
    assert!(
        decision
            .message
            .unwrap_or_default()
            .contains("Invalid cluster definition")
    );
}

#[test]
fn a_failed_configure_job_is_removed_and_tried_again() {
    let mut observed = everything(Readiness::Ready);
    observed.configure_job = job(JobState::Failed("exit code 1".into()));
    let decision = decide(
        &desired(Intent::Running, false),
        &observed,
        Status::Initializing,
    );
    assert_eq!(decision.actions, [Action::DeleteConfigureJob]);
    assert_eq!(decision.status, Status::Initializing);
    assert!(decision.message.unwrap_or_default().contains("exit code 1"));
}

#[test]
fn a_namespace_without_its_secrets_binding_is_applied_again_before_the_credentials() {
    // Made before a crash, the binding not yet: the credentials could not
    // be read, so they are created (create-once keeps an existing Secret)
    // after the namespace and its binding.
    let mut observed = everything(Readiness::Ready);
    observed.secrets_unbound = true;
    observed.credentials = None;
    let decision = decide(&desired(Intent::Running, true), &observed, Status::Active);
    assert_eq!(
        decision.actions,
        vec![Action::ApplyNamespace, Action::ApplyCredentials]
    );
}

#[test]
fn a_namespace_still_going_away_is_waited_for() {
    let observed = Observed {
        namespace: Presence::Terminating,
        ..Observed::default()
    };
    let decision = decide(&desired(Intent::Running, false), &observed, Status::Pending);
    assert!(decision.actions.is_empty());
    assert_eq!(decision.status, Status::Pending);
}

#[test]
fn a_rotation_replaces_the_password_then_sets_it_inside_the_database() {
    let mut wanted = desired(Intent::Running, true);
    wanted.credentials_version = 2;
    let mut observed = everything(Readiness::Ready);
    // The job that set the first password is still there.
    observed.configure_job = job(JobState::Succeeded);
    let (actions, statuses) = run(&wanted, observed, Status::Active, Readiness::Ready);
    assert_eq!(
        actions,
        [
            Action::RotateCredentials,
            Action::DeleteConfigureJob,
            Action::StartConfigureJob,
            Action::MarkConfigured,
        ]
    );
    assert!(statuses.iter().all(|status| *status == Status::Active));
}

#[test]
fn a_crash_after_the_new_password_was_written_only_sets_it() {
    // The Secret has version 2; the job for it never ran.
    let mut wanted = desired(Intent::Running, true);
    wanted.credentials_version = 2;
    let mut observed = everything(Readiness::Ready);
    observed.credentials = Some(2);
    let decision = decide(&wanted, &observed, Status::Active);
    assert_eq!(decision.actions, [Action::StartConfigureJob]);
    // Once set inside the database, nothing more.
    wanted.configured_version = 2;
    assert_eq!(
        decide(&wanted, &observed, Status::Active),
        Decision::settled(Status::Active)
    );
}
