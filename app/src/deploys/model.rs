//! A deployment as both sides know it: its status (a state machine with a
//! reason on every failure), why it ran, and its step timeline.

use serde::{Deserialize, Serialize};

/// Where one deployment of a release into an environment stands.
///
/// `Failed` is a definite bad result (a test's exit code, a rollout that
/// never became healthy); `Errored` means the cluster or the registry
/// misbehaved for longer than the engine retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeploymentStatus {
    /// Waits for a maintainer to approve or reject it.
    AwaitingApproval,
    /// Will start as soon as the engine looks.
    Queued,
    Building,
    /// Applying the environment's objects and pruning what the release dropped.
    Deploying,
    RollingOut,
    /// The release's Jobs, once per commit and environment.
    RunningJobs,
    /// The microservices' integration tests.
    Testing,
    Succeeded,
    Failed,
    Errored,
    /// A newer release took its place before it started.
    Superseded,
    Rejected,
}

impl DeploymentStatus {
    pub const ALL: [DeploymentStatus; 12] = [
        DeploymentStatus::AwaitingApproval,
        DeploymentStatus::Queued,
        DeploymentStatus::Building,
        DeploymentStatus::Deploying,
        DeploymentStatus::RollingOut,
        DeploymentStatus::RunningJobs,
        DeploymentStatus::Testing,
        DeploymentStatus::Succeeded,
        DeploymentStatus::Failed,
        DeploymentStatus::Errored,
        DeploymentStatus::Superseded,
        DeploymentStatus::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::AwaitingApproval => "AwaitingApproval",
            DeploymentStatus::Queued => "Queued",
            DeploymentStatus::Building => "Building",
            DeploymentStatus::Deploying => "Deploying",
            DeploymentStatus::RollingOut => "RollingOut",
            DeploymentStatus::RunningJobs => "RunningJobs",
            DeploymentStatus::Testing => "Testing",
            DeploymentStatus::Succeeded => "Succeeded",
            DeploymentStatus::Failed => "Failed",
            DeploymentStatus::Errored => "Errored",
            DeploymentStatus::Superseded => "Superseded",
            DeploymentStatus::Rejected => "Rejected",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// As people read it.
    pub fn label(self) -> &'static str {
        match self {
            DeploymentStatus::AwaitingApproval => "awaiting approval",
            DeploymentStatus::Queued => "queued",
            DeploymentStatus::Building => "building",
            DeploymentStatus::Deploying => "deploying",
            DeploymentStatus::RollingOut => "rolling out",
            DeploymentStatus::RunningJobs => "running jobs",
            DeploymentStatus::Testing => "testing",
            DeploymentStatus::Succeeded => "succeeded",
            DeploymentStatus::Failed => "failed",
            DeploymentStatus::Errored => "errored",
            DeploymentStatus::Superseded => "superseded",
            DeploymentStatus::Rejected => "rejected",
        }
    }

    /// Not finished: the environment is taken by it.
    pub fn is_active(self) -> bool {
        !matches!(
            self,
            DeploymentStatus::Succeeded
                | DeploymentStatus::Failed
                | DeploymentStatus::Errored
                | DeploymentStatus::Superseded
                | DeploymentStatus::Rejected
        )
    }

    /// Working in the cluster (not waiting for a person or its turn).
    pub fn is_running(self) -> bool {
        self.is_active()
            && !matches!(
                self,
                DeploymentStatus::AwaitingApproval | DeploymentStatus::Queued
            )
    }
}

/// Why a deployment ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Trigger {
    /// The poller found the commit.
    Poll,
    /// A push webhook made the poller look now.
    Webhook,
    /// It passed the previous environment.
    Promotion,
    /// A person rolled the environment back to it (and held it there).
    Rollback,
    /// A person deployed what runs again.
    Redeploy,
    /// The engine rolled back a failed deployment.
    AutoRollback,
}

impl Trigger {
    pub const ALL: [Trigger; 6] = [
        Trigger::Poll,
        Trigger::Webhook,
        Trigger::Promotion,
        Trigger::Rollback,
        Trigger::Redeploy,
        Trigger::AutoRollback,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Poll => "poll",
            Trigger::Webhook => "webhook",
            Trigger::Promotion => "promotion",
            Trigger::Rollback => "rollback",
            Trigger::Redeploy => "redeploy",
            Trigger::AutoRollback => "auto-rollback",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|trigger| trigger.as_str() == text)
    }

    /// Automatic promotion: a new commit, or one that passed the
    /// environment before. These decide what the next one takes.
    pub fn is_automatic_promotion(self) -> bool {
        matches!(self, Trigger::Poll | Trigger::Webhook | Trigger::Promotion)
    }

    /// A rollback, by a person or by the engine: the history marks it.
    pub fn is_rollback(self) -> bool {
        matches!(self, Trigger::Rollback | Trigger::AutoRollback)
    }
}

/// What one step of a deployment does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepKind {
    /// One component's image.
    Build,
    /// Applying the objects and pruning the dropped ones.
    Apply,
    /// One workload becoming healthy.
    Rollout,
    /// One of the release's Jobs.
    Job,
    /// One microservice's integration tests.
    Test,
}

impl StepKind {
    pub fn label(self) -> &'static str {
        match self {
            StepKind::Build => "build",
            StepKind::Apply => "apply",
            StepKind::Rollout => "rollout",
            StepKind::Job => "job",
            StepKind::Test => "test",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepState {
    Running,
    Succeeded,
    Failed,
}

/// One step of a deployment's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub kind: StepKind,
    /// The component, workload or Job it is about.
    pub name: String,
    pub state: StepState,
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: Option<String>,
    /// From start to end, once finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    /// What happened, for people: the reason of a failure, the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A Job's or test's exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The last lines of a Job's, test's or build's log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_tail: Option<String>,
    /// The Kubernetes object it watched, `Kind/name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
}

impl Step {
    pub fn is_finished(&self) -> bool {
        self.state != StepState::Running
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_triggers_read_back_what_they_write() {
        for status in DeploymentStatus::ALL {
            assert_eq!(DeploymentStatus::parse(status.as_str()), Some(status));
        }
        for trigger in Trigger::ALL {
            assert_eq!(Trigger::parse(trigger.as_str()), Some(trigger));
        }
        assert_eq!(DeploymentStatus::parse("succeeded"), None);
    }

    #[test]
    fn only_unfinished_deployments_take_the_environment() {
        assert!(DeploymentStatus::AwaitingApproval.is_active());
        assert!(!DeploymentStatus::AwaitingApproval.is_running());
        assert!(DeploymentStatus::Testing.is_running());
        assert!(!DeploymentStatus::Superseded.is_active());
        assert!(!DeploymentStatus::Errored.is_active());
    }
}
