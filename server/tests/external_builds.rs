//! Apps whose images external CI builds: the deploy engine builds nothing,
//! waits for `<registry>/<app>/<component>:<sha>` in a real registry (the
//! history saying so), deploys it by the digest pushed, fails the release
//! when it never comes, and ends `Errored` when the registry cannot be
//! reached.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;
use std::time::Duration;

use app::caller::Caller;
use app::deploys::DeploymentStatus;
use app::roles::Role;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, ListParams};
use sandbox::{Behaviour, Sandbox};
use server::apps::service::{AppService, Registration};
use server::cluster::Cluster;
use server::crypto::Keyring;
use server::deploy::{DeployEngine, Deployer, ENGINE, Site};
use server::engine::RunnerSettings;
use server::git::Git;
use server::registry::Registry;
use server::store::{BuildMode, DeploymentQuery, DeploymentRecord, Store};

mod support;

use support::git::Repository;
use support::registry::TestRegistry;

const FILE: &str = "microservices:\n  web:\n    environmentConfiguration:\n      dev: {}\n      test: {}\n      prod: {}\n";

struct Bed {
    store: Arc<dyn Store>,
    _sandbox: Sandbox,
    /// A cluster admin's client, for the test's own reads.
    client: kube::Client,
    /// The engine's: the portal's ServiceAccount under deploy/'s roles.
    portal: support::rbac::AsPortal,
    app: uuid::Uuid,
    sha: String,
    _repository: Repository,
    _dir: tempfile::TempDir,
}

async fn bed() -> Bed {
    let (store, dir) = support::sqlite().await;
    let (sandbox, client) = support::cluster(Behaviour::instant()).await;
    let portal = support::rbac::AsPortal::install(&sandbox, &client).await;
    let keyring = Arc::new(Keyring::parse(&server::crypto::new_key_line("k1"), "test").unwrap());
    let git = Git::new(dir.path().join("git")).with_timeout(Duration::from_secs(20));
    let dana = support::user(store.as_ref(), "dana", Role::Developer).await;
    let caller = Caller {
        username: Some(dana.username.clone()),
        role: Some(Role::Developer),
        session_hash: None,
        address: None,
        user_id: Some(dana.id.to_string()),
    };
    let repository = Repository::new();
    let sha = repository.commit(&[("dscloud.yaml", FILE)], "First version");
    repository.push("main");
    let registered = AppService::new(store.clone(), keyring, git, None)
        .register(
            &caller,
            Registration {
                build: BuildMode::External,
                ..support::registration("shop", &repository.url())
            },
        )
        .await
        .unwrap();
    Bed {
        store,
        _sandbox: sandbox,
        client,
        portal,
        app: registered.app.id,
        sha,
        _repository: repository,
        _dir: dir,
    }
}

impl Bed {
    fn deployer(&self, registry: &str) -> Deployer {
        let sites = ["dev", "test", "prod"]
            .iter()
            .map(|name| Site {
                name: (*name).to_string(),
                region: "local".into(),
                cluster: Cluster::new(self.portal.client.clone(), ENGINE.field_manager)
                    .with_timeout(Duration::from_secs(5))
                    .with_secrets_access(Some(support::rbac::account())),
                rollout_deadline: Duration::from_secs(30),
                ingress: Default::default(),
            })
            .collect();
        Deployer::new(self.store.clone(), sites, registry.to_string())
            .with_registry_client(Arc::new(Registry::new(registry, None).unwrap()))
    }

    fn start(&self, deployer: Deployer) -> tokio::task::JoinHandle<()> {
        let settings = RunnerSettings {
            first_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(40),
            resync: Duration::from_millis(100),
            ..RunnerSettings::default()
        };
        let engine = Arc::new(DeployEngine::with_settings(deployer, settings, None));
        engine.spawn_watches();
        tokio::spawn(async move { engine.run(std::future::pending()).await })
    }

    async fn history(&self) -> Vec<DeploymentRecord> {
        let query = DeploymentQuery {
            app: Some(self.app),
            limit: 50,
            ..DeploymentQuery::default()
        };
        let mut items = self.store.deployments(&query).await.unwrap().items;
        items.reverse();
        items
    }

    /// Waits (at most 30 s) until the history holds what `done` looks for.
    async fn until(
        &self,
        what: &str,
        done: impl Fn(&[DeploymentRecord]) -> bool,
    ) -> Vec<DeploymentRecord> {
        for _ in 0..1500 {
            let history = self.history().await;
            if done(&history) {
                return history;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let rows: Vec<String> = self
            .history()
            .await
            .iter()
            .map(|row| format!("{} {:?} {:?}", row.environment, row.status, row.reason))
            .collect();
        panic!("{what}: not reached; history: {rows:#?}");
    }

    async fn build_jobs(&self) -> usize {
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), "dscloud-builds");
        jobs.list(&ListParams::default())
            .await
            .map_or(0, |list| list.items.len())
    }
}

fn in_env<'a>(history: &'a [DeploymentRecord], environment: &str) -> Option<&'a DeploymentRecord> {
    history
        .iter()
        .rev()
        .find(|row| row.environment == environment)
}

#[tokio::test]
async fn the_engine_waits_for_the_image_ci_pushes_then_deploys_it_by_digest_everywhere() {
    let registry = TestRegistry::open().await;
    let bed = bed().await;
    let engine = bed.start(
        bed.deployer(&registry.host)
            .image_deadline(Duration::from_secs(120)),
    );
    let history = bed
        .until("dev waits for the image", |history| {
            in_env(history, "dev").is_some_and(|row| {
                row.status == DeploymentStatus::Building
                    && row.reason.as_deref() == Some("waiting for image from external CI: web")
            })
        })
        .await;
    let dev = in_env(&history, "dev").unwrap();
    let step = &dev.steps[0];
    let tag = format!("{}/shop/web:{}", registry.host, bed.sha);
    assert_eq!(
        step.object.as_deref(),
        Some(format!("image {tag}").as_str())
    );
    assert_eq!(
        step.message.as_deref(),
        Some(format!("waiting for external CI to push {tag}").as_str())
    );
    assert_eq!(bed.build_jobs().await, 0, "the portal builds nothing");
    let deployments: Api<Deployment> = Api::namespaced(bed.client.clone(), "shop-dev");
    assert!(
        deployments.get_opt("web").await.unwrap().is_none(),
        "nothing applied yet"
    );

    let digest = registry.push("shop/web", &bed.sha).await;
    bed.until("prod runs it", |history| {
        ["dev", "test", "prod"].iter().all(|environment| {
            in_env(history, environment)
                .is_some_and(|row| row.status == DeploymentStatus::Succeeded)
        })
    })
    .await;
    let expected = format!("{}/shop/web@{digest}", registry.host);
    for environment in ["dev", "test", "prod"] {
        let deployments: Api<Deployment> =
            Api::namespaced(bed.client.clone(), &format!("shop-{environment}"));
        let web = deployments.get("web").await.unwrap();
        let image = web.spec.unwrap().template.spec.unwrap().containers[0]
            .image
            .clone();
        assert_eq!(image.as_deref(), Some(expected.as_str()), "{environment}");
    }
    assert_eq!(bed.build_jobs().await, 0);
    engine.abort();
}

#[tokio::test]
async fn an_image_that_never_comes_fails_the_release_at_the_deadline() {
    let registry = TestRegistry::open().await;
    let bed = bed().await;
    let engine = bed.start(
        bed.deployer(&registry.host)
            .image_deadline(Duration::from_secs(1)),
    );
    let history = bed
        .until("dev fails", |history| {
            in_env(history, "dev").is_some_and(|row| row.status == DeploymentStatus::Failed)
        })
        .await;
    let reason = in_env(&history, "dev").unwrap().reason.clone().unwrap();
    assert_eq!(
        reason,
        format!(
            "the build of web failed: image {}/shop/web:{} did not appear in the registry within 1 s",
            registry.host, bed.sha
        )
    );
    assert!(in_env(&history, "test").is_none(), "promotion stopped");
    let deployments: Api<Deployment> = Api::namespaced(bed.client.clone(), "shop-dev");
    assert!(deployments.get_opt("web").await.unwrap().is_none());
    engine.abort();
}

#[tokio::test]
async fn a_registry_that_cannot_be_reached_ends_the_deployment_errored() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bed = bed().await;
    let engine = bed.start(bed.deployer(&format!("127.0.0.1:{port}")).errored_after(3));
    let history = bed
        .until("dev errors", |history| {
            in_env(history, "dev").is_some_and(|row| row.status == DeploymentStatus::Errored)
        })
        .await;
    let reason = in_env(&history, "dev").unwrap().reason.clone().unwrap();
    assert!(
        reason.starts_with(&format!(
            "the registry kept failing while building: the registry 127.0.0.1:{port} cannot be reached"
        )),
        "{reason}"
    );
    engine.abort();
}
