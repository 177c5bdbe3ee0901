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
    if observed.namespace == Presence::Absent {
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
mod tests {
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
}
