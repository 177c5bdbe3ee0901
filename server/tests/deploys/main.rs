//! The deploy engine on the sandbox with real git repositories: a release
//! goes dev → test → prod with its builds, Jobs and integration tests; a
//! failing test, rollout, Job or build stops it (rolled back where
//! something was applied); approvals, rejections, holds, supersession;
//! restarts at every step run nothing twice; API faults end as `Errored`
//! or converge; environments in two clusters.
//!
//! Outcomes come from the pushed repository itself, through the sandbox's
//! documented variables (`SANDBOX_EXIT_CODE`, `SANDBOX_ROLLOUT`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::caller::Caller;
use app::deploys::{DeploymentStatus, StepKind, Trigger};
use app::roles::Role;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use kube::api::Api;
use sandbox::{Behaviour, Failure, Fault, Sandbox, Verb};
use server::apps::poller::Poller;
use server::apps::service::AppService;
use server::cluster::Cluster;
use server::crypto::Keyring;
use server::deploy::{DeployEngine, Deployer, ENGINE, Site};
use server::engine::RunnerSettings;
use server::git::Git;
use server::store::{DeploymentQuery, DeploymentRecord, Person, PersonalDeploy, Store};

#[path = "../support/mod.rs"]
mod support;

mod access;
mod decisions;
mod metrics;
mod promotion;
mod resilience;

use support::git::Repository;

const ENVIRONMENTS: [&str; 3] = ["dev", "test", "prod"];

/// What a commit's `dscloud.yaml` makes happen in the sandbox.
#[derive(Clone, Copy)]
struct Scenario<'a> {
    /// Set on the web microservice everywhere: each commit's pods differ.
    version: &'a str,
    /// The exit code of web's integration tests in `test`.
    test_exit: i32,
    /// The environment whose rollout of web never becomes ready.
    failing_rollout_in: Option<&'a str>,
    /// The environment where the migrate Job fails with exit code 2.
    failing_job_in: Option<&'a str>,
}

impl Scenario<'_> {
    fn version(version: &str) -> Scenario<'_> {
        Scenario {
            version,
            test_exit: 0,
            failing_rollout_in: None,
            failing_job_in: None,
        }
    }

    fn file(&self) -> String {
        let web_env = |environment: &str| {
            let rollout = if self.failing_rollout_in == Some(environment) {
                ", SANDBOX_ROLLOUT: fail"
            } else {
                ""
            };
            format!(
                "      {environment}: {{VERSION: \"{}\"{rollout}}}\n",
                self.version
            )
        };
        let job_env = |environment: &str| {
            let exit = if self.failing_job_in == Some(environment) {
                "SANDBOX_EXIT_CODE: \"2\", SANDBOX_LOG: \"relation orders exists\""
            } else {
                ""
            };
            format!("      {environment}: {{{exit}}}\n")
        };
        let mut file = String::from("microservices:\n  web:\n    environmentConfiguration:\n");
        for environment in ENVIRONMENTS {
            file.push_str(&web_env(environment));
        }
        file.push_str(&format!(
            "    integrationTests:\n      test:\n        env:\n          SANDBOX_EXIT_CODE: \"{}\"\n          SANDBOX_LOG: \"checkout: {} failed\"\n",
            self.test_exit,
            if self.test_exit == 0 { 0 } else { 1 }
        ));
        file.push_str("jobs:\n  migrate:\n    environmentConfiguration:\n");
        for environment in ENVIRONMENTS {
            file.push_str(&job_env(environment));
        }
        file
    }
}

struct Bed {
    store: Arc<dyn Store>,
    poller: Poller,
    repository: Repository,
    sandbox: Sandbox,
    /// A cluster admin's client, for the test's own reads and writes.
    client: kube::Client,
    /// The engine's: the portal's ServiceAccount under deploy/'s roles.
    portal: support::rbac::AsPortal,
    app: uuid::Uuid,
    dana: Caller,
    _dir: support::TestDir,
}

fn sites(clients: &[(&str, &kube::Client)]) -> Vec<Site> {
    ENVIRONMENTS
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let (region, client) = clients[index.min(clients.len() - 1)];
            Site {
                name: (*name).to_string(),
                region: region.to_string(),
                cluster: Cluster::new(client.clone(), ENGINE.field_manager)
                    .with_timeout(Duration::from_secs(5))
                    .with_secrets_access(Some(support::rbac::account())),
                rollout_deadline: Duration::from_secs(30),
                ingress: Default::default(),
            }
        })
        .collect()
}

fn quick() -> RunnerSettings {
    RunnerSettings {
        first_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(40),
        resync: Duration::from_millis(100),
        ..RunnerSettings::default()
    }
}

async fn bed_with(behaviour: Behaviour, first: Scenario<'_>) -> Bed {
    let (store, dir) = support::store().await;
    let (sandbox, client) = support::cluster(behaviour).await;
    let portal = support::rbac::AsPortal::install(&sandbox, &client).await;
    let keyring = Arc::new(Keyring::parse(&server::crypto::new_key_line("k1"), "test").unwrap());
    let git = Git::new(dir.path().join("git")).with_timeout(Duration::from_secs(20));
    let dana_user = support::user(store.as_ref(), "dana", Role::Developer).await;
    let dana = Caller {
        username: Some(dana_user.username.clone()),
        role: Some(Role::Developer),
        session_hash: None,
        address: Some("192.0.2.7".into()),
        user_id: Some(dana_user.id.to_string()),
    };
    let repository = Repository::new();
    repository.commit(&[("dscloud.yaml", &first.file())], "First version");
    repository.push("main");
    let service = AppService::new(store.clone(), keyring.clone(), git.clone(), None);
    let registered = service
        .register(&dana, support::registration("shop", &repository.url()))
        .await
        .unwrap();
    Bed {
        poller: Poller::new(store.clone(), keyring, git),
        store,

        repository,
        sandbox,
        client,
        portal,
        app: registered.app.id,
        dana,
        _dir: dir,
    }
}

async fn bed(first: Scenario<'_>) -> Bed {
    bed_with(Behaviour::instant(), first).await
}

impl Bed {
    fn deployer(&self) -> Deployer {
        Deployer::new(
            self.store.clone(),
            sites(&[("local", &self.portal.client)]),
            "registry.test".into(),
        )
    }

    /// The engine, running until the returned guard is dropped.
    fn start(&self, deployer: Deployer) -> Running {
        let engine = Arc::new(DeployEngine::with_settings(deployer, quick(), None));
        engine.spawn_watches();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = engine.clone();
        let task = tokio::spawn(async move {
            running
                .run(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Running {
            _stop: stop,
            task,
            engine,
        }
    }

    /// Commits and pushes a new version and lets the poller record it.
    async fn push(&self, scenario: Scenario<'_>, subject: &str) -> String {
        let sha = self
            .repository
            .commit(&[("dscloud.yaml", &scenario.file())], subject);
        self.repository.push("main");
        let app = self.store.app(self.app).await.unwrap();
        let outcome = self.poller.look(&app).await;
        self.store
            .record_poll(app.id, app.head_sha.as_deref(), outcome, chrono::Utc::now())
            .await
            .unwrap();
        sha
    }

    async fn history(&self) -> Vec<DeploymentRecord> {
        let mut items = self
            .store
            .deployments(&DeploymentQuery {
                app: Some(self.app),
                limit: 200,
                ..DeploymentQuery::default()
            })
            .await
            .unwrap()
            .items;
        items.reverse();
        items
    }

    /// Waits until `done` holds for the history (at most 30 s).
    async fn until(
        &self,
        what: &str,
        done: impl Fn(&[DeploymentRecord]) -> bool,
    ) -> Vec<DeploymentRecord> {
        for _ in 0..1500 {
            let history = self.history().await;
            if done(&history) && history.iter().all(|row| !row.status.is_running()) {
                return history;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "{what}: not reached; history:\n{}",
            describe(&self.history().await)
        );
    }

    /// The VERSION the web Deployment runs in an environment.
    async fn running_version(&self, environment: &str) -> Option<String> {
        version_in(&self.client, environment).await
    }

    fn person(&self) -> Person {
        Person {
            id: self.dana.user_id.as_deref().unwrap().parse().unwrap(),
            name: "dana".into(),
        }
    }
}

struct Running {
    _stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    engine: Arc<DeployEngine>,
}

impl Running {
    fn handle(&self) -> server::engine::Handle<server::deploy::Key> {
        self.engine.handle()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn version_in(client: &kube::Client, environment: &str) -> Option<String> {
    let deployments: Api<Deployment> =
        Api::namespaced(client.clone(), &format!("shop-{environment}"));
    let web = deployments.get_opt("web").await.unwrap()?;
    let container = web.spec?.template.spec?.containers.into_iter().next()?;
    container
        .env?
        .into_iter()
        .find(|variable| variable.name == "VERSION")?
        .value
}

fn describe(history: &[DeploymentRecord]) -> String {
    history
        .iter()
        .map(|row| {
            format!(
                "#{} {} {} {:?} {:?} {}",
                row.id,
                row.environment,
                &row.sha[..7],
                row.trigger,
                row.status,
                row.reason.as_deref().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn of<'a>(
    history: &'a [DeploymentRecord],
    environment: &str,
    sha: &str,
) -> Vec<&'a DeploymentRecord> {
    history
        .iter()
        .filter(|row| row.environment == environment && row.sha == sha)
        .collect()
}

fn succeeded_everywhere(sha: &str) -> impl Fn(&[DeploymentRecord]) -> bool + '_ {
    move |history| {
        ENVIRONMENTS.iter().all(|environment| {
            history.iter().any(|row| {
                row.environment == *environment
                    && row.sha == sha
                    && row.status == DeploymentStatus::Succeeded
            })
        })
    }
}

async fn first_sha(bed: &Bed) -> String {
    bed.store.app(bed.app).await.unwrap().head_sha.unwrap()
}

/// The counts once the counting watch has caught up: a marker Job is created
/// and, since a watch delivers in order, every Job created before it has been
/// counted once the marker is. (Waiting a while instead was a guess.)
async fn counted_jobs(
    client: &kube::Client,
    counts: &Arc<Mutex<BTreeMap<String, u32>>>,
) -> BTreeMap<String, u32> {
    let marker = format!("default/counted-{}", uuid::Uuid::new_v4().simple());
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let job: Job = serde_json::from_value(serde_json::json!({
        "metadata": {"name": marker.trim_start_matches("default/")},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "marker", "image": "busybox"}]}}},
    }))
    .unwrap();
    jobs.create(&kube::api::PostParams::default(), &job)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut seen = counts.lock().unwrap().clone();
        if seen.remove(&marker).is_some() {
            return seen;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job watch never saw {marker}: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
