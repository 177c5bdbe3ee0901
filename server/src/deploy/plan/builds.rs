//! The Building step: the portal's build Jobs, or the images external CI
//! pushes (waited for, with the reason said, until their deadline).

use app::deploys::{DeploymentStatus, Step, StepKind};

use super::timeline::{elapsed, start_step};
use super::{
    IMAGE_POLL, Input, Plan, Progress, Run, RunState, advance, fail, first_failure,
    progress_if_changed, track_runs,
};

pub(super) fn building(input: &Input<'_>, mut steps: Vec<Step>, builds: &[Run], now: &str) -> Plan {
    let deployment = input.deployment;
    let deadline = input.environment.image_deadline;
    let builds: Vec<Run> = builds
        .iter()
        .cloned()
        .map(|mut build| {
            match &build.state {
                // A build that ended without a digest made no usable image.
                RunState::Succeeded { digest: None, log } => {
                    build.state = RunState::Failed {
                        exit_code: None,
                        reason: "the build ended without an image digest".into(),
                        log: log.clone(),
                    };
                }
                RunState::Waiting(_)
                    if elapsed(&steps, StepKind::Build, &build.name, input.now) >= deadline =>
                {
                    build.state = RunState::Failed {
                        exit_code: None,
                        reason: format!(
                            "{} did not appear in the registry within {} s",
                            build.object,
                            deadline.as_secs()
                        ),
                        log: String::new(),
                    };
                }
                _ => {}
            }
            build
        })
        .collect();
    let mut plan = track_runs(&mut steps, StepKind::Build, &builds, now);
    for build in &builds {
        if let RunState::Succeeded {
            digest: Some(digest),
            ..
        } = &build.state
        {
            plan.images.push((build.name.clone(), digest.clone()));
        }
    }
    if let Some(failure) = first_failure(&steps, StepKind::Build) {
        let reason = format!("the build of {failure}");
        return Plan {
            images: plan.images,
            ..fail(input, steps, reason, false)
        };
    }
    if builds
        .iter()
        .all(|build| matches!(build.state, RunState::Succeeded { .. }))
    {
        start_step(&mut steps, StepKind::Apply, "objects", now, None);
        return Plan {
            images: plan.images,
            ..advance(DeploymentStatus::Deploying, steps)
        };
    }
    let awaited: Vec<&str> = builds
        .iter()
        .filter(|build| matches!(build.state, RunState::Waiting(_)))
        .map(|build| build.name.as_str())
        .collect();
    if awaited.is_empty() {
        return Plan {
            progress: progress_if_changed(deployment, steps),
            ..plan
        };
    }
    // The history says what it waits for; the registry has no watch.
    let reason = format!(
        "waiting for image{} from external CI: {}",
        if awaited.len() == 1 { "" } else { "s" },
        awaited.join(", ")
    );
    let unchanged =
        deployment.reason.as_deref() == Some(reason.as_str()) && steps == deployment.steps;
    Plan {
        progress: (!unchanged).then_some(Progress {
            status: deployment.status,
            reason: Some(reason),
            steps,
        }),
        wait: Some(IMAGE_POLL),
        ..plan
    }
}
