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
use futures_util::StreamExt as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, WatchEvent, WatchParams};
use sandbox::{Behaviour, Failure, Fault, Sandbox, Verb};
use server::apps::poller::Poller;
use server::apps::service::{AppService, Registration};
use server::cluster::Cluster;
use server::crypto::Keyring;
use server::deploy::{DeployEngine, Deployer, ENGINE, Site};
use server::engine::RunnerSettings;
use server::git::Git;
use server::store::{DeploymentQuery, DeploymentRecord, Person, PersonalDeploy, Store};

mod support;

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
    client: kube::Client,
    app: uuid::Uuid,
    dana: Caller,
    _dir: tempfile::TempDir,
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
                    .with_timeout(Duration::from_secs(5)),
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
    let (store, dir) = support::sqlite().await;
    let (sandbox, client) = support::cluster(behaviour).await;
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
        .register(
            &dana,
            Registration {
                name: "shop".into(),
                repository_url: repository.url(),
                branch: String::new(),
                poll_interval_seconds: None,
                credentials: None,
                maintainers: Vec::new(),
                build: server::store::BuildMode::Portal,
            },
        )
        .await
        .unwrap();
    Bed {
        poller: Poller::new(store.clone(), keyring, git),
        store,

        repository,
        sandbox,
        client,
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
            sites(&[("local", &self.client)]),
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

/// Every Job the cluster ever created, by namespace and name, counted from a watch
/// that starts before the engine.
fn count_created_jobs(client: &kube::Client) -> Arc<Mutex<BTreeMap<String, u32>>> {
    let counts = Arc::new(Mutex::new(BTreeMap::new()));
    let jobs: Api<Job> = Api::all(client.clone());
    let seen = counts.clone();
    tokio::spawn(async move {
        let mut stream = jobs
            .watch(&WatchParams::default().timeout(290), "0")
            .await
            .unwrap()
            .boxed();
        while let Some(Ok(event)) = stream.next().await {
            if let WatchEvent::Added(job) = event {
                let name = format!(
                    "{}/{}",
                    job.metadata.namespace.unwrap_or_default(),
                    job.metadata.name.unwrap_or_default()
                );
                *seen.lock().unwrap().entry(name).or_insert(0) += 1;
            }
        }
    });
    counts
}

#[tokio::test]
async fn a_commit_is_built_once_and_promoted_through_three_environments() {
    let bed = bed(Scenario::version("1")).await;
    let created = count_created_jobs(&bed.client);
    let sha = first_sha(&bed).await;
    let _engine = bed.start(bed.deployer());
    let history = bed
        .until("promoted to prod", succeeded_everywhere(&sha))
        .await;
    assert_eq!(history.len(), 3, "{}", describe(&history));
    let dev = of(&history, "dev", &sha)[0];
    assert_eq!(dev.trigger, Trigger::Poll);
    let test = of(&history, "test", &sha)[0];
    assert_eq!(
        (test.trigger, test.trigger_detail.as_deref()),
        (Trigger::Promotion, Some("dev"))
    );
    let prod = of(&history, "prod", &sha)[0];
    assert_eq!(prod.trigger_detail.as_deref(), Some("test"));
    // Built once, in dev: web, its tests and the migrate job.
    let builds: Vec<_> = dev
        .steps
        .iter()
        .filter(|step| step.kind == StepKind::Build)
        .collect();
    assert_eq!(builds.len(), 3, "{:?}", dev.steps);
    assert!(test.steps.iter().all(|step| step.kind != StepKind::Build));
    // The tests ran in test only, and passed.
    assert_eq!((test.tests_passed, test.tests_failed), (1, 0));
    assert_eq!(dev.tests_passed + prod.tests_passed, 0);
    // Deployed by digest, the engine's labels on it.
    for environment in ENVIRONMENTS {
        assert_eq!(bed.running_version(environment).await.as_deref(), Some("1"));
    }
    let deployments: Api<Deployment> = Api::namespaced(bed.client.clone(), "shop-prod");
    let web = deployments.get("web").await.unwrap();
    let image = web.spec.unwrap().template.spec.unwrap().containers[0]
        .image
        .clone()
        .unwrap();
    assert!(
        image.starts_with("registry.test/shop/web@sha256:"),
        "{image}"
    );
    let labels = web.metadata.labels.unwrap();
    assert_eq!(labels["dscloud.io/engine"], "deploy");
    // Every Job once: 3 builds, migrate in each environment, the tests in test.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let created = created.lock().unwrap().clone();
    assert_eq!(created.len(), 7, "{created:?}");
    assert!(created.values().all(|count| *count == 1), "{created:?}");
}

#[tokio::test]
async fn a_failing_test_in_test_rolls_test_back_and_leaves_prod_alone() {
    let bed = bed(Scenario::version("1")).await;
    let first = first_sha(&bed).await;
    let _engine = bed.start(bed.deployer());
    bed.until("first release everywhere", succeeded_everywhere(&first))
        .await;
    let broken = Scenario {
        test_exit: 3,
        ..Scenario::version("2")
    };
    let second = bed.push(broken, "Break checkout").await;
    let history = bed
        .until("rolled back in test", |history| {
            history.iter().any(|row| {
                row.environment == "test"
                    && row.trigger == Trigger::AutoRollback
                    && row.status == DeploymentStatus::Succeeded
            })
        })
        .await;
    assert_eq!(
        of(&history, "dev", &second)[0].status,
        DeploymentStatus::Succeeded
    );
    let failed = of(&history, "test", &second)[0];
    assert_eq!(failed.status, DeploymentStatus::Failed);
    let reason = failed.reason.as_deref().unwrap();
    assert!(
        reason.contains("integration tests of web failed: exit code 3"),
        "{reason}"
    );
    assert_eq!((failed.tests_passed, failed.tests_failed), (0, 1));
    let test_step = failed
        .steps
        .iter()
        .find(|step| step.kind == StepKind::Test)
        .unwrap();
    assert_eq!(test_step.exit_code, Some(3));
    assert_eq!(test_step.log_tail.as_deref(), Some("checkout: 1 failed"));
    let rollback = history
        .iter()
        .find(|row| row.trigger == Trigger::AutoRollback)
        .unwrap();
    assert_eq!(rollback.sha, first);
    assert_eq!(rollback.rollback_of, Some(failed.id));
    assert_eq!(failed.rolled_back_by, Some(rollback.id));
    assert_eq!(bed.running_version("test").await.as_deref(), Some("1"));
    // prod never saw the second release.
    assert!(of(&history, "prod", &second).is_empty());
    assert_eq!(bed.running_version("prod").await.as_deref(), Some("1"));
    assert_eq!(bed.running_version("dev").await.as_deref(), Some("2"));
}

#[tokio::test]
async fn a_rollout_that_never_becomes_healthy_fails_and_is_rolled_back() {
    let bed = bed(Scenario::version("1")).await;
    let first = first_sha(&bed).await;
    let _engine = bed.start(bed.deployer());
    bed.until("first release everywhere", succeeded_everywhere(&first))
        .await;
    let stuck = Scenario {
        failing_rollout_in: Some("dev"),
        ..Scenario::version("2")
    };
    let second = bed.push(stuck, "Stuck pods").await;
    let history = bed
        .until("rolled back in dev", |history| {
            history.iter().any(|row| {
                row.trigger == Trigger::AutoRollback && row.status == DeploymentStatus::Succeeded
            })
        })
        .await;
    let failed = of(&history, "dev", &second)[0];
    assert_eq!(failed.status, DeploymentStatus::Failed);
    let reason = failed.reason.as_deref().unwrap();
    assert!(
        reason.contains("Deployment/web failed: ProgressDeadlineExceeded"),
        "{reason}"
    );
    assert_eq!(bed.running_version("dev").await.as_deref(), Some("1"));
    assert!(of(&history, "test", &second).is_empty());
}

#[tokio::test]
async fn a_failing_job_stops_the_release_with_its_exit_code() {
    let bed = bed(Scenario::version("1")).await;
    let first = first_sha(&bed).await;
    let _engine = bed.start(bed.deployer());
    bed.until("first release everywhere", succeeded_everywhere(&first))
        .await;
    let failing = Scenario {
        failing_job_in: Some("dev"),
        ..Scenario::version("2")
    };
    let second = bed.push(failing, "Bad migration").await;
    let history = bed
        .until("rolled back in dev", |history| {
            history.iter().any(|row| {
                row.trigger == Trigger::AutoRollback && row.status == DeploymentStatus::Succeeded
            })
        })
        .await;
    let failed = of(&history, "dev", &second)[0];
    let reason = failed.reason.as_deref().unwrap();
    assert!(reason.contains("Job migrate-"), "{reason}");
    assert!(reason.contains("exit code 2"), "{reason}");
    let job = failed
        .steps
        .iter()
        .find(|step| step.kind == StepKind::Job)
        .unwrap();
    assert_eq!(job.log_tail.as_deref(), Some("relation orders exists"));
}

#[tokio::test]
async fn a_failed_build_fails_the_release_and_deploys_nothing() {
    let behaviour = Behaviour {
        job_outcome: Arc::new(|job: &serde_json::Value| {
            let name = job["metadata"]["name"].as_str().unwrap_or_default();
            if name.starts_with("build-shop-web-") && !name.contains("integration") {
                (
                    1,
                    "#7 ERROR: failed to solve: npm ci: exit code 1\n".to_string(),
                )
            } else {
                (0, String::new())
            }
        }),
        ..Behaviour::instant()
    };
    let bed = bed_with(behaviour, Scenario::version("1")).await;
    let sha = first_sha(&bed).await;
    let _engine = bed.start(bed.deployer());
    let history = bed
        .until("the build failed", |history| {
            history
                .iter()
                .any(|row| row.status == DeploymentStatus::Failed)
        })
        .await;
    let failed = of(&history, "dev", &sha)[0];
    let reason = failed.reason.as_deref().unwrap();
    assert!(
        reason.contains("the build of web failed: exit code 1"),
        "{reason}"
    );
    let step = failed.steps.iter().find(|step| step.name == "web").unwrap();
    assert!(
        step.log_tail
            .as_deref()
            .unwrap()
            .contains("failed to solve")
    );
    assert_eq!(failed.rolled_back_by, None);
    assert_eq!(
        bed.running_version("dev").await,
        None,
        "nothing was applied"
    );
    assert_eq!(history.len(), 1);
}

#[tokio::test]
async fn prod_waits_for_approval_and_a_rejection_ends_it() {
    let bed = bed(Scenario::version("1")).await;
    bed.store
        .set_approval_rules(bed.app, "prod", true, false, None)
        .await
        .unwrap();
    let first = first_sha(&bed).await;
    let engine = bed.start(bed.deployer());
    let history = bed
        .until("waiting before prod", |history| {
            history
                .iter()
                .any(|row| row.status == DeploymentStatus::AwaitingApproval)
        })
        .await;
    let waiting = of(&history, "prod", &first)[0];
    assert!(waiting.approval_required);
    assert_eq!(bed.running_version("prod").await, None);
    bed.store
        .decide_approval(
            waiting.id,
            &server::store::Approval {
                approved: true,
                by: None,
                by_name: "grace".into(),
                comment: "ship it".into(),
                at: chrono::Utc::now(),
            },
            None,
        )
        .await
        .unwrap();
    engine.handle().changed((bed.app, "prod".into()));
    let history = bed
        .until("approved and deployed", succeeded_everywhere(&first))
        .await;
    let approved = of(&history, "prod", &first)[0];
    let approval = approved.approval.as_ref().unwrap();
    assert!(approval.approved);
    assert_eq!(approval.comment, "ship it");
    // A second release waits too, and is rejected.
    let second = bed.push(Scenario::version("2"), "Second").await;
    let history = bed
        .until("the second waits", |history| {
            history
                .iter()
                .any(|row| row.sha == second && row.status == DeploymentStatus::AwaitingApproval)
        })
        .await;
    let waiting = of(&history, "prod", &second)[0];
    bed.store
        .decide_approval(
            waiting.id,
            &server::store::Approval {
                approved: false,
                by: None,
                by_name: "grace".into(),
                comment: "not on a Friday".into(),
                at: chrono::Utc::now(),
            },
            None,
        )
        .await
        .unwrap();
    let rejected = bed.store.deployment(waiting.id).await.unwrap();
    assert_eq!(rejected.status, DeploymentStatus::Rejected);
    assert_eq!(bed.running_version("prod").await.as_deref(), Some("1"));
    // Deciding twice is refused with the reason.
    let again = bed
        .store
        .decide_approval(
            waiting.id,
            &server::store::Approval {
                approved: true,
                by: None,
                by_name: "grace".into(),
                comment: String::new(),
                at: chrono::Utc::now(),
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(
        again
            .to_string()
            .contains("no longer waits for approval: it is rejected"),
        "{again}"
    );
}

#[tokio::test]
async fn a_rollback_by_a_person_holds_prod_until_the_hold_is_lifted() {
    let bed = bed(Scenario::version("1")).await;
    let first = first_sha(&bed).await;
    let engine = bed.start(bed.deployer());
    bed.until("first everywhere", succeeded_everywhere(&first))
        .await;
    let second = bed.push(Scenario::version("2"), "Second").await;
    bed.until("second everywhere", succeeded_everywhere(&second))
        .await;
    let first_release = bed.store.release(bed.app, &first).await.unwrap().id;
    bed.store
        .deploy_by_person(
            bed.app,
            "prod",
            &bed.person(),
            &PersonalDeploy::Rollback {
                release_id: first_release,
                reason: "checkout is slow".into(),
            },
            None,
        )
        .await
        .unwrap();
    engine.handle().changed((bed.app, "prod".into()));
    let history = bed
        .until("rolled back by a person", |history| {
            history.iter().any(|row| {
                row.trigger == Trigger::Rollback && row.status == DeploymentStatus::Succeeded
            })
        })
        .await;
    let rollback = history
        .iter()
        .find(|row| row.trigger == Trigger::Rollback)
        .unwrap();
    assert_eq!(rollback.triggered_by_name.as_deref(), Some("dana"));
    assert_eq!(bed.running_version("prod").await.as_deref(), Some("1"));
    let hold = bed
        .store
        .environment_rules(bed.app, "prod")
        .await
        .unwrap()
        .hold
        .unwrap();
    assert_eq!(
        (hold.by_name.as_str(), hold.reason.as_str()),
        ("dana", "checkout is slow")
    );
    // A new commit goes through dev and test, and stops at the hold.
    let third = bed.push(Scenario::version("3"), "Third").await;
    let history = bed
        .until("third in test", |history| {
            of(history, "test", &third)
                .iter()
                .any(|row| row.status == DeploymentStatus::Succeeded)
        })
        .await;
    engine.handle().changed((bed.app, "prod".into()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        of(&bed.history().await, "prod", &third).is_empty(),
        "{}",
        describe(&history)
    );
    assert_eq!(bed.running_version("prod").await.as_deref(), Some("1"));
    // Lifted: prod takes the newest release that passed test.
    assert!(bed.store.lift_hold(bed.app, "prod", None).await.unwrap());
    engine.handle().changed((bed.app, "prod".into()));
    bed.until("third in prod", succeeded_everywhere(&third))
        .await;
    assert_eq!(bed.running_version("prod").await.as_deref(), Some("3"));
}

#[tokio::test]
async fn a_newer_release_supersedes_one_waiting_for_its_turn() {
    let bed = bed(Scenario::version("1")).await;
    bed.store
        .set_approval_rules(bed.app, "prod", true, false, None)
        .await
        .unwrap();
    let first = first_sha(&bed).await;
    let _engine = bed.start(bed.deployer());
    bed.until("first waits before prod", |history| {
        of(history, "prod", &first)
            .iter()
            .any(|row| row.status == DeploymentStatus::AwaitingApproval)
    })
    .await;
    let second = bed.push(Scenario::version("2"), "Second").await;
    let history = bed
        .until("second waits before prod", |history| {
            of(history, "prod", &second)
                .iter()
                .any(|row| row.status == DeploymentStatus::AwaitingApproval)
        })
        .await;
    let superseded = of(&history, "prod", &first)[0];
    assert_eq!(superseded.status, DeploymentStatus::Superseded);
    assert!(
        superseded
            .reason
            .as_deref()
            .unwrap()
            .contains("newer release")
    );
}

#[tokio::test]
async fn a_restart_at_every_step_runs_no_job_or_test_twice() {
    let bed = bed(Scenario::version("1")).await;
    let created = count_created_jobs(&bed.client);
    let first = first_sha(&bed).await;
    // Every reconcile by a new engine, as if the process died after each.
    let mut passes = 0;
    loop {
        let engine = DeployEngine::with_settings(bed.deployer(), quick(), None);
        engine.pass().await.unwrap();
        drop(engine);
        passes += 1;
        if succeeded_everywhere(&first)(&bed.history().await) {
            break;
        }
        assert!(
            passes < 500,
            "not converged: {}",
            describe(&bed.history().await)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let created = created.lock().unwrap().clone();
    assert_eq!(created.len(), 7, "{created:?}");
    assert!(created.values().all(|count| *count == 1), "{created:?}");
    let history = bed.history().await;
    assert_eq!(history.len(), 3, "{}", describe(&history));
}

#[tokio::test]
async fn api_faults_are_retried_and_a_cluster_that_keeps_failing_ends_errored() {
    let bed = bed(Scenario::version("1")).await;
    let first = first_sha(&bed).await;
    // Three in ten writes fail, and the watches are cut every 200 ms.
    bed.sandbox
        .faults()
        .inject(Fault::always(Failure::Internal).on(Verb::Patch).rate(0.3));
    bed.sandbox.faults().inject(
        Fault::always(Failure::Unavailable)
            .on(Verb::Create)
            .rate(0.3),
    );
    bed.sandbox
        .faults()
        .cut_watches_after(Some(Duration::from_millis(200)));
    let engine = bed.start(bed.deployer().errored_after(50));
    bed.until("converged through faults", succeeded_everywhere(&first))
        .await;
    drop(engine);
    bed.sandbox.faults().clear();
    // Every Job create fails from now on: the deployment ends Errored.
    bed.sandbox.faults().inject(
        Fault::always(Failure::Unavailable)
            .on(Verb::Create)
            .for_resource("jobs"),
    );
    let second = bed.push(Scenario::version("2"), "Second").await;
    let _engine = bed.start(bed.deployer().errored_after(3));
    let history = bed
        .until("errored", |history| {
            history
                .iter()
                .any(|row| row.status == DeploymentStatus::Errored)
        })
        .await;
    let errored = of(&history, "dev", &second)[0];
    let reason = errored.reason.as_deref().unwrap();
    assert!(
        reason.starts_with("the cluster kept failing while building"),
        "{reason}"
    );
    assert!(of(&history, "test", &second).is_empty());
}

#[tokio::test]
async fn environments_in_two_clusters_each_get_their_own_objects() {
    let bed = bed(Scenario::version("1")).await;
    let (_other_sandbox, other) = support::cluster(Behaviour::instant()).await;
    let first = first_sha(&bed).await;
    // dev in the first cluster; test and prod in the other.
    let deployer = Deployer::new(
        bed.store.clone(),
        sites(&[("local", &bed.client), ("eu-west", &other)]),
        "registry.test".into(),
    );
    let _engine = bed.start(deployer);
    bed.until("promoted across clusters", succeeded_everywhere(&first))
        .await;
    assert_eq!(version_in(&bed.client, "dev").await.as_deref(), Some("1"));
    assert_eq!(version_in(&bed.client, "prod").await, None);
    assert_eq!(version_in(&other, "test").await.as_deref(), Some("1"));
    assert_eq!(version_in(&other, "prod").await.as_deref(), Some("1"));
    assert_eq!(version_in(&other, "dev").await, None);
}

fn caller_of(user: &server::store::User) -> Caller {
    Caller {
        username: Some(user.username.clone()),
        role: Some(user.role),
        session_hash: None,
        address: Some("192.0.2.9".into()),
        user_id: Some(user.id.to_string()),
    }
}

fn refusal<T: std::fmt::Debug>(
    result: Result<T, app::caller::ServiceError>,
) -> app::caller::ServiceError {
    result.expect_err("expected a refusal")
}

#[tokio::test]
async fn who_may_see_and_act_and_what_bad_input_is_told() {
    use app::caller::ServiceError;
    use app::deploys::{Deploys, HandAction, HistoryFilter};
    use server::deploy::service::DeployService;
    let bed = bed(Scenario::version("1")).await;
    bed.store
        .set_approval_rules(bed.app, "prod", true, true, None)
        .await
        .unwrap();
    let first = first_sha(&bed).await;
    let engine = bed.start(bed.deployer());
    bed.until("waiting before prod", |history| {
        of(history, "prod", &first)
            .iter()
            .any(|row| row.status == DeploymentStatus::AwaitingApproval)
    })
    .await;
    let environments: Vec<String> = ENVIRONMENTS.iter().map(|name| name.to_string()).collect();
    let service = DeployService::new(bed.store.clone(), environments, Some(engine.handle()))
        .with_sites(sites(&[("local", &bed.client)]));
    let cora = caller_of(&support::user(bed.store.as_ref(), "cora", Role::Customer).await);
    let otto = caller_of(&support::user(bed.store.as_ref(), "otto", Role::Developer).await);
    // Dana maintains the app and is the commit's author (same email).
    let dana_user = bed.store.user_by_username("dana").await.unwrap();
    bed.store
        .update_user_profile(
            dana_user.id,
            "Dana",
            Some("dana@example.test"),
            Role::Developer,
            None,
        )
        .await
        .unwrap();

    // A customer sees nothing.
    assert!(matches!(
        refusal(service.history(&cora, HistoryFilter::default()).await),
        ServiceError::Forbidden(_)
    ));
    // Every developer sees the history; only maintainers act.
    let list = service
        .history(
            &otto,
            HistoryFilter {
                app: "shop".into(),
                ..HistoryFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(list.total, 3);
    assert!(!list.may_act);
    let prod = list
        .items
        .iter()
        .find(|row| row.environment == "prod")
        .unwrap();
    assert_eq!(prod.approval.as_deref(), Some("awaiting approval"));
    let error = refusal(service.decide(&otto, prod.id, true, "").await);
    assert!(
        matches!(error, ServiceError::Forbidden(ref m) if m.contains("shop's maintainers")),
        "{error:?}"
    );
    // The author may not approve their own commit here.
    let error = refusal(service.decide(&bed.dana, prod.id, true, "mine").await);
    assert!(
        matches!(error, ServiceError::Forbidden(ref m) if m.contains("forbids approving your own commit")),
        "{error:?}"
    );
    // Rejecting is allowed, and recorded once.
    service
        .decide(&bed.dana, prod.id, false, "not today")
        .await
        .unwrap();
    let error = refusal(service.decide(&bed.dana, prod.id, false, "").await);
    assert!(matches!(error, ServiceError::Conflict(_)), "{error:?}");

    // Bad filters say what is wrong.
    let bad = |filter: HistoryFilter| {
        let service = &service;
        let dana = bed.dana.clone();
        async move {
            match refusal(service.history(&dana, filter).await) {
                ServiceError::Invalid(message) => message,
                other => panic!("expected Invalid, got {other:?}"),
            }
        }
    };
    assert!(
        bad(HistoryFilter {
            status: "Done".into(),
            ..Default::default()
        })
        .await
        .contains("no deployment status \"Done\"")
    );
    assert!(
        bad(HistoryFilter {
            environment: "staging".into(),
            ..Default::default()
        })
        .await
        .contains("environments: dev, test, prod")
    );
    assert!(
        bad(HistoryFilter {
            from: "02/12/2026".into(),
            ..Default::default()
        })
        .await
        .contains("not YYYY-MM-DD")
    );
    assert!(
        bad(HistoryFilter {
            from: "2026-12-03".into(),
            until: "2026-12-01".into(),
            ..Default::default()
        })
        .await
        .contains("after the until date")
    );
    let error = refusal(
        service
            .history(
                &bed.dana,
                HistoryFilter {
                    app: "nope".into(),
                    ..Default::default()
                },
            )
            .await,
    );
    assert!(matches!(error, ServiceError::NotFound(_)));

    // By hand: only a release that succeeded there, and not what runs already.
    let dev = list
        .items
        .iter()
        .find(|row| row.environment == "dev")
        .unwrap();
    let error = refusal(
        service
            .by_hand(&bed.dana, dev.id, HandAction::Rollback, "")
            .await,
    );
    assert!(
        matches!(error, ServiceError::Invalid(ref m) if m.contains("runs in dev already; redeploy it instead")),
        "{error:?}"
    );
    let error = refusal(
        service
            .by_hand(&bed.dana, prod.id, HandAction::Redeploy, "")
            .await,
    );
    assert!(
        matches!(error, ServiceError::Invalid(ref m) if m.contains("did not succeed in prod")),
        "{error:?}"
    );
    let error = refusal(
        service
            .by_hand(&otto, dev.id, HandAction::Redeploy, "")
            .await,
    );
    assert!(matches!(error, ServiceError::Forbidden(_)));
    let redeploy = service
        .by_hand(&bed.dana, dev.id, HandAction::Redeploy, "")
        .await
        .unwrap();
    let history = bed
        .until("redeployed", |history| {
            history
                .iter()
                .any(|row| row.id == redeploy && row.status == DeploymentStatus::Succeeded)
        })
        .await;
    assert_eq!(
        history
            .iter()
            .find(|row| row.id == redeploy)
            .unwrap()
            .trigger,
        Trigger::Redeploy
    );
    // What runs where, at a glance; the measures; the live workloads.
    let matrix = service.matrix(&otto, "", 1).await.unwrap();
    assert_eq!(matrix.environments, ["dev", "test", "prod"]);
    let shop = &matrix.rows[0];
    assert_eq!(shop.app, "shop");
    assert_eq!(shop.cells[0].current.as_ref().unwrap().1, &first[..7]);
    assert_eq!(shop.cells[1].tests, Some((1, 0)));
    assert!(shop.cells[2].current.is_none(), "prod was rejected");
    let measures = service.measures(&otto, "shop", 30).await.unwrap();
    let (name, test_measures) = &measures.environments[1];
    assert_eq!(name, "test");
    assert_eq!(test_measures.deployments, 1);
    assert_eq!(test_measures.change_failure_rate, Some(0.0));
    assert!(test_measures.lead_time_seconds.is_some());
    assert_eq!(test_measures.days.len(), 30);
    let live = service.workloads(&otto, "shop").await.unwrap();
    let dev_live = live
        .iter()
        .find(|environment| environment.environment == "dev")
        .unwrap();
    assert_eq!(dev_live.error, None);
    let web = &dev_live.workloads[0];
    assert_eq!(web.object, "Deployment/web");
    assert_eq!((web.desired, web.ready), (1, 1));
    assert!(web.image.contains("@sha256:"), "{}", web.image);
    assert_eq!(web.pods.len(), 1);
    assert_eq!(web.pods[0].state, "running");
    let prod_live = live
        .iter()
        .find(|environment| environment.environment == "prod")
        .unwrap();
    assert!(prod_live.workloads.is_empty());
    assert!(matches!(
        refusal(service.matrix(&cora, "", 1).await),
        ServiceError::Forbidden(_)
    ));

    // What was done is in the audit log.
    let audit = bed
        .store
        .list_audit(&server::store::AuditQuery {
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = audit
        .items
        .iter()
        .map(|event| event.action.as_str())
        .collect();
    assert!(actions.contains(&"deployment.reject"), "{actions:?}");
    assert!(actions.contains(&"deployment.redeploy"), "{actions:?}");
}
