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

use super::build::{self, BuildTarget};
use super::health::{self, JobEnd};
use super::objects::{self, Release, Subject};
use super::plan::{self, Admission, Environment, Input, Observed, Rollout, Run, RunState};
use crate::cluster::{Cluster, ClusterError, Kind};
use crate::engine::{Failure, Handle, Next, Reconciler, Runner, RunnerSettings, Term};
use crate::store::{AppRecord, DeploymentRecord, Reported, Store, StoreError};

/// One app in one environment.
pub type Key = (Uuid, String);

/// An environment where the engine deploys: its place in the promotion
/// order, its cluster, its rollout deadline.
#[derive(Clone)]
pub struct Site {
    pub name: String,
    /// The region whose cluster it is.
    pub region: String,
    pub cluster: Cluster,
    pub rollout_deadline: Duration,
}

pub struct Deployer {
    store: Arc<dyn Store>,
    sites: Vec<Site>,
    registry: String,
    /// Its own runner's wake-up: a success wakes the next environment.
    wake: OnceLock<Handle<Key>>,
    /// Cluster failures in a row after which a deployment is `Errored`.
    errored_after: u32,
}

#[derive(Debug, thiserror::Error)]
enum DeployError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
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
            registry,
            wake: OnceLock::new(),
            errored_after: 8,
        }
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
        let Some(active) = state.active else {
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
            let observed = self.observe(&context, &active).await?;
            let plan = plan::step(&Input {
                deployment: &active,
                current: state.current.as_ref(),
                environment: &planning,
                observed,
                now: Utc::now(),
            });
            self.act(&context, &active, &plan, term).await?;
            Ok::<_, DeployError>(plan)
        };
        let plan = match work.await {
            Ok(plan) => plan,
            Err(DeployError::Cluster(error)) if attempt + 1 >= self.errored_after => {
                tracing::warn!(app = %app.name, %environment, %error, "deployment errored");
                let progress = plan::errored(&active, &error.to_string());
                self.store
                    .progress_deployment(term.fence(), active.id, active.revision, &progress)
                    .await?;
                return Ok(Next::Again);
            }
            Err(error) => return Err(error),
        };
        let next = match (&plan.progress, &plan.rollback) {
            (Some(progress), Some(rollback)) => {
                tracing::info!(app = %app.name, %environment, reason = ?progress.reason, "deployment failed; rolling back");
                self.store
                    .fail_and_roll_back(
                        term.fence(),
                        active.id,
                        active.revision,
                        progress,
                        rollback,
                    )
                    .await?;
                Next::Again
            }
            (Some(progress), None) => {
                let written = self
                    .store
                    .progress_deployment(term.fence(), active.id, active.revision, progress)
                    .await?;
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
        };
        let objects = objects::release(&file, &subject, &images).map_err(|error| {
            DeployError::Store(StoreError::Corrupt(format!(
                "release {} cannot be rendered: {error}",
                deployment.sha
            )))
        })?;
        let namespace = Release::namespace(&subject);
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
        })
    }

    async fn observe(
        &self,
        context: &Context<'_>,
        deployment: &DeploymentRecord,
    ) -> Result<Observed, DeployError> {
        let cluster = &context.site.cluster;
        Ok(match deployment.status {
            DeploymentStatus::Queued | DeploymentStatus::AwaitingApproval => Observed::Queued {
                missing_images: context.missing_images.clone(),
            },
            DeploymentStatus::Building => {
                let mut builds = Vec::new();
                for component in &context.missing_images {
                    let target = self.build_target(context, deployment, component);
                    let name = target.job_name();
                    let state = observe_job(cluster, build::BUILD_NAMESPACE, &name, true).await?;
                    builds.push(Run {
                        name: component.clone(),
                        object: format!("Job/{name}"),
                        state,
                    });
                }
                Observed::Building(builds)
            }
            DeploymentStatus::Deploying => Observed::Deploying,
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
            _ => Observed::Deploying,
        })
    }

    async fn act(
        &self,
        context: &Context<'_>,
        deployment: &DeploymentRecord,
        plan: &plan::Plan,
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
                    let labels = objects::engine_labels(context.app.id, &context.site.name);
                    cluster
                        .apply(Kind::NAMESPACE, &build::namespace(labels.clone()))
                        .await?;
                    for component in &plan.create {
                        let target = self.build_target(context, deployment, component);
                        cluster
                            .create(Kind::JOB, &build::job(&target, labels.clone()))
                            .await?;
                    }
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
            self.apply_and_prune(context, deployment).await?;
        }
        for (component, digest) in &plan.images {
            let target = self.build_target(context, deployment, component);
            self.store
                .record_release_image(deployment.release_id, component, &target.by_digest(digest))
                .await?;
        }
        Ok(())
    }

    /// Applies the release's objects (server-side, one field manager) and
    /// deletes what the engine made for this app there that the release no
    /// longer has (and the Jobs of other commits).
    async fn apply_and_prune(
        &self,
        context: &Context<'_>,
        deployment: &DeploymentRecord,
    ) -> Result<(), DeployError> {
        let cluster = &context.site.cluster;
        for (kind, object) in &context.objects.applied {
            cluster.apply(*kind, object).await?;
        }
        let selector = objects::app_selector(context.app.id);
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

    fn build_target<'a>(
        &'a self,
        context: &'a Context<'_>,
        deployment: &'a DeploymentRecord,
        component: &'a str,
    ) -> BuildTarget<'a> {
        BuildTarget {
            app: &context.app.name,
            component,
            commit: &deployment.sha,
            registry: &self.registry,
            repository_url: &context.app.repository_url,
        }
    }
}

struct Context<'a> {
    app: &'a AppRecord,
    site: &'a Site,
    objects: Release,
    namespace: String,
    missing_images: Vec<String>,
}

/// A Job as a run: missing, running, or ended with its exit code, log
/// tail and (for a build) digest.
async fn observe_job(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    build: bool,
) -> Result<RunState, ClusterError> {
    let Some(job) = cluster.get(Kind::JOB, Some(namespace), name).await? else {
        return Ok(RunState::Missing);
    };
    let end = health::job(&job);
    if end == JobEnd::Running {
        return Ok(RunState::Running);
    }
    let pod = cluster
        .list(Kind::POD, namespace, &format!("job-name={name}"))
        .await?
        .into_iter()
        .next();
    let (exit_code, message) = pod
        .as_ref()
        .and_then(health::terminated)
        .map_or((None, None), |(code, message)| (Some(code), message));
    let log = match pod
        .as_ref()
        .and_then(|pod| pod["metadata"]["name"].as_str())
    {
        Some(pod) => cluster
            .log_tail(namespace, pod, plan::LOG_TAIL_LINES as i64)
            .await
            .unwrap_or_default(),
        None => String::new(),
    };
    Ok(match end {
        JobEnd::Complete => RunState::Succeeded {
            digest: message
                .filter(|_| build)
                .as_deref()
                .and_then(build::digest_of),
            log,
        },
        JobEnd::Failed(reason) => RunState::Failed {
            exit_code,
            reason,
            log,
        },
        JobEnd::Running => RunState::Running,
    })
}

#[async_trait]
impl Reconciler for Deployer {
    type Key = Key;

    fn name(&self) -> &'static str {
        "deploy"
    }

    async fn pending(&self) -> Result<Vec<Key>, Failure> {
        self.store
            .deploy_pending(&self.environment_names())
            .await
            .map_err(|error| Failure::Retry(format!("store: {error}")))
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
