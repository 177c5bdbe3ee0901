//! The deploy engine's IO: reads an environment's state from the store and
//! what its cluster shows, asks the planner, acts, and records. One item
//! is one app in one environment; the shared runner does the rest.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use app::deploys::DeploymentStatus;
use async_trait::async_trait;
use chrono::Utc;
use uuid::Uuid;

use super::build;
use super::health;
use super::objects::{self, Release, Subject};
use super::plan::{self, Admission, Environment, Input, Observed, Rollout, Run};
use crate::cluster::{Cluster, ClusterError, Kind};
use crate::crypto::Keyring;
use crate::engine::{Failure, Handle, Next, Reconciler, Runner, RunnerSettings, Term};
use crate::registry::{Registry, RegistryError};
use crate::secrets::sync::{self as secret_sync, Desired};
use crate::store::{
    AppRecord, DeploymentRecord, Progress, Reported, SecretSlot, Store, StoreError,
};
use jobs::observe_job;

mod builds;
mod jobs;
mod secrets;

/// One app in one environment.
pub type Key = (Uuid, String);

/// How long an image external CI builds may take to appear in the
/// registry, unless configured (`--image-deadline`): as long as a build
/// the portal runs may take.
pub const DEFAULT_IMAGE_DEADLINE: Duration =
    Duration::from_secs(build::BUILD_DEADLINE_SECONDS as u64);

/// An environment where the engine deploys: its place in the promotion
/// order, its cluster, its rollout deadline.
#[derive(Clone)]
pub struct Site {
    pub name: String,
    /// The region whose cluster it is.
    pub region: String,
    pub cluster: Cluster,
    pub rollout_deadline: Duration,
    /// The host and class of the apps' Ingresses there.
    pub ingress: crate::manifests::IngressSettings,
}

pub struct Deployer {
    store: Arc<dyn Store>,
    sites: Vec<Site>,
    registry: String,
    /// Asked for the images external CI pushes (`None`: the registry's
    /// name is not an address, and such apps' builds wait in vain).
    registry_client: Option<Arc<Registry>>,
    /// How long an image external CI builds may take to appear.
    image_deadline: Duration,
    /// Opens the secrets developers set; without one, none can be read.
    keyring: Option<Arc<Keyring>>,
    /// Its own runner's wake-up: a success wakes the next environment.
    wake: OnceLock<Handle<Key>>,
    /// Cluster failures in a row after which a deployment is `Errored`.
    errored_after: u32,
}

#[derive(Debug, thiserror::Error)]
enum DeployError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl From<DeployError> for Failure {
    fn from(error: DeployError) -> Failure {
        match error {
            DeployError::Store(StoreError::Deposed { .. }) => Failure::Deposed(error.to_string()),
            other => Failure::Retry(other.to_string()),
        }
    }
}

impl Deployer {
    pub fn new(store: Arc<dyn Store>, sites: Vec<Site>, registry: String) -> Self {
        Deployer {
            store,
            sites,
            registry_client: Registry::new(&registry, None).ok().map(Arc::new),
            registry,
            image_deadline: DEFAULT_IMAGE_DEADLINE,
            keyring: None,
            wake: OnceLock::new(),
            errored_after: 8,
        }
    }

    /// Opens the secrets it writes into the environments.
    pub fn with_keyring(mut self, keyring: Arc<Keyring>) -> Self {
        self.keyring = Some(keyring);
        self
    }

    /// The registry to ask for images external CI pushes (with its credentials).
    pub fn with_registry_client(mut self, registry: Arc<Registry>) -> Self {
        self.registry_client = Some(registry);
        self
    }

    /// How long an image external CI builds may take to appear in the registry.
    pub fn image_deadline(mut self, deadline: Duration) -> Self {
        self.image_deadline = deadline;
        self
    }

    /// After this many cluster failures in a row a deployment is `Errored`.
    pub fn errored_after(mut self, failures: u32) -> Self {
        self.errored_after = failures.max(1);
        self
    }

    pub fn environment_names(&self) -> Vec<String> {
        self.sites.iter().map(|site| site.name.clone()).collect()
    }

    pub fn sites(&self) -> &[Site] {
        &self.sites
    }

    /// On the shared runner.
    pub fn runner(
        self,
        settings: RunnerSettings,
        leadership: Option<Arc<crate::engine::Leadership>>,
    ) -> Arc<Runner<Deployer>> {
        let mut runner = Runner::new(self, settings);
        if let Some(leadership) = leadership {
            runner = runner.with_leadership(leadership);
        }
        let runner = Arc::new(runner);
        let _ = runner.reconciler().wake.set(runner.handle());
        runner
    }

    fn wake(&self, key: Key) {
        if let Some(handle) = self.wake.get() {
            handle.changed(key);
        }
    }

    async fn reconcile_environment(
        &self,
        (app_id, environment): &Key,
        term: &Term,
        attempt: u32,
    ) -> Result<Next, DeployError> {
        let Some(position) = self.sites.iter().position(|site| &site.name == environment) else {
            return Ok(Next::Done);
        };
        let site = &self.sites[position];
        let previous = position
            .checked_sub(1)
            .map(|index| self.sites[index].name.as_str());
        let planning = Environment {
            name: &site.name,
            previous,
            rollout_deadline: site.rollout_deadline,
            image_deadline: self.image_deadline,
        };
        let state = self
            .store
            .environment_state(*app_id, environment, previous)
            .await?;
        if let Admission::Enqueue {
            deployment,
            superseded,
            replacing,
        } = plan::admit(*app_id, &planning, &state)
        {
            self.store
                .enqueue_deployment(term.fence(), &deployment, &superseded, replacing)
                .await?;
            return Ok(Next::Again);
        }
        let Some(active) = state.active.clone() else {
            self.resync_secrets(*app_id, environment, &state, term)
                .await?;
            return Ok(Next::Done);
        };
        if active.status == DeploymentStatus::AwaitingApproval {
            return Ok(Next::Done);
        }
        let app = match self.store.app(*app_id).await {
            Ok(app) => app,
            Err(StoreError::NotFound) => return Ok(Next::Done),
            Err(error) => return Err(error.into()),
        };
        let work = async {
            let context = self.context(&app, site, &active).await?;
            let (observed, desired) = self.observe(&context, &active).await?;
            let plan = plan::step(&Input {
                deployment: &active,
                current: state.current.as_ref(),
                environment: &planning,
                observed,
                now: Utc::now(),
            });
            self.act(&context, &active, &plan, desired.as_ref(), term)
                .await?;
            Ok::<_, DeployError>(plan)
        };
        let plan = match work.await {
            Ok(plan) => plan,
            Err(error @ (DeployError::Cluster(_) | DeployError::Registry(_)))
                if attempt + 1 >= self.errored_after =>
            {
                tracing::warn!(app = %app.name, %environment, %error, "deployment errored");
                let failing = match error {
                    DeployError::Registry(_) => "the registry",
                    _ => "the cluster",
                };
                let progress = plan::errored(&active, failing, &error.to_string());
                let written = self
                    .store
                    .progress_deployment(term.fence(), active.id, active.revision, &progress)
                    .await?;
                count_ended(written, environment, &progress);
                return Ok(Next::Again);
            }
            Err(error) => return Err(error),
        };
        let next = match (&plan.progress, &plan.rollback) {
            (Some(progress), Some(rollback)) => {
                tracing::info!(app = %app.name, %environment, reason = ?progress.reason, "deployment failed; rolling back");
                let written = self
                    .store
                    .fail_and_roll_back(
                        term.fence(),
                        active.id,
                        active.revision,
                        progress,
                        rollback,
                    )
                    .await?;
                count_ended(written, environment, progress);
                Next::Again
            }
            (Some(progress), None) => {
                let written = self
                    .store
                    .progress_deployment(term.fence(), active.id, active.revision, progress)
                    .await?;
                count_ended(written, environment, progress);
                if written == Reported::Applied && progress.status != active.status {
                    tracing::info!(app = %app.name, %environment, status = progress.status.as_str(), "deployment progressed");
                }
                if written == Reported::Applied
                    && plan.succeeded
                    && let Some(next) = self.sites.get(position + 1)
                {
                    self.wake((*app_id, next.name.clone()));
                }
                Next::Again
            }
            (None, _) => plan.wait.map_or(Next::Done, Next::After),
        };
        Ok(next)
    }

    /// Everything one reconcile of a deployment needs to know about it.
    async fn context<'a>(
        &self,
        app: &'a AppRecord,
        site: &'a Site,
        deployment: &'a DeploymentRecord,
    ) -> Result<Context<'a>, DeployError> {
        let release = self.store.release(app.id, &deployment.sha).await?;
        let file = release
            .dscloud_yaml
            .as_deref()
            .and_then(|text| app::dscloud::check(text).file)
            .unwrap_or_default();
        let images = self.store.release_images(deployment.release_id).await?;
        let subject = Subject {
            app_id: app.id,
            app: &app.name,
            environment: &site.name,
            commit: &deployment.sha,
            release_id: deployment.release_id,
            registry: &self.registry,
            ingress: Some(&site.ingress),
        };
        let objects = objects::release(&file, &subject, &images).map_err(|error| {
            DeployError::Store(StoreError::Corrupt(format!(
                "release {} cannot be rendered: {error}",
                deployment.sha
            )))
        })?;
        let namespace = Release::namespace(&subject);
        let expected_secrets = crate::secrets::expected(&file, &site.name)
            .into_keys()
            .collect();
        let missing_images = build::components(&file)
            .into_iter()
            .filter(|component| !images.contains_key(component))
            .collect();
        Ok(Context {
            app,
            site,
            objects,
            namespace,
            missing_images,
            expected_secrets,
        })
    }

    /// What the deployment's status looks at; about to apply, the
    /// environment's secrets opened too.
    async fn observe(
        &self,
        context: &Context<'_>,
        deployment: &DeploymentRecord,
    ) -> Result<(Observed, Option<Desired>), DeployError> {
        let cluster = &context.site.cluster;
        let observed = match deployment.status {
            DeploymentStatus::Queued | DeploymentStatus::AwaitingApproval => {
                let latest = self.latest_secrets(context).await?;
                Observed::Queued {
                    missing_images: context.missing_images.clone(),
                    missing_secrets: secret_sync::missing(&context.expected_secrets, &latest),
                }
            }
            DeploymentStatus::Deploying => {
                let latest = self.latest_secrets(context).await?;
                return Ok(match self.open_secrets(context, &latest) {
                    Ok(desired) => (
                        Observed::Deploying {
                            unreadable_secrets: None,
                        },
                        Some(desired),
                    ),
                    Err(reason) => {
                        tracing::error!(app = %context.app.name, environment = %context.site.name, %reason, "deploy: a secret does not open");
                        (
                            Observed::Deploying {
                                unreadable_secrets: Some(reason),
                            },
                            None,
                        )
                    }
                });
            }
            DeploymentStatus::Building => self.observe_builds(context, deployment).await?,
            DeploymentStatus::RollingOut => {
                let mut workloads = Vec::new();
                for (kind, name) in &context.objects.workloads {
                    let object = cluster.get(*kind, Some(&context.namespace), name).await?;
                    workloads.push(Rollout {
                        object: format!("{}/{name}", kind.kind),
                        health: health::workload(object.as_ref()),
                    });
                }
                Observed::RollingOut(workloads)
            }
            DeploymentStatus::RunningJobs => {
                let mut runs = Vec::new();
                for name in context.objects.jobs.keys() {
                    let state = observe_job(cluster, &context.namespace, name, false).await?;
                    runs.push(Run {
                        name: name.clone(),
                        object: format!("Job/{name}"),
                        state,
                    });
                }
                Observed::RunningJobs(runs)
            }
            DeploymentStatus::Testing => {
                let mut runs = Vec::new();
                for (microservice, job) in &context.objects.tests {
                    let name = job["metadata"]["name"].as_str().unwrap_or_default();
                    let state = observe_job(cluster, &context.namespace, name, false).await?;
                    runs.push(Run {
                        name: microservice.clone(),
                        object: format!("Job/{name}"),
                        state,
                    });
                }
                Observed::Testing(runs)
            }
            // Finished: nothing to look at (not reached: only active ones are read).
            _ => Observed::Deploying {
                unreadable_secrets: None,
            },
        };
        Ok((observed, None))
    }

    async fn act(
        &self,
        context: &Context<'_>,
        deployment: &DeploymentRecord,
        plan: &plan::Plan,
        desired: Option<&Desired>,
        term: &Term,
    ) -> Result<(), DeployError> {
        let cluster = &context.site.cluster;
        let acts_in_cluster = !plan.create.is_empty() || plan.apply;
        if acts_in_cluster && !term.still_leading() {
            return Err(StoreError::Deposed {
                lease: super::LEASE_KEY.into(),
                term: term.fence().map_or(0, |fence| fence.term),
            }
            .into());
        }
        if !plan.create.is_empty() {
            match deployment.status {
                DeploymentStatus::Building => {
                    self.create_builds(context, deployment, &plan.create)
                        .await?;
                }
                DeploymentStatus::RunningJobs => {
                    for name in &plan.create {
                        if let Some(job) = context.objects.jobs.get(name) {
                            cluster.create(Kind::JOB, job).await?;
                        }
                    }
                }
                DeploymentStatus::Testing => {
                    for microservice in &plan.create {
                        if let Some(job) = context.objects.tests.get(microservice) {
                            cluster.create(Kind::JOB, job).await?;
                        }
                    }
                }
                _ => {}
            }
        }
        if plan.apply {
            // `apply` comes only from a Deploying observation, which opened
            // the secrets: never apply without them.
            let desired = desired.ok_or_else(|| {
                StoreError::Corrupt("the secrets were not read before applying".to_string())
            })?;
            self.store
                .record_secret_versions(term.fence(), deployment.id, &desired.versions)
                .await?;
            self.apply_and_prune(context, deployment, desired).await?;
            self.store
                .mark_secrets_synced(
                    term.fence(),
                    context.app.id,
                    &context.site.name,
                    desired.through,
                )
                .await?;
        }
        for (component, digest) in &plan.images {
            let target = self.build_target(context, deployment, component);
            self.store
                .record_release_image(deployment.release_id, component, &target.by_digest(digest))
                .await?;
        }
        Ok(())
    }

    /// Applies the release's objects (server-side, one field manager): the
    /// namespace, the Secrets, then the rest with their pod templates
    /// stamped with the secret versions they read; then deletes what the
    /// engine made for this app there that the release no longer has (and
    /// the Jobs of other commits, and Secrets no value lives in any more).
    async fn apply_and_prune(
        &self,
        context: &Context<'_>,
        deployment: &DeploymentRecord,
        desired: &Desired,
    ) -> Result<(), DeployError> {
        let cluster = &context.site.cluster;
        let (namespaces, rest): (Vec<_>, Vec<_>) = context
            .objects
            .applied
            .iter()
            .partition(|(kind, _)| *kind == Kind::NAMESPACE);
        for (_, namespace) in namespaces {
            cluster.apply_namespace(namespace).await?;
        }
        let labels = objects::engine_labels(context.app.id, &context.site.name);
        let secrets = secret_sync::objects(desired, &context.namespace, &labels);
        for secret in &secrets {
            cluster.apply(Kind::SECRET, secret).await?;
        }
        let selector = objects::app_selector(context.app.id);
        for secret in cluster
            .list(Kind::SECRET, &context.namespace, &selector)
            .await?
        {
            let name = secret["metadata"]["name"].as_str().unwrap_or_default();
            if !desired.secrets.contains_key(name) && !crate::cluster::is_deleting(&secret) {
                cluster
                    .delete(Kind::SECRET, Some(&context.namespace), name)
                    .await?;
            }
        }
        for (kind, object) in rest {
            let mut object = object.clone();
            secret_sync::stamp(&mut object, &desired.versions);
            cluster.apply(*kind, &object).await?;
        }
        for kind in objects::PRUNED {
            for object in cluster.list(kind, &context.namespace, &selector).await? {
                let name = object["metadata"]["name"].as_str().unwrap_or_default();
                let keep = if kind == Kind::JOB {
                    object["metadata"]["labels"][crate::manifests::labels::COMMIT]
                        == deployment.sha.as_str()
                } else {
                    context.objects.applied.iter().any(|(applied, wanted)| {
                        *applied == kind && wanted["metadata"]["name"] == name
                    })
                };
                if !keep && !crate::cluster::is_deleting(&object) {
                    cluster.delete(kind, Some(&context.namespace), name).await?;
                }
            }
        }
        Ok(())
    }
}

struct Context<'a> {
    app: &'a AppRecord,
    site: &'a Site,
    objects: Release,
    namespace: String,
    missing_images: Vec<String>,
    /// What the release reads from Secrets in this environment.
    expected_secrets: Vec<SecretSlot>,
}

#[async_trait]
impl Reconciler for Deployer {
    type Key = Key;

    fn name(&self) -> &'static str {
        "deploy"
    }

    async fn pending(&self) -> Result<Vec<Key>, Failure> {
        let environments = self.environment_names();
        let store_failed = |error: StoreError| Failure::Retry(format!("store: {error}"));
        let mut pending = self
            .store
            .deploy_pending(&environments)
            .await
            .map_err(store_failed)?;
        // A secret changed and not yet in the cluster: its environment too.
        for key in self
            .store
            .unsynced_secrets(&environments)
            .await
            .map_err(store_failed)?
        {
            if !pending.contains(&key) {
                pending.push(key);
            }
        }
        Ok(pending)
    }

    async fn reconcile(&self, key: &Key, term: &Term, attempt: u32) -> Result<Next, Failure> {
        Ok(self.reconcile_environment(key, term, attempt).await?)
    }
}

/// The labels of a watched object, as the item it wakes.
pub fn key_of(labels: &BTreeMap<String, String>) -> Option<Key> {
    let app = labels
        .get(objects::APP_ID_LABEL)
        .and_then(|id| Uuid::parse_str(id).ok())?;
    let environment = labels.get(crate::manifests::labels::ENVIRONMENT)?;
    Some((app, environment.clone()))
}

/// `dscloud_release_total{env,result}`: a deployment whose end was written
/// (a stale or deposed write ended nothing).
fn count_ended(written: Reported, environment: &str, progress: &Progress) {
    let ended = matches!(
        progress.status,
        DeploymentStatus::Succeeded | DeploymentStatus::Failed | DeploymentStatus::Errored
    );
    if written == Reported::Applied && ended {
        crate::metrics::release_ended(environment, &progress.status.as_str().to_lowercase());
    }
}
