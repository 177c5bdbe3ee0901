//! The deploy engine: every accepted release goes through the environments
//! in promotion order (build, apply and prune, rollout, Jobs, integration
//! tests), one release at a time per environment; a failure rolls that
//! environment back to what ran there and stops the promotion.
//!
//! `plan` decides (pure, tested without a cluster); `objects` and `build`
//! make what is written (pure); `health` reads Kubernetes' verdicts;
//! `engine` does the IO on the shared runner. Desired state is the store's
//! deployments table: kill the process at any moment and the next start
//! carries on from the row (Jobs are named per commit and created once).

pub mod build;
pub mod dora;
pub mod engine;
pub mod environments;
pub mod health;
pub mod objects;
pub mod plan;
pub mod service;
pub mod workloads;

use std::sync::Arc;
use std::time::Duration;

pub use engine::{DEFAULT_IMAGE_DEADLINE, Deployer, Key, Site};
pub use environments::{EnvironmentArg, known_environment, promotion_order};

use crate::cluster::{EngineName, Kind};
use crate::engine::{Handle, LeaderElector, Leadership, Runner, RunnerSettings, leader};
use crate::store::Store;

/// How the deploy engine is known in the cluster.
pub const ENGINE: EngineName = EngineName {
    label: "deploy",
    field_manager: "dscloud-deploy",
    lease: "dscloud-deploy-engine",
};

/// The engine's lease in the store's terms (one for every environment).
pub const LEASE_KEY: &str = "deploy";

/// Where images are pushed when nothing else is configured.
pub const DEFAULT_REGISTRY: &str = "registry.dscloud.local";

/// The kinds whose events wake an environment.
const WATCHED: [Kind; 3] = [Kind::DEPLOYMENT, Kind::STATEFUL_SET, Kind::JOB];

/// The deploy engine on its runner.
pub struct DeployEngine {
    runner: Arc<Runner<Deployer>>,
}

impl DeployEngine {
    pub fn new(deployer: Deployer) -> Self {
        DeployEngine::with_settings(deployer, RunnerSettings::default(), None)
    }

    /// With the runner's settings, acting only while `leadership` leads (if given).
    pub fn with_settings(
        deployer: Deployer,
        settings: RunnerSettings,
        leadership: Option<Arc<Leadership>>,
    ) -> Self {
        DeployEngine {
            runner: deployer.runner(settings, leadership),
        }
    }

    /// Wakes an app in an environment (a new release, a person's action).
    pub fn handle(&self) -> Handle<Key> {
        self.runner.handle()
    }

    /// Every unfinished item once (tests and benchmarks step with it).
    pub async fn pass(&self) -> Result<usize, crate::engine::Failure> {
        self.runner.pass().await
    }

    /// Watches what the engine made in every environment's cluster, each
    /// event waking the app and environment it belongs to.
    pub fn spawn_watches(&self) {
        let mut regions: Vec<&str> = Vec::new();
        let handle = self.handle();
        for site in self.runner.reconciler().sites() {
            // Environments sharing a cluster share its watches.
            if regions.contains(&site.region.as_str()) {
                continue;
            }
            regions.push(&site.region);
            let client = site.cluster.client().clone();
            let handle = handle.clone();
            crate::engine::watch::spawn(
                client,
                &WATCHED,
                ENGINE.selector(),
                Arc::new(move |object| {
                    let labels = object.metadata.labels.clone().unwrap_or_default();
                    if let Some(key) = engine::key_of(&labels) {
                        handle.schedule(key);
                    }
                }),
            );
        }
    }

    /// Works until `stop` resolves.
    pub async fn run(&self, stop: impl Future<Output = ()>) {
        self.runner.run(stop).await;
    }
}

/// Starts the deploy engine: it acts while this replica holds its Lease in
/// `home` (the first region's cluster). Returns its wake-up and elector.
pub fn start(
    store: Arc<dyn Store>,
    deployer: Deployer,
    home: kube::Client,
) -> (Handle<Key>, Arc<LeaderElector>) {
    let leadership = Leadership::new(LEASE_KEY);
    let elector = Arc::new(LeaderElector::new(
        home,
        &leader::namespace(),
        ENGINE.lease,
        leader::identity(),
        store,
        leadership.clone(),
    ));
    let settings = RunnerSettings {
        resync: Duration::from_secs(3),
        ..RunnerSettings::default()
    };
    let engine = DeployEngine::with_settings(deployer, settings, Some(leadership));
    engine.spawn_watches();
    crate::supervise::spawn("deploy leader election", {
        let elector = elector.clone();
        move || elector.clone().run()
    });
    let handle = engine.handle();
    let engine = Arc::new(engine);
    crate::supervise::spawn("deploy engine", move || {
        let engine = engine.clone();
        async move { engine.run(std::future::pending()).await }
    });
    (handle, elector)
}
