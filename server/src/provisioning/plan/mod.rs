//! The provisioning engine's decisions, with no IO: what the portal wants
//! (a database's desired state) and what Kubernetes reports (an
//! observation) go in; the next actions and the status to report come out.
//! The engine runs this on every wake-up (level-triggered): after a crash,
//! the same inputs give the same decision, so nothing is done twice.
//!
//! Each action is one idempotent write (server-side apply or delete); an
//! object already applied at the desired spec (its hash annotation matches)
//! is not written again, which keeps a provision within a few writes.

use app::databases::{Intent, Status};

/// One database's desired state, from the portal's store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    pub intent: Intent,
    /// A hash of everything the operator's resource is built from (tier,
    /// engine, names, parked or not): a change means "apply it again".
    pub spec_hash: String,
    /// The same for the quota and the network policy (the tier only), so
    /// parking does not rewrite them.
    pub support_hash: String,
    /// Whether the first keyspace/database and the application role exist
    /// (the configuration job succeeded once).
    pub configured: bool,
    /// The credentials the customer wants (each rotation asks for the next).
    pub credentials_version: i64,
    /// The credentials version the configuration job last set inside the database.
    pub configured_version: i64,
}

/// What Kubernetes reports for one database, gathered by the engine's IO.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    pub namespace: Presence,
    /// The namespace exists but the portal may not use Secrets in it yet
    /// (its RoleBinding is missing): applying the namespace makes it, and
    /// the credentials could not be read.
    pub secrets_unbound: bool,
    /// The hash annotation of each supporting object (None: absent).
    pub quota: Option<String>,
    pub network_policy: Option<String>,
    /// The credentials version the Secret carries (None: no Secret).
    pub credentials: Option<i64>,
    pub resource: Option<Resource>,
    pub configure_job: Option<ConfigureJob>,
}

/// The configuration job, for the credentials version it sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigureJob {
    pub version: i64,
    pub state: JobState,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Presence {
    #[default]
    Absent,
    Present,
    /// Being deleted (a deletion timestamp is set).
    Terminating,
}

/// The operator's resource (CassandraDatacenter or CNPG Cluster).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// The spec hash annotation it was applied with.
    pub spec_hash: String,
    pub deleting: bool,
    pub readiness: Readiness,
}

/// The operator's verdict, read with each operator's own predicate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    Progressing,
    Ready,
    /// Parked: cass-operator `Stopped=True`, CloudNativePG hibernated.
    Stopped,
    /// The operator says it cannot succeed as specified.
    Failed(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    Running,
    Succeeded,
    Failed(String),
}

/// One write the engine makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    ApplyNamespace,
    ApplyQuota,
    ApplyNetworkPolicy,
    /// Creates the credentials Secret, once: never over an existing one
    /// (the database may have been bootstrapped with it).
    ApplyCredentials,
    /// Replaces the password with a new one, keeping the previous one for
    /// the configuration job to log in with.
    RotateCredentials,
    ApplyResource,
    StartConfigureJob,
    /// The configure job failed: remove it so the next attempt starts clean.
    DeleteConfigureJob,
    /// The configure job succeeded: record it, with the credentials
    /// version it set, in the store (no Kubernetes write).
    MarkConfigured,
    DeleteResource,
    DeleteNamespace,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub actions: Vec<Action>,
    pub status: Status,
    /// Why the database is where it is, for people (ERROR says what failed).
    pub message: Option<String>,
    /// Whether there is nothing left to do until the desired state changes.
    pub settled: bool,
}

impl Decision {
    fn act(status: Status, actions: Vec<Action>) -> Self {
        Decision {
            actions,
            status,
            message: None,
            settled: false,
        }
    }

    fn wait(status: Status, message: &str) -> Self {
        Decision {
            actions: Vec::new(),
            status,
            message: Some(message.to_string()),
            settled: false,
        }
    }

    fn settled(status: Status) -> Self {
        Decision {
            actions: Vec::new(),
            status,
            message: None,
            settled: true,
        }
    }
}

/// The next step for one database. `previous` is the status last reported,
/// to tell a first start from a resize or a resume.
pub fn decide(desired: &Desired, observed: &Observed, previous: Status) -> Decision {
    if desired.intent == Intent::Terminated {
        return terminate(observed);
    }
    if observed.namespace == Presence::Terminating {
        // A namespace from an earlier life is still going away; objects
        // cannot be created in it until it is gone.
        return Decision::wait(
            previous_or(previous, Status::Pending),
            "waiting for an old namespace to go away",
        );
    }
    let mut supporting = Vec::new();
    if observed.namespace == Presence::Absent || observed.secrets_unbound {
        supporting.push(Action::ApplyNamespace);
    }
    let current = |hash: &Option<String>| hash.as_deref() == Some(desired.support_hash.as_str());
    if !current(&observed.quota) {
        supporting.push(Action::ApplyQuota);
    }
    if !current(&observed.network_policy) {
        supporting.push(Action::ApplyNetworkPolicy);
    }
    // The credentials are generated once; a later spec change keeps them.
    if observed.credentials.is_none() {
        supporting.push(Action::ApplyCredentials);
    }
    let starting = matches!(
        previous,
        Status::Pending | Status::Initializing | Status::Error
    ) && !desired.configured;
    let resource_current = observed
        .resource
        .as_ref()
        .is_some_and(|resource| resource.spec_hash == desired.spec_hash && !resource.deleting);
    if !resource_current {
        let mut actions = supporting;
        if observed
            .resource
            .as_ref()
            .is_some_and(|resource| resource.deleting)
        {
            return Decision::wait(
                Status::Initializing,
                "waiting for the previous resource to be deleted",
            );
        }
        actions.push(Action::ApplyResource);
        let status = if observed.resource.is_none() && starting {
            if observed.namespace == Presence::Absent {
                Status::Pending
            } else {
                Status::Initializing
            }
        } else {
            transition(desired.intent, previous)
        };
        return Decision::act(status, actions);
    }
    if !supporting.is_empty() {
        return Decision::act(transition(desired.intent, previous), supporting);
    }
    let Some(resource) = &observed.resource else {
        return Decision::wait(Status::Initializing, "waiting for the operator");
    };
    match (&resource.readiness, desired.intent) {
        (Readiness::Failed(reason), _) => Decision {
            actions: Vec::new(),
            status: Status::Error,
            message: Some(format!("the operator cannot run this database: {reason}")),
            settled: true,
        },
        (Readiness::Progressing, intent) => {
            let status = if starting {
                Status::Initializing
            } else {
                transition(intent, previous)
            };
            Decision::wait(
                status,
                "waiting for the operator to report the database ready",
            )
        }
        (Readiness::Stopped, Intent::Parked) => Decision::settled(Status::Parked),
        (Readiness::Stopped, _) => {
            Decision::wait(Status::Resuming, "waiting for the nodes to start")
        }
        (Readiness::Ready, Intent::Parked) => {
            Decision::wait(Status::Parking, "waiting for the nodes to stop")
        }
        (Readiness::Ready, _) => {
            let status = if starting {
                Status::Initializing
            } else {
                Status::Active
            };
            let in_secret = observed.credentials.unwrap_or_default();
            if in_secret < desired.credentials_version {
                // A rotation: the new password first, then the job sets it.
                Decision::act(status, vec![Action::RotateCredentials])
            } else if desired.configured && desired.configured_version >= in_secret {
                Decision::settled(Status::Active)
            } else {
                configure(observed, status, in_secret)
            }
        }
    }
}

/// The last step of a first start, and of a rotation: the keyspace or
/// database and the application role with the Secret's password (version
/// `version`), through a job.
fn configure(observed: &Observed, status: Status, version: i64) -> Decision {
    let Some(job) = &observed.configure_job else {
        return Decision::act(status, vec![Action::StartConfigureJob]);
    };
    if job.version != version {
        // A job for other credentials (an earlier rotation): run it anew.
        return Decision::act(status, vec![Action::DeleteConfigureJob]);
    }
    match &job.state {
        JobState::Running => Decision::wait(
            status,
            "setting up the keyspace or database and the application role",
        ),
        JobState::Succeeded => Decision::act(status, vec![Action::MarkConfigured]),
        JobState::Failed(reason) => Decision {
            actions: vec![Action::DeleteConfigureJob],
            status,
            message: Some(format!("the configuration job failed ({reason}); retrying")),
            settled: false,
        },
    }
}

/// The resource goes first and must be gone before the namespace is deleted:
/// operator finalizers are removed only by a running operator, and a
/// namespace holding them would stay Terminating for ever.
fn terminate(observed: &Observed) -> Decision {
    match (&observed.resource, observed.namespace) {
        (Some(resource), _) if !resource.deleting => {
            Decision::act(Status::Terminating, vec![Action::DeleteResource])
        }
        (Some(_), _) => Decision::wait(
            Status::Terminating,
            "waiting for the operator to release the database",
        ),
        (None, Presence::Present) => {
            Decision::act(Status::Terminating, vec![Action::DeleteNamespace])
        }
        (None, Presence::Terminating) => {
            Decision::wait(Status::Terminating, "waiting for the namespace to go away")
        }
        (None, Presence::Absent) => Decision::settled(Status::Terminated),
    }
}

/// The in-between status on the way to `intent` from `previous`.
fn transition(intent: Intent, previous: Status) -> Status {
    match (intent, previous) {
        (Intent::Parked, _) => Status::Parking,
        (Intent::Running, Status::Parked | Status::Parking | Status::Resuming) => Status::Resuming,
        (Intent::Running, Status::Pending | Status::Initializing) => Status::Initializing,
        (Intent::Running, _) => Status::Resizing,
        (Intent::Terminated, _) => Status::Terminating,
    }
}

fn previous_or(previous: Status, otherwise: Status) -> Status {
    if previous == Status::Terminated {
        otherwise
    } else {
        previous
    }
}

#[cfg(test)]
mod tests;
