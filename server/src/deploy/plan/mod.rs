//! The deploy engine's decisions, pure: what an environment takes next
//! ([`admit`]), and the next step of the deployment working there
//! ([`step`]), from the store's record and what the cluster showed. No IO:
//! every transition is tested in `tests.rs` and `secrets_tests.rs` without
//! a cluster.

use std::time::Duration;

use app::deploys::{DeploymentStatus, Step, StepKind, StepState, Trigger};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::store::{DeploymentRecord, EnvironmentState, NewDeployment, Progress};

mod builds;
#[cfg(test)]
mod images_tests;
mod secrets;
#[cfg(test)]
mod secrets_tests;
#[cfg(test)]
mod tests;
mod timeline;

pub use secrets::secrets_resync;
use timeline::{finish_step, set_log, set_message, start_step};
pub use timeline::{tail, timestamp};

/// How many lines of a log a step keeps.
pub const LOG_TAIL_LINES: usize = 40;

/// An environment as the planner needs it.
#[derive(Clone, Debug)]
pub struct Environment<'a> {
    pub name: &'a str,
    /// The environment before it in promotion order.
    pub previous: Option<&'a str>,
    pub rollout_deadline: Duration,
    /// How long an image external CI builds may take to appear in the registry.
    pub image_deadline: Duration,
}

/// What an environment takes next.
#[derive(Clone, Debug, PartialEq)]
pub enum Admission {
    Nothing,
    /// Start `deployment`; record `superseded` releases as passed over; the
    /// waiting deployment `replacing` (id, revision) gives way.
    Enqueue {
        deployment: Box<NewDeployment>,
        superseded: Vec<i64>,
        replacing: Option<(i64, i64)>,
    },
}

/// Automatic promotion: when the environment is free (or holds only a
/// deployment still waiting for approval or its turn) and not held, it
/// takes the newest release that may enter; older ones are superseded.
pub fn admit(app: Uuid, environment: &Environment<'_>, state: &EnvironmentState) -> Admission {
    if state.rules.hold.is_some() {
        return Admission::Nothing;
    }
    let Some(newest) = state.candidates.first() else {
        return Admission::Nothing;
    };
    // A waiting automatic promotion gives way to a newer release, and so
    // does the engine's own redeploy for changed secrets (it may wait for a
    // key the newer release no longer reads); a person's never does.
    let gives_way = |waiting: &DeploymentRecord| {
        waiting.trigger.is_automatic_promotion() || waiting.is_secrets_redeploy()
    };
    let replacing = match &state.active {
        None => None,
        Some(active) if active.status.is_running() || !gives_way(active) => {
            return Admission::Nothing;
        }
        Some(waiting)
            if waiting.trigger.is_automatic_promotion()
                && waiting.release_id >= newest.release_id =>
        {
            return Admission::Nothing;
        }
        Some(waiting) => Some((waiting.id, waiting.revision)),
    };
    let status = if state.rules.requires_approval {
        DeploymentStatus::AwaitingApproval
    } else {
        DeploymentStatus::Queued
    };
    Admission::Enqueue {
        deployment: Box::new(NewDeployment {
            app_id: app,
            release_id: newest.release_id,
            environment: environment.name.to_string(),
            trigger: newest.found_by,
            trigger_detail: environment.previous.map(str::to_string),
            by: None,
            rollback_of: None,
            status,
            approval_required: state.rules.requires_approval,
        }),
        superseded: state
            .candidates
            .iter()
            .skip(1)
            .map(|candidate| candidate.release_id)
            .collect(),
        replacing,
    }
}

/// A Job the engine runs (a build, one of the release's Jobs, a test) as
/// the cluster showed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// The component, Job or microservice it is about.
    pub name: String,
    /// `Job/<name>`.
    pub object: String,
    pub state: RunState,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunState {
    /// Not created yet.
    Missing,
    /// Made by someone else and not there yet (an image external CI
    /// pushes): nothing to create, only to wait for, with what is awaited.
    Waiting(String),
    Running,
    Succeeded {
        /// A build's image digest.
        digest: Option<String>,
        log: String,
    },
    Failed {
        exit_code: Option<i32>,
        reason: String,
        log: String,
    },
}

/// A workload of the release and its health.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rollout {
    /// `Deployment/<name>` or `StatefulSet/<name>`.
    pub object: String,
    pub health: crate::deploy::health::Health,
}

/// What the engine read for the deployment's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observed {
    /// Queued: the components whose image is not built yet, and the
    /// secrets the release reads there that have no value.
    Queued {
        missing_images: Vec<String>,
        missing_secrets: Vec<String>,
    },
    Building(Vec<Run>),
    /// About to apply; `unreadable_secrets` names a value that did not open.
    Deploying {
        unreadable_secrets: Option<String>,
    },
    RollingOut(Vec<Rollout>),
    RunningJobs(Vec<Run>),
    Testing(Vec<Run>),
}

/// The inputs of one step.
pub struct Input<'a> {
    pub deployment: &'a DeploymentRecord,
    /// What runs in the environment: the rollback target.
    pub current: Option<&'a DeploymentRecord>,
    pub environment: &'a Environment<'a>,
    pub observed: Observed,
    pub now: DateTime<Utc>,
}

/// What to do, in order: create the missing Jobs, apply, record images,
/// then write the progress (with the rollback, if any).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Runs to create (by name, as observed).
    pub create: Vec<String>,
    /// Apply the release's objects and prune what it dropped.
    pub apply: bool,
    /// Component → digest, built.
    pub images: Vec<(String, String)>,
    pub progress: Option<Progress>,
    pub rollback: Option<Box<NewDeployment>>,
    /// Look again after this long (or on a watch event) when nothing moved.
    pub wait: Option<Duration>,
    /// It succeeded: the next environment may take it.
    pub succeeded: bool,
}

/// How soon to look again while waiting on the cluster (watch events
/// usually come first).
pub const POLL: Duration = Duration::from_secs(2);

/// How soon a deployment waiting for secrets looks again (a change on the
/// Secrets page wakes it at once).
pub const SECRETS_POLL: Duration = Duration::from_secs(15);

/// How soon the registry is asked again for an image external CI pushes
/// (no watch tells us): often enough for a pipeline, gentle on the registry.
pub const IMAGE_POLL: Duration = Duration::from_secs(5);

/// The next step of a deployment that may work (not awaiting approval).
pub fn step(input: &Input<'_>) -> Plan {
    let deployment = input.deployment;
    let mut steps = deployment.steps.clone();
    let now = timestamp(input.now);
    match &input.observed {
        Observed::Queued {
            missing_secrets, ..
        } if !missing_secrets.is_empty() => {
            // Waits (the Secrets page wakes it): nothing is built or
            // applied for an environment that cannot run it.
            let reason = format!(
                "waiting for secrets: {} {} no value in {}; set {} on the app's Secrets page",
                missing_secrets.join(", "),
                if missing_secrets.len() == 1 {
                    "has"
                } else {
                    "have"
                },
                input.environment.name,
                if missing_secrets.len() == 1 {
                    "it"
                } else {
                    "them"
                },
            );
            let said = deployment.reason.as_deref() == Some(reason.as_str());
            Plan {
                progress: (!said).then_some(Progress {
                    status: deployment.status,
                    reason: Some(reason),
                    steps,
                }),
                wait: Some(SECRETS_POLL),
                ..Plan::default()
            }
        }
        Observed::Queued { missing_images, .. } => {
            let status = if missing_images.is_empty() {
                start_step(&mut steps, StepKind::Apply, "objects", &now, None);
                DeploymentStatus::Deploying
            } else {
                DeploymentStatus::Building
            };
            advance(status, steps)
        }
        Observed::Building(builds) => builds::building(input, steps, builds, &now),
        Observed::Deploying {
            unreadable_secrets: Some(reason),
        } => fail(input, steps, reason.clone(), false),
        Observed::Deploying {
            unreadable_secrets: None,
        } => {
            start_step(&mut steps, StepKind::Apply, "objects", &now, None);
            finish_step(
                &mut steps,
                StepKind::Apply,
                "objects",
                StepState::Succeeded,
                &now,
                None,
            );
            Plan {
                apply: true,
                ..advance(DeploymentStatus::RollingOut, steps)
            }
        }
        Observed::RollingOut(workloads) => rolling_out(input, steps, workloads, &now),
        Observed::RunningJobs(jobs) => {
            let plan = track_runs(&mut steps, StepKind::Job, jobs, &now);
            if let Some(failure) = first_failure(&steps, StepKind::Job) {
                return fail(input, steps, format!("the Job {failure}"), true);
            }
            if jobs
                .iter()
                .all(|job| matches!(job.state, RunState::Succeeded { .. }))
            {
                return advance(DeploymentStatus::Testing, steps);
            }
            Plan {
                progress: progress_if_changed(deployment, steps),
                ..plan
            }
        }
        Observed::Testing(tests) => {
            let plan = track_runs(&mut steps, StepKind::Test, tests, &now);
            // Every test runs to its end before the verdict: all results are kept.
            if tests
                .iter()
                .any(|test| matches!(test.state, RunState::Missing | RunState::Running))
            {
                return Plan {
                    progress: progress_if_changed(deployment, steps),
                    ..plan
                };
            }
            if let Some(failure) = first_failure(&steps, StepKind::Test) {
                return fail(
                    input,
                    steps,
                    format!("the integration tests of {failure}"),
                    true,
                );
            }
            succeed(steps)
        }
    }
}

fn rolling_out(input: &Input<'_>, mut steps: Vec<Step>, workloads: &[Rollout], now: &str) -> Plan {
    use crate::deploy::health::Health;
    let deployment = input.deployment;
    for workload in workloads {
        start_step(
            &mut steps,
            StepKind::Rollout,
            &workload.object,
            now,
            Some(&workload.object),
        );
        match &workload.health {
            Health::Healthy => finish_step(
                &mut steps,
                StepKind::Rollout,
                &workload.object,
                StepState::Succeeded,
                now,
                None,
            ),
            Health::Failed(reason) => finish_step(
                &mut steps,
                StepKind::Rollout,
                &workload.object,
                StepState::Failed,
                now,
                Some(reason.clone()),
            ),
            Health::Progressing(message) => {
                set_message(&mut steps, StepKind::Rollout, &workload.object, message)
            }
        }
    }
    if let Some(failure) = first_failure(&steps, StepKind::Rollout) {
        return fail(input, steps, format!("the rollout of {failure}"), true);
    }
    if workloads
        .iter()
        .all(|workload| workload.health == Health::Healthy)
    {
        if deployment.trigger.is_automatic_promotion() {
            return advance(DeploymentStatus::RunningJobs, steps);
        }
        // Rollbacks and redeploys put back what ran: its Jobs ran once
        // already and its tests passed there.
        return succeed(steps);
    }
    let started = steps
        .iter()
        .find(|step| step.kind == StepKind::Apply)
        .and_then(|step| step.finished_at.as_deref())
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .map(|at| at.with_timezone(&Utc))
        .unwrap_or(input.now);
    let waited = (input.now - started).to_std().unwrap_or_default();
    if waited >= input.environment.rollout_deadline {
        let late: Vec<String> = workloads
            .iter()
            .filter(|workload| workload.health != Health::Healthy)
            .map(|workload| match &workload.health {
                Health::Progressing(message) => format!("{} ({message})", workload.object),
                _ => workload.object.clone(),
            })
            .collect();
        for workload in workloads
            .iter()
            .filter(|workload| workload.health != Health::Healthy)
        {
            finish_step(
                &mut steps,
                StepKind::Rollout,
                &workload.object,
                StepState::Failed,
                now,
                Some(format!(
                    "not healthy within the environment's deadline of {} s",
                    input.environment.rollout_deadline.as_secs()
                )),
            );
        }
        let reason = format!(
            "the rollout did not become healthy within {} s: {}",
            input.environment.rollout_deadline.as_secs(),
            late.join(", ")
        );
        return fail(input, steps, reason, true);
    }
    Plan {
        progress: progress_if_changed(deployment, steps),
        wait: Some(POLL),
        ..Plan::default()
    }
}

/// Steps for each run: created when missing, closed when ended.
fn track_runs(steps: &mut Vec<Step>, kind: StepKind, runs: &[Run], now: &str) -> Plan {
    let mut plan = Plan {
        wait: Some(POLL),
        ..Plan::default()
    };
    for run in runs {
        start_step(steps, kind, &run.name, now, Some(&run.object));
        match &run.state {
            RunState::Missing => plan.create.push(run.name.clone()),
            RunState::Waiting(message) => set_message(steps, kind, &run.name, message),
            RunState::Running => {}
            RunState::Succeeded { log, .. } => {
                finish_step(steps, kind, &run.name, StepState::Succeeded, now, None);
                set_log(steps, kind, &run.name, log, Some(0));
            }
            RunState::Failed {
                exit_code,
                reason,
                log,
            } => {
                let message = match exit_code {
                    Some(code) => format!("exit code {code} ({reason})"),
                    None => reason.clone(),
                };
                finish_step(
                    steps,
                    kind,
                    &run.name,
                    StepState::Failed,
                    now,
                    Some(message),
                );
                set_log(steps, kind, &run.name, log, *exit_code);
            }
        }
    }
    plan
}

/// `<name> failed: <message>` of the first failed step of this kind.
fn first_failure(steps: &[Step], kind: StepKind) -> Option<String> {
    steps
        .iter()
        .find(|step| step.kind == kind && step.state == StepState::Failed)
        .map(|step| {
            format!(
                "{} failed: {}",
                step.name,
                step.message.as_deref().unwrap_or("no reason given")
            )
        })
}

fn advance(status: DeploymentStatus, steps: Vec<Step>) -> Plan {
    Plan {
        progress: Some(Progress {
            status,
            reason: None,
            steps,
        }),
        ..Plan::default()
    }
}

fn succeed(steps: Vec<Step>) -> Plan {
    Plan {
        succeeded: true,
        ..advance(DeploymentStatus::Succeeded, steps)
    }
}

/// Fails the deployment; with `roll_back`, the environment goes back to
/// what ran there, unless this is itself a rollback (never a rollback of
/// a rollback), nothing succeeded there before, or that is this release.
fn fail(input: &Input<'_>, steps: Vec<Step>, reason: String, roll_back: bool) -> Plan {
    let deployment = input.deployment;
    let rollback = input
        .current
        .filter(|_| roll_back && !deployment.trigger.is_rollback())
        .filter(|current| current.release_id != deployment.release_id)
        .map(|current| {
            Box::new(NewDeployment {
                app_id: deployment.app_id,
                release_id: current.release_id,
                environment: deployment.environment.clone(),
                trigger: Trigger::AutoRollback,
                trigger_detail: Some(short(&deployment.sha).to_string()),
                by: None,
                rollback_of: Some(deployment.id),
                status: DeploymentStatus::Queued,
                approval_required: false,
            })
        });
    Plan {
        progress: Some(Progress {
            status: DeploymentStatus::Failed,
            reason: Some(reason),
            steps,
        }),
        rollback,
        ..Plan::default()
    }
}

/// The deployment ends as `Errored`: `failing` (the cluster or the
/// registry) kept failing. No rollback: the same cluster would not take it
/// either.
pub fn errored(deployment: &DeploymentRecord, failing: &str, error: &str) -> Progress {
    Progress {
        status: DeploymentStatus::Errored,
        reason: Some(format!(
            "{failing} kept failing while {}: {error}",
            deployment.status.label()
        )),
        steps: deployment.steps.clone(),
    }
}

fn progress_if_changed(deployment: &DeploymentRecord, steps: Vec<Step>) -> Option<Progress> {
    (steps != deployment.steps).then(|| Progress {
        status: deployment.status,
        reason: deployment.reason.clone(),
        steps,
    })
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}
