//! The provisioning engine's IO: read what Kubernetes reports for a
//! database, ask `plan::decide`, carry the actions out (server-side apply
//! with one field manager, deletes), and record every step and the
//! resulting status in the store. Level-triggered: it works from the store's
//! unsettled databases on every wake-up, so a restart simply carries on.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::databases::{Engine as DbEngine, Intent, Status};
use kube::Client;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
};
use serde_json::Value;
use tokio::sync::{Mutex, Notify};
use uuid::Uuid;

use super::objects::{self, DatabaseSpec, FIELD_MANAGER, SPEC_HASH};
use super::plan::{self, Action, Decision, Desired, JobState, Observed, Presence, Resource};
use super::readiness::readiness;
use crate::store::{DatabaseRecord, DatabaseState, Store, StoreError};

/// Retries back off from this, doubling, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often the engine looks for work without being woken.
const TICK: Duration = Duration::from_millis(500);
/// How long one Kubernetes call may take before it counts as failed (and is
/// retried with backoff): a hung call must not hold a database, or a pass,
/// for ever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("Kubernetes: {0}")]
    Kubernetes(#[from] kube::Error),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("Kubernetes did not answer within {0:?}")]
    Timeout(Duration),
}

/// The kinds the engine touches.
#[derive(Clone, Copy)]
enum Kind {
    Namespace,
    Quota,
    NetworkPolicy,
    Secret,
    Job,
    Cassandra,
    Postgres,
}

impl Kind {
    fn resource(self) -> ApiResource {
        let (group, version, kind, plural) = match self {
            Kind::Namespace => ("", "v1", "Namespace", "namespaces"),
            Kind::Quota => ("", "v1", "ResourceQuota", "resourcequotas"),
            Kind::NetworkPolicy => (
                "networking.k8s.io",
                "v1",
                "NetworkPolicy",
                "networkpolicies",
            ),
            Kind::Secret => ("", "v1", "Secret", "secrets"),
            Kind::Job => ("batch", "v1", "Job", "jobs"),
            Kind::Cassandra => (
                "cassandra.datastax.com",
                "v1beta1",
                "CassandraDatacenter",
                "cassandradatacenters",
            ),
            Kind::Postgres => ("postgresql.cnpg.io", "v1", "Cluster", "clusters"),
        };
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
    }

    fn operator(engine: DbEngine) -> Kind {
        match engine {
            DbEngine::Cassandra => Kind::Cassandra,
            DbEngine::Postgresql => Kind::Postgres,
        }
    }
}

/// What the engine remembers between passes: retries per database.
#[derive(Default)]
struct Backoff {
    attempts: u32,
    next_try: Option<Instant>,
}

pub struct ProvisioningEngine {
    store: Arc<dyn Store>,
    client: Client,
    wake: Arc<Notify>,
    backoff: Mutex<HashMap<Uuid, Backoff>>,
    /// At most this many databases are reconciled at once.
    concurrency: usize,
    /// With leader election: true while this replica holds the lease.
    leading: Option<Arc<std::sync::atomic::AtomicBool>>,
    request_timeout: Duration,
    /// Retries wait `first_backoff`, doubling, up to `max_backoff`.
    first_backoff: Duration,
    max_backoff: Duration,
    /// Only databases of this region (`None`: every database).
    region: Option<String>,
}

impl ProvisioningEngine {
    pub fn new(store: Arc<dyn Store>, client: Client) -> Self {
        ProvisioningEngine {
            store,
            client,
            wake: Arc::new(Notify::new()),
            backoff: Mutex::new(HashMap::new()),
            concurrency: 16,
            leading: None,
            request_timeout: REQUEST_TIMEOUT,
            first_backoff: FIRST_BACKOFF,
            max_backoff: MAX_BACKOFF,
            region: None,
        }
    }

    /// Provisions only the databases of `region`: its client is that
    /// region's cluster.
    pub fn for_region(mut self, region: &str) -> Self {
        self.region = Some(region.to_string());
        self
    }

    /// How long one Kubernetes call may take (tests shorten it).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How retries back off (tests that inject many faults shorten it, so
    /// that a long streak of failures cannot outlast their deadline).
    pub fn with_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.first_backoff = first;
        self.max_backoff = max.max(first);
        self
    }

    /// `call`, failed with [`EngineError::Timeout`] when it outlasts the limit.
    async fn within_timeout<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        tokio::time::timeout(self.request_timeout, call)
            .await
            .unwrap_or(Err(EngineError::Timeout(self.request_timeout)))
    }

    /// Acts only while `leading` is true (see `leader.rs`).
    pub fn with_leader(mut self, leading: Arc<std::sync::atomic::AtomicBool>) -> Self {
        self.leading = Some(leading);
        self
    }

    fn is_leading(&self) -> bool {
        self.leading
            .as_ref()
            .is_none_or(|leading| leading.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// Wakes the engine at once (a database was created or changed).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Works until `stop` resolves.
    pub async fn run(self: Arc<Self>, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            if let Err(error) = self.pass().await {
                tracing::warn!(%error, "provisioning pass failed; trying again");
            }
            tokio::select! {
                () = &mut stop => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(TICK) => {}
            }
        }
    }

    /// One pass over every unsettled database; returns how many it reconciled.
    pub async fn pass(&self) -> Result<usize, EngineError> {
        if !self.is_leading() {
            return Ok(0);
        }
        let databases = self.store.unsettled_databases(10_000).await?;
        let now = Instant::now();
        let due: Vec<DatabaseRecord> = {
            let backoff = self.backoff.lock().await;
            databases
                .into_iter()
                .filter(|db| {
                    self.region
                        .as_ref()
                        .is_none_or(|region| *region == db.region)
                })
                .filter(|db| {
                    backoff
                        .get(&db.id)
                        .and_then(|b| b.next_try)
                        .is_none_or(|at| at <= now)
                })
                .collect()
        };
        let count = due.len();
        let mut work = futures_util::stream::iter(due.into_iter().map(|db| async move {
            let id = db.id;
            let outcome = self.reconcile(&db).await;
            let mut backoff = self.backoff.lock().await;
            match outcome {
                Ok(_) => {
                    backoff.remove(&id);
                }
                Err(error) => {
                    let entry = backoff.entry(id).or_default();
                    entry.attempts += 1;
                    let delay = self
                        .first_backoff
                        .saturating_mul(1 << entry.attempts.min(8))
                        .min(self.max_backoff);
                    entry.next_try = Some(Instant::now() + delay);
                    tracing::warn!(database = %id, %error, attempt = entry.attempts, "reconcile failed; retrying in {delay:?}");
                }
            }
        }))
        .buffer_unordered(self.concurrency);
        use futures_util::StreamExt as _;
        while work.next().await.is_some() {}
        Ok(count)
    }

    /// Brings one database one step closer to its desired state.
    pub async fn reconcile(&self, db: &DatabaseRecord) -> Result<Decision, EngineError> {
        let previous: Status = db.status.parse().unwrap_or(Status::Pending);
        let spec = match database_spec(db) {
            Ok(spec) => spec,
            Err(reason) => {
                // A spec that can never work goes to ERROR at once.
                let decision = Decision {
                    actions: Vec::new(),
                    status: Status::Error,
                    message: Some(reason),
                    settled: true,
                };
                self.report(db, &decision, db.configured).await?;
                return Ok(decision);
            }
        };
        let intent: Intent = db.intent.parse().unwrap_or(Intent::Running);
        let observed = match self.within_timeout(self.observe(&spec)).await {
            Ok(observed) => observed,
            Err(error) => {
                // Say so on the database's page while the retries go on.
                let waiting = Decision {
                    actions: Vec::new(),
                    status: previous,
                    message: Some(format!(
                        "cannot read the database's objects from Kubernetes ({error}); retrying"
                    )),
                    settled: false,
                };
                self.report(db, &waiting, db.configured).await?;
                return Err(error);
            }
        };
        let desired = Desired {
            intent,
            spec_hash: objects::resource_hash(&spec),
            support_hash: objects::support_hash(&spec),
            configured: db.configured,
        };
        let decision = plan::decide(&desired, &observed, previous);
        let mut configured = db.configured;
        let mut progressed = false;
        for action in &decision.actions {
            if !self.is_leading() {
                // The lease went to another replica: it carries on from here.
                return Ok(decision);
            }
            let attempt = self.attempt(db.id).await;
            let step = self
                .store
                .start_step(db.id, step_name(*action), attempt)
                .await?;
            match self.within_timeout(self.execute(*action, &spec)).await {
                Ok(()) => {
                    self.store.finish_step(step, "success", None).await?;
                    if *action == Action::MarkConfigured {
                        configured = true;
                    }
                    progressed = true;
                }
                Err(error) => {
                    let message = error.to_string();
                    self.store
                        .finish_step(step, "failure", Some(&message))
                        .await?;
                    let failed = Decision {
                        message: Some(format!("{}: {message}; retrying", step_name(*action))),
                        settled: false,
                        ..decision.clone()
                    };
                    self.report(db, &failed, configured).await?;
                    if progressed {
                        // Partial progress is progress: the backoff starts over.
                        self.backoff.lock().await.remove(&db.id);
                    }
                    return Err(error);
                }
            }
        }
        // Settled only when no action was needed: the next pass confirms.
        let reported = Decision {
            settled: decision.settled && decision.actions.is_empty(),
            ..decision.clone()
        };
        self.report(db, &reported, configured).await?;
        Ok(decision)
    }

    async fn attempt(&self, id: Uuid) -> i32 {
        let backoff = self.backoff.lock().await;
        i32::try_from(backoff.get(&id).map_or(0, |b| b.attempts)).unwrap_or(i32::MAX) + 1
    }

    async fn report(
        &self,
        db: &DatabaseRecord,
        decision: &Decision,
        configured: bool,
    ) -> Result<(), EngineError> {
        let status = decision.status.as_str().to_string();
        let unchanged = db.status == status
            && db.status_message == decision.message
            && db.settled == decision.settled
            && db.configured == configured;
        if !unchanged {
            self.store
                .update_database_state(
                    db.id,
                    DatabaseState {
                        status,
                        message: decision.message.clone(),
                        settled: decision.settled,
                        configured,
                    },
                )
                .await?;
        }
        Ok(())
    }

    fn api(&self, kind: Kind, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(namespace) => {
                Api::namespaced_with(self.client.clone(), namespace, &kind.resource())
            }
            None => Api::all_with(self.client.clone(), &kind.resource()),
        }
    }

    async fn get(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, EngineError> {
        let object = self.api(kind, namespace).get_opt(name).await?;
        Ok(object.map(|object| serde_json::to_value(object).unwrap_or(Value::Null)))
    }

    async fn observe(&self, spec: &DatabaseSpec) -> Result<Observed, EngineError> {
        let namespace = spec.namespace();
        let ns = Some(namespace.as_str());
        let hash = |object: &Option<Value>| {
            object.as_ref().and_then(|object| {
                object["metadata"]["annotations"][SPEC_HASH]
                    .as_str()
                    .map(str::to_string)
            })
        };
        let namespace_object = self.get(Kind::Namespace, None, &namespace).await?;
        let presence = match &namespace_object {
            None => Presence::Absent,
            Some(object) if object["metadata"].get("deletionTimestamp").is_some() => {
                Presence::Terminating
            }
            Some(_) => Presence::Present,
        };
        if presence == Presence::Absent {
            return Ok(Observed::default());
        }
        let quota = self.get(Kind::Quota, ns, "dscloud-quota").await?;
        let network_policy = self
            .get(Kind::NetworkPolicy, ns, "dscloud-isolation")
            .await?;
        let credentials = self
            .get(Kind::Secret, ns, objects::CREDENTIALS_SECRET)
            .await?;
        let resource = self
            .get(Kind::operator(spec.engine), ns, objects::RESOURCE_NAME)
            .await?
            .map(|object| Resource {
                spec_hash: object["metadata"]["annotations"][SPEC_HASH]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                deleting: object["metadata"].get("deletionTimestamp").is_some(),
                readiness: readiness(spec.engine, &object),
            });
        let configure_job = self
            .get(Kind::Job, ns, objects::CONFIGURE_JOB)
            .await?
            .map(|job| job_state(&job));
        Ok(Observed {
            namespace: presence,
            quota: hash(&quota),
            network_policy: hash(&network_policy),
            credentials: credentials.map(|_| "present".to_string()),
            resource,
            configure_job,
        })
    }

    async fn apply(&self, kind: Kind, object: &Value) -> Result<(), EngineError> {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let namespace = object["metadata"]["namespace"].as_str();
        self.api(kind, namespace)
            .patch(
                name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(object),
            )
            .await?;
        Ok(())
    }

    async fn delete(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<(), EngineError> {
        match self
            .api(kind, namespace)
            .delete(name, &DeleteParams::background())
            .await
        {
            Ok(_) => Ok(()),
            // Already gone: what we wanted.
            Err(kube::Error::Api(response)) if response.code == 404 => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    async fn execute(&self, action: Action, spec: &DatabaseSpec) -> Result<(), EngineError> {
        let namespace = spec.namespace();
        match action {
            Action::ApplyNamespace => self.apply(Kind::Namespace, &objects::namespace(spec)).await,
            Action::ApplyQuota => self.apply(Kind::Quota, &objects::quota(spec)).await,
            Action::ApplyNetworkPolicy => {
                self.apply(Kind::NetworkPolicy, &objects::network_policy(spec))
                    .await
            }
            Action::ApplyCredentials => {
                // Generated here, written to Kubernetes only: the portal keeps no copy.
                let password = crate::auth::password::generate();
                self.apply(Kind::Secret, &objects::credentials(spec, &password))
                    .await
            }
            Action::ApplyResource => {
                self.apply(
                    Kind::operator(spec.engine),
                    &objects::operator_resource(spec),
                )
                .await
            }
            Action::StartConfigureJob => self.apply(Kind::Job, &objects::configure_job(spec)).await,
            Action::DeleteConfigureJob => {
                self.delete(Kind::Job, Some(&namespace), objects::CONFIGURE_JOB)
                    .await
            }
            Action::MarkConfigured => Ok(()),
            Action::DeleteResource => {
                self.delete(
                    Kind::operator(spec.engine),
                    Some(&namespace),
                    objects::RESOURCE_NAME,
                )
                .await
            }
            Action::DeleteNamespace => self.delete(Kind::Namespace, None, &namespace).await,
        }
    }
}

fn job_state(job: &Value) -> JobState {
    let failed = job["status"]["conditions"]
        .as_array()
        .and_then(|conditions| {
            conditions
                .iter()
                .find(|c| c["type"] == "Failed" && c["status"] == "True")
        });
    if let Some(condition) = failed {
        return JobState::Failed(
            condition["message"]
                .as_str()
                .unwrap_or("the job failed")
                .to_string(),
        );
    }
    if job["status"]["succeeded"].as_i64().unwrap_or(0) >= 1 {
        JobState::Succeeded
    } else {
        JobState::Running
    }
}

/// The objects' inputs from the store's record; an error names what is wrong.
pub fn database_spec(db: &DatabaseRecord) -> Result<DatabaseSpec, String> {
    let engine: DbEngine = db.engine.parse()?;
    let tier = *app::databases::tier(&db.tier)
        .ok_or_else(|| format!("unknown size tier {:?}", db.tier))?;
    Ok(DatabaseSpec {
        id: db.id,
        owner_id: db.owner_id,
        name: db.name.clone(),
        engine,
        tier,
        schema_name: db.schema_name.clone(),
        parked: db.intent == Intent::Parked.as_str(),
    })
}

/// The step's name on the database's timeline.
pub fn step_name(action: Action) -> &'static str {
    match action {
        Action::ApplyNamespace => "namespace",
        Action::ApplyQuota => "resource quota",
        Action::ApplyNetworkPolicy => "network policy",
        Action::ApplyCredentials => "credentials",
        Action::ApplyResource => "operator resource",
        Action::StartConfigureJob => "configuration job",
        Action::DeleteConfigureJob => "configuration job cleanup",
        Action::MarkConfigured => "configured",
        Action::DeleteResource => "delete operator resource",
        Action::DeleteNamespace => "delete namespace",
    }
}
