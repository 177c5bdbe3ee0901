//! The provisioning engine: databases on Kubernetes through their
//! operators, as a [`Reconciler`] on the shared runner. One reconcile reads
//! the database's desired state from the store and what Kubernetes reports,
//! asks `plan::decide`, carries the actions out, records every step, and
//! reports the new status for the generation it read: a customer's change
//! made meanwhile is never overwritten, it is reconciled next.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::databases::Intent;
use async_trait::async_trait;
use kube::Client;
use uuid::Uuid;

use super::objects::{self, DatabaseSpec};
use super::observe::{self, WATCHED};
use super::plan::{self, Action, Decision, Desired};
use super::{ENGINE, step_name};
use crate::cluster::{Cluster, ClusterError, ServiceAccount};
use crate::engine::{Failure, Handle, Leadership, Next, Reconciler, Runner, RunnerSettings, Term};
use crate::store::{DatabaseRecord, DatabaseStore, EngineReport, Reported, StoreError};

/// How soon a database that waits for its operator or a job is looked at
/// again without a watch event.
const WAITING: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl From<EngineError> for Failure {
    fn from(error: EngineError) -> Failure {
        match error {
            EngineError::Store(StoreError::Deposed { .. }) => Failure::Deposed(error.to_string()),
            other => Failure::Retry(other.to_string()),
        }
    }
}

/// How long a record read with the list of unfinished databases stands in
/// for a fresh read: a pass reconciles right after it lists, and the
/// generation check refuses a report from anything staler.
const PREFETCH_FRESH: Duration = Duration::from_secs(1);

/// The database specifics the runner drives.
pub struct Provisioner {
    store: Arc<dyn DatabaseStore>,
    cluster: Cluster,
    /// Only databases of this region (`None`: every database).
    region: Option<String>,
    /// Records read with the last list, taken once each.
    prefetched: Mutex<HashMap<Uuid, (Instant, DatabaseRecord)>>,
}

#[async_trait]
impl Reconciler for Provisioner {
    type Key = Uuid;

    fn name(&self) -> &'static str {
        "provisioning"
    }

    async fn pending(&self) -> Result<Vec<Uuid>, Failure> {
        let pending = self
            .store
            .pending_databases(self.region.as_deref(), 10_000)
            .await
            .map_err(|error| Failure::Retry(format!("store: {error}")))?;
        let now = Instant::now();
        let mut prefetched = self.prefetched();
        prefetched.clear();
        let ids = pending
            .into_iter()
            .map(|pending| {
                if let Some(record) = pending.record {
                    prefetched.insert(pending.id, (now, record));
                }
                pending.id
            })
            .collect();
        Ok(ids)
    }

    async fn reconcile(&self, id: &Uuid, term: &Term, attempt: u32) -> Result<Next, Failure> {
        let fresh = self
            .prefetched()
            .remove(id)
            .filter(|(read_at, _)| read_at.elapsed() < PREFETCH_FRESH)
            .map(|(_, record)| record);
        let read = match fresh {
            Some(record) => Ok(record),
            None => self.store.database(*id).await,
        };
        let database = match read {
            Ok(database) => database,
            Err(StoreError::NotFound) => return Ok(Next::Done),
            // The engine cannot act on what it cannot read: say so on the
            // database, settled, until its desired state changes.
            Err(StoreError::Corrupt(reason)) => {
                self.store
                    .report_unreadable_database(*id, term.fence(), &reason)
                    .await
                    .map_err(EngineError::from)?;
                return Ok(Next::Done);
            }
            Err(error) => return Err(EngineError::from(error).into()),
        };
        let settled_elsewhere = self
            .region
            .as_ref()
            .is_some_and(|region| *region != database.region);
        if database.settled || settled_elsewhere {
            return Ok(Next::Done);
        }
        Ok(self.reconcile_database(&database, term, attempt).await?)
    }
}

impl Provisioner {
    fn prefetched(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, (Instant, DatabaseRecord)>> {
        self.prefetched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn reconcile_database(
        &self,
        db: &DatabaseRecord,
        term: &Term,
        attempt: u32,
    ) -> Result<Next, EngineError> {
        let spec = database_spec(db);
        let observed = match observe::observe(&self.cluster, &spec).await {
            Ok(observed) => observed,
            Err(error) => {
                // Say so on the database's page while the retries go on; the
                // API's own words are for the log.
                tracing::warn!(database = %db.id, %error, "cannot read the database's objects");
                let waiting = Decision {
                    actions: Vec::new(),
                    status: db.status,
                    message: Some(format!(
                        "cannot read the database's objects: {}; retrying",
                        error.for_people()
                    )),
                    settled: false,
                };
                self.report(db, term, &waiting, db.configured, db.configured_version)
                    .await?;
                return Err(error.into());
            }
        };
        let desired = Desired {
            intent: db.intent,
            spec_hash: objects::resource_hash(&spec),
            support_hash: objects::support_hash(&spec),
            configured: db.configured,
            credentials_version: db.credentials_version,
            configured_version: db.configured_version,
        };
        let decision = plan::decide(&desired, &observed, db.status);
        let (mut configured, mut configured_version) = (db.configured, db.configured_version);
        let attempt = i32::try_from(attempt).unwrap_or(i32::MAX).saturating_add(1);
        for action in &decision.actions {
            if !term.still_leading() {
                // The lease lapsed: whoever leads next carries on from here.
                return Err(EngineError::Store(StoreError::Deposed {
                    lease: ENGINE.lease.to_string(),
                    term: term.fence().map_or(0, |fence| fence.term),
                }));
            }
            tracing::info!(database = %db.id, step = step_name(*action), attempt, "provisioning step");
            let step = self
                .store
                .start_step(db.id, term.fence(), step_name(*action), attempt)
                .await?;
            let done = observe::execute(
                &self.cluster,
                *action,
                &spec,
                db.credentials_version,
                observed.credentials,
            )
            .await;
            if let Err(error) = done {
                tracing::warn!(database = %db.id, step = step_name(*action), %error, "a provisioning step failed");
                let message = error.for_people();
                self.store
                    .finish_step(step, "failure", Some(&message))
                    .await?;
                let failed = Decision {
                    message: Some(format!("{}: {message}; retrying", step_name(*action))),
                    settled: false,
                    ..decision.clone()
                };
                self.report(db, term, &failed, configured, configured_version)
                    .await?;
                return Err(error.into());
            }
            self.store.finish_step(step, "success", None).await?;
            if *action == Action::MarkConfigured {
                configured = true;
                configured_version = observed.credentials.unwrap_or(1);
            }
        }
        // Settled only when no action was needed: the next look confirms.
        let acted = !decision.actions.is_empty();
        let reported = Decision {
            settled: decision.settled && !acted,
            ..decision
        };
        let outcome = self
            .report(db, term, &reported, configured, configured_version)
            .await?;
        Ok(match outcome {
            Reported::Stale => Next::Again,
            Reported::Applied if acted => Next::Again,
            Reported::Applied if reported.settled => Next::Done,
            Reported::Applied => Next::After(WAITING),
        })
    }

    /// Records the decision for the generation the engine read; nothing is
    /// written when nothing changed.
    async fn report(
        &self,
        db: &DatabaseRecord,
        term: &Term,
        decision: &Decision,
        configured: bool,
        configured_version: i64,
    ) -> Result<Reported, EngineError> {
        let report = EngineReport {
            generation: db.generation,
            status: decision.status,
            message: decision.message.clone(),
            settled: decision.settled,
            configured,
            configured_version,
        };
        let unchanged = db.status == report.status
            && db.status_message == report.message
            && db.settled == report.settled
            && db.configured == configured
            && db.configured_version == configured_version;
        if unchanged {
            return Ok(Reported::Applied);
        }
        let reported = self
            .store
            .report_database(db.id, term.fence(), &report)
            .await?;
        if reported == Reported::Applied && db.status != report.status {
            crate::metrics::database_status(db.engine.as_str(), report.status.as_str());
        }
        Ok(reported)
    }
}

/// The provisioning engine of one region: the [`Provisioner`] on the
/// shared runner.
pub struct ProvisioningEngine {
    runner: Runner<Provisioner>,
}

impl ProvisioningEngine {
    pub fn new(store: Arc<dyn DatabaseStore>, client: Client) -> Self {
        let provisioner = Provisioner {
            store,
            cluster: Cluster::new(client, ENGINE.field_manager),
            region: None,
            prefetched: Mutex::default(),
        };
        ProvisioningEngine {
            runner: Runner::new(provisioner, RunnerSettings::default()),
        }
    }

    /// Provisions only the databases of `region`: its client is that
    /// region's cluster.
    pub fn for_region(mut self, region: &str) -> Self {
        self.runner.reconciler_mut().region = Some(region.to_string());
        self
    }

    /// Each database's namespace binds Secrets to `account` (`--service-account`).
    pub fn with_secrets_access(mut self, account: Option<ServiceAccount>) -> Self {
        let provisioner = self.runner.reconciler_mut();
        provisioner.cluster = provisioner.cluster.clone().with_secrets_access(account);
        self
    }

    /// How long one Kubernetes call may take (tests shorten it).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        let provisioner = self.runner.reconciler_mut();
        provisioner.cluster = provisioner.cluster.clone().with_timeout(timeout);
        self
    }

    /// How retries back off (tests that inject many faults shorten it, so
    /// that a long streak of failures cannot outlast their deadline).
    pub fn with_backoff(mut self, first: Duration, max: Duration) -> Self {
        let settings = self.runner.settings_mut();
        settings.first_backoff = first;
        settings.max_backoff = max.max(first);
        self
    }

    /// Acts only while this replica leads, fenced by its term.
    pub fn with_leadership(mut self, leadership: Arc<Leadership>) -> Self {
        self.runner = self.runner.with_leadership(leadership);
        self
    }

    /// Wakes the engine: a database's desired state changed.
    pub fn handle(&self) -> Handle<Uuid> {
        self.runner.handle()
    }

    /// Every unfinished database once (tests and benchmarks step with it).
    pub async fn pass(&self) -> Result<usize, Failure> {
        self.runner.pass().await
    }

    /// Watches the objects the engine made (its own label), each event
    /// waking the database it belongs to.
    pub fn spawn_watches(&self) {
        let handle = self.handle();
        let client = self.runner.reconciler().cluster.client().clone();
        crate::engine::watch::spawn(
            client,
            &WATCHED,
            ENGINE.selector(),
            Arc::new(move |object| {
                let database = object
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|labels| labels.get(objects::DATABASE_LABEL))
                    .and_then(|id| Uuid::parse_str(id).ok());
                if let Some(id) = database {
                    handle.schedule(id);
                }
            }),
        );
    }

    /// Works until `stop` resolves.
    pub async fn run(&self, stop: impl Future<Output = ()>) {
        self.runner.run(stop).await;
    }
}

/// The objects' inputs from the store's record.
pub fn database_spec(db: &DatabaseRecord) -> DatabaseSpec {
    DatabaseSpec {
        id: db.id,
        owner_id: db.owner_id,
        name: db.name.clone(),
        engine: db.engine,
        tier: db.tier,
        schema_name: db.schema_name.clone(),
        parked: db.intent == Intent::Parked,
    }
}
