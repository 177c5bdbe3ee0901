//! Secrets end to end on the sandbox with a real git repository: a missing
//! key holds the deploy with the key and environment named, setting it lets
//! the deploy through, a change rolls the workload (the pod template carries
//! versions, never values), a deletion leaves the cluster; a canary value is
//! found nowhere but in the Kubernetes Secret (database files, a PostgreSQL
//! dump, every log line, every answer, the audit); tampered rows are refused;
//! a rotation with re-wrapping keeps every value deployable; a wrong keyring
//! refuses to start; who may change what.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::io::Write as _;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use app::caller::{Caller, ServiceError};
use app::deploys::{DeploymentStatus, Deploys as _, HistoryFilter, Trigger};
use app::roles::Role;
use app::secrets::{SecretState, Secrets as _};
use base64::Engine as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use sandbox::{Behaviour, Sandbox};
use secrecy::SecretString;
use server::apps::poller::Poller;
use server::apps::service::AppService;
use server::cluster::Cluster;
use server::crypto::Keyring;
use server::deploy::service::DeployService;
use server::deploy::{DeployEngine, Deployer, ENGINE, Site};
use server::engine::RunnerSettings;
use server::git::Git;
use server::secrets::service::SecretService;
use server::store::{DeploymentQuery, DeploymentRecord, Store};

mod support;

use support::git::Repository;

const ENVIRONMENTS: [&str; 2] = ["dev", "test"];

/// web reads DB_PASSWORD in dev and test; its tests in test read TEST_TOKEN
/// from the group web-tests.
fn file(version: &str) -> String {
    format!(
        "microservices:\n  web:\n    environmentConfiguration:\n      dev: {{VERSION: \"{version}\"}}\n      test: {{VERSION: \"{version}\"}}\n    secretValues: [DB_PASSWORD]\n    integrationTests:\n      test:\n        secrets:\n          TEST_TOKEN: web-tests\n"
    )
}

/// Every log line of the test binary, at debug level (stricter than the
/// portal's default of info).
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || LogWriter(writer.clone()))
            .try_init();
        buffer
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Bed {
    store: Arc<dyn Store>,
    keyring: Arc<Keyring>,
    client: kube::Client,
    _sandbox: Sandbox,
    /// The engine's client: the portal's ServiceAccount under deploy/'s roles.
    _portal: support::rbac::AsPortal,
    repository: Repository,
    poller: Poller,
    app: uuid::Uuid,
    /// A developer who maintains the app.
    kim: Caller,
    /// A developer who does not.
    lee: Caller,
    secrets: SecretService,
    deploys: DeployService,
    _engine: Running,
    _dir: tempfile::TempDir,
}

struct Running(tokio::task::JoinHandle<()>);

impl Running {
    /// Stops the engine and waits until its task is gone, so nothing of it
    /// still holds the store when the test goes on (a dropped task is only
    /// aborted).
    async fn stop(&mut self) {
        self.0.abort();
        let _ = (&mut self.0).await;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn caller(user: &server::store::User, role: Role) -> Caller {
    Caller {
        username: Some(user.username.clone()),
        role: Some(role),
        session_hash: None,
        address: Some("192.0.2.9".into()),
        user_id: Some(user.id.to_string()),
    }
}

async fn bed_on(store: Arc<dyn Store>, keyring: Arc<Keyring>) -> Bed {
    let dir = tempfile::tempdir().unwrap();
    let (sandbox, client) = support::cluster(Behaviour::instant()).await;
    let portal = support::rbac::AsPortal::install(&sandbox, &client).await;
    let git = Git::new(dir.path().join("git")).with_timeout(Duration::from_secs(20));
    let kim = support::user(store.as_ref(), "kim", Role::Developer).await;
    let lee = support::user(store.as_ref(), "lee", Role::Developer).await;
    let repository = Repository::new();
    repository.commit(&[("dscloud.yaml", &file("1"))], "First version");
    repository.push("main");
    let kim = caller(&kim, Role::Developer);
    let registered = AppService::new(store.clone(), keyring.clone(), git.clone(), None)
        .register(&kim, support::registration("shop", &repository.url()))
        .await
        .unwrap();
    let (secrets, deploys, engine) = services(&store, &keyring, &portal.client);
    Bed {
        secrets,
        deploys,
        poller: Poller::new(store.clone(), keyring.clone(), git),
        store,
        keyring,
        client,
        _sandbox: sandbox,
        _portal: portal,
        repository,
        app: registered.app.id,
        kim,
        lee: caller(&lee, Role::Developer),
        _engine: engine,
        _dir: dir,
    }
}

/// The deploy engine (running until dropped) and the services over it.
fn services(
    store: &Arc<dyn Store>,
    keyring: &Arc<Keyring>,
    client: &kube::Client,
) -> (SecretService, DeployService, Running) {
    let sites: Vec<Site> = ENVIRONMENTS
        .iter()
        .map(|name| Site {
            name: (*name).to_string(),
            region: "local".into(),
            cluster: Cluster::new(client.clone(), ENGINE.field_manager)
                .with_timeout(Duration::from_secs(5))
                .with_secrets_access(Some(support::rbac::account())),
            rollout_deadline: Duration::from_secs(30),
            ingress: Default::default(),
        })
        .collect();
    let deployer = Deployer::new(store.clone(), sites.clone(), "registry.test".into())
        .with_keyring(keyring.clone());
    let settings = RunnerSettings {
        first_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(40),
        resync: Duration::from_millis(100),
        ..RunnerSettings::default()
    };
    let engine = Arc::new(DeployEngine::with_settings(deployer, settings, None));
    engine.spawn_watches();
    let running = engine.clone();
    let task = tokio::spawn(async move { running.run(std::future::pending()).await });
    let environments: Vec<String> = ENVIRONMENTS.iter().map(|name| name.to_string()).collect();
    (
        SecretService::new(
            store.clone(),
            keyring.clone(),
            environments.clone(),
            Some(engine.handle()),
        ),
        DeployService::new(store.clone(), environments, Some(engine.handle())).with_sites(sites),
        Running(task),
    )
}

fn new_keyring() -> Arc<Keyring> {
    Arc::new(Keyring::parse(&server::crypto::new_key_line("k1"), "test").unwrap())
}

async fn bed() -> (Bed, tempfile::TempDir) {
    let (store, dir) = support::sqlite().await;
    (bed_on(store, new_keyring()).await, dir)
}

fn secret(value: &str) -> SecretString {
    SecretString::from(value.to_string())
}

impl Bed {
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
            if done(&history) {
                return history;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let history = self.history().await;
        let lines: Vec<String> = history
            .iter()
            .map(|row| {
                format!(
                    "#{} {} {:?} {:?} {}",
                    row.id,
                    row.environment,
                    row.trigger,
                    row.status,
                    row.reason.as_deref().unwrap_or("")
                )
            })
            .collect();
        panic!("{what}: not reached; history:\n{}", lines.join("\n"));
    }

    async fn secret_data(&self, environment: &str, name: &str) -> Option<Vec<(String, String)>> {
        let secrets: Api<Secret> =
            Api::namespaced(self.client.clone(), &format!("shop-{environment}"));
        let secret = secrets.get_opt(name).await.unwrap()?;
        Some(
            secret
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(key, value)| (key, String::from_utf8(value.0).unwrap()))
                .collect(),
        )
    }

    async fn stamp(&self, environment: &str) -> Option<String> {
        let deployments: Api<Deployment> =
            Api::namespaced(self.client.clone(), &format!("shop-{environment}"));
        let web = deployments.get_opt("web").await.unwrap()?;
        web.spec?
            .template
            .metadata?
            .annotations?
            .get(server::secrets::sync::VERSIONS_ANNOTATION)
            .cloned()
    }
}

fn succeeded(environment: &'static str, count: usize) -> impl Fn(&[DeploymentRecord]) -> bool {
    move |history| {
        history
            .iter()
            .filter(|row| {
                row.environment == environment && row.status == DeploymentStatus::Succeeded
            })
            .count()
            >= count
    }
}

fn waiting_in(environment: &'static str) -> impl Fn(&[DeploymentRecord]) -> bool {
    move |history| {
        history.iter().any(|row| {
            row.environment == environment
                && row.status == DeploymentStatus::Queued
                && row.reason.is_some()
        })
    }
}

#[tokio::test]
async fn a_missing_key_blocks_the_deploy_until_set_and_a_change_rolls_the_workload() {
    let (bed, _db) = bed().await;
    let history = bed
        .until("dev waits for DB_PASSWORD", waiting_in("dev"))
        .await;
    let dev = history.iter().find(|row| row.environment == "dev").unwrap();
    assert_eq!(
        dev.reason.as_deref(),
        Some(
            "waiting for secrets: DB_PASSWORD has no value in dev; set it on the app's Secrets page"
        )
    );
    // The page says it too, for the maintainer and for other developers.
    let page = bed.secrets.app(&bed.lee, "shop").await.unwrap();
    assert!(!page.may_change);
    assert_eq!(
        page.environments[0].missing(),
        vec!["DB_PASSWORD".to_string()]
    );
    assert_eq!(
        page.environments[1].missing(),
        vec![
            "DB_PASSWORD".to_string(),
            "web-tests/TEST_TOKEN".to_string()
        ]
    );
    // Nothing was applied meanwhile.
    assert_eq!(bed.stamp("dev").await, None);

    assert_eq!(
        bed.secrets
            .set(
                &bed.kim,
                "shop",
                "dev",
                "",
                "DB_PASSWORD",
                secret("first-password")
            )
            .await
            .unwrap(),
        1
    );
    bed.until("dev deployed", succeeded("dev", 1)).await;
    assert_eq!(
        bed.secret_data("dev", "app-secrets").await.unwrap(),
        vec![("DB_PASSWORD".to_string(), "first-password".to_string())]
    );
    assert_eq!(
        bed.stamp("dev").await.as_deref(),
        Some("app-secrets/DB_PASSWORD=1")
    );
    // test waits for both of its keys, each named.
    let history = bed.until("test waits", waiting_in("test")).await;
    let test = history
        .iter()
        .find(|row| row.environment == "test")
        .unwrap();
    assert_eq!(
        test.reason.as_deref(),
        Some(
            "waiting for secrets: DB_PASSWORD, group web-tests: TEST_TOKEN have no value in test; set them on the app's Secrets page"
        )
    );

    // A change rolls dev's workload: a redeploy of what runs, with the new version.
    bed.secrets
        .set(
            &bed.kim,
            "shop",
            "dev",
            "",
            "DB_PASSWORD",
            secret("second-password"),
        )
        .await
        .unwrap();
    let history = bed.until("redeployed with v2", succeeded("dev", 2)).await;
    let redeploy = history
        .iter()
        .rfind(|row| row.environment == "dev")
        .unwrap();
    assert_eq!(redeploy.trigger, Trigger::Redeploy);
    assert_eq!(
        redeploy.trigger_detail.as_deref(),
        Some("secrets changed: DB_PASSWORD v2")
    );
    // Its page says which versions it wrote.
    let detail = bed.deploys.detail(&bed.kim, redeploy.id).await.unwrap();
    assert_eq!(detail.secret_versions, vec!["DB_PASSWORD v2".to_string()]);
    assert_eq!(
        bed.stamp("dev").await.as_deref(),
        Some("app-secrets/DB_PASSWORD=2")
    );
    assert_eq!(
        bed.secret_data("dev", "app-secrets").await.unwrap(),
        vec![("DB_PASSWORD".to_string(), "second-password".to_string())]
    );
    // The page knows the value reached the cluster.
    let page = bed.secrets.app(&bed.kim, "shop").await.unwrap();
    match &page.environments[0].groups[0].keys[0].state {
        SecretState::Set(value) => {
            assert_eq!((value.version, value.by.as_str()), (2, "kim"));
            assert!(value.in_cluster_since.is_some());
        }
        other => panic!("{other:?}"),
    }

    // An unused key, set then deleted, leaves the cluster at the next sync.
    bed.secrets
        .set(&bed.kim, "shop", "dev", "", "LEFTOVER", secret("x"))
        .await
        .unwrap();
    bed.until("synced LEFTOVER", succeeded("dev", 3)).await;
    assert_eq!(
        bed.secret_data("dev", "app-secrets").await.unwrap().len(),
        2
    );
    bed.secrets
        .delete(&bed.kim, "shop", "dev", "", "LEFTOVER")
        .await
        .unwrap();
    bed.until("synced the deletion", succeeded("dev", 4)).await;
    assert_eq!(
        bed.secret_data("dev", "app-secrets")
            .await
            .unwrap()
            .into_iter()
            .map(|(key, _)| key)
            .collect::<Vec<_>>(),
        vec!["DB_PASSWORD".to_string()]
    );
    // The stamp is unchanged: web does not read LEFTOVER.
    assert_eq!(
        bed.stamp("dev").await.as_deref(),
        Some("app-secrets/DB_PASSWORD=2")
    );

    // Roll back to version 1: a new version 3 holding the first value.
    assert_eq!(
        bed.secrets
            .roll_back(&bed.kim, "shop", "dev", "", "DB_PASSWORD", 1)
            .await
            .unwrap(),
        3
    );
    bed.until("rolled back", succeeded("dev", 5)).await;
    assert_eq!(
        bed.secret_data("dev", "app-secrets").await.unwrap(),
        vec![("DB_PASSWORD".to_string(), "first-password".to_string())]
    );

    // test: both keys by a .env import; the deploy goes through, tests and all.
    assert_eq!(
        bed.secrets
            .import(
                &bed.kim,
                "shop",
                "test",
                "",
                secret("DB_PASSWORD=test-password\n")
            )
            .await
            .unwrap(),
        1
    );
    bed.secrets
        .import(
            &bed.kim,
            "shop",
            "test",
            "web-tests",
            secret("TEST_TOKEN=token\n"),
        )
        .await
        .unwrap();
    bed.until("test deployed", succeeded("test", 1)).await;
    assert_eq!(
        bed.secret_data("test", "secret-group-web-tests")
            .await
            .unwrap(),
        vec![("TEST_TOKEN".to_string(), "token".to_string())]
    );
    // Nothing left unsynced: the engine rests.
    assert!(
        bed.store
            .unsynced_secrets(&["dev".to_string(), "test".to_string()])
            .await
            .unwrap()
            .is_empty()
    );
    let _ = &bed.repository;
    let _ = &bed.poller;
}

#[tokio::test]
async fn who_may_change_secrets_and_what_bad_input_is_told() {
    let (bed, _db) = bed().await;
    let forbidden = bed
        .secrets
        .set(&bed.lee, "shop", "dev", "", "DB_PASSWORD", secret("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&forbidden, ServiceError::Forbidden(message) if message.contains("maintainers")),
        "{forbidden:?}"
    );
    let customer_user = support::user(bed.store.as_ref(), "cara", Role::Customer).await;
    let customer = caller(&customer_user, Role::Customer);
    assert!(matches!(
        bed.secrets.app(&customer, "shop").await,
        Err(ServiceError::Forbidden(_))
    ));
    assert!(matches!(
        bed.secrets.overview(&customer, 1).await,
        Err(ServiceError::Forbidden(_))
    ));
    let invalid = |result: Result<i64, ServiceError>| match result {
        Err(ServiceError::Invalid(message)) => message,
        other => panic!("{other:?}"),
    };
    let huge = "x".repeat(app::secrets::MAX_SECRET_BYTES + 1);
    for (environment, name, value, said) in [
        ("dev", "DB-PASSWORD", "x", "letters, digits and '_'"),
        ("staging", "A", "x", "dev, test"),
        ("dev", "A", "", "needs a value"),
        ("dev", "A", huge.as_str(), "at most 64 KiB"),
    ] {
        let message = invalid(
            bed.secrets
                .set(&bed.kim, "shop", environment, "", name, secret(value))
                .await,
        );
        assert!(message.contains(said), "{message}");
    }
    // A bad import sets nothing, and says every line's problem.
    let refused = bed
        .secrets
        .import(
            &bed.kim,
            "shop",
            "dev",
            "",
            secret("GOOD=1\nDB_PASSWORD=\nGOOD=2\n"),
        )
        .await
        .unwrap_err();
    match refused {
        ServiceError::Invalid(message) => {
            assert!(
                message.contains("line 2: DB_PASSWORD has an empty value"),
                "{message}"
            );
            assert!(
                message.contains("line 3: GOOD is set on line 1 already"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        bed.store
            .latest_secrets(bed.app, "dev")
            .await
            .unwrap()
            .is_empty()
    );
    // Deleting what has no value, rolling back to what does not exist.
    assert!(matches!(
        bed.secrets
            .delete(&bed.kim, "shop", "dev", "", "NOPE")
            .await,
        Err(ServiceError::NotFound(_))
    ));
    assert!(matches!(
        bed.secrets
            .roll_back(&bed.kim, "shop", "dev", "", "NOPE", 1)
            .await,
        Err(ServiceError::NotFound(_))
    ));
    // Every change audited with key, environment and version.
    bed.secrets
        .set(&bed.kim, "shop", "dev", "", "A", secret("value"))
        .await
        .unwrap();
    let audit = bed
        .store
        .list_audit(&server::store::AuditQuery {
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    let set = audit
        .items
        .iter()
        .find(|event| event.action == "secret.set")
        .unwrap();
    assert_eq!(set.actor_name, "kim");
    assert_eq!(set.details["environment"], "dev");
    assert_eq!(set.details["keys"][0]["key"], "A");
    assert_eq!(set.details["keys"][0]["version"], 1);
}

/// Runs the canary on one store; `dump` reads everything the store holds.
async fn canary_on(store: Arc<dyn Store>, dump: impl Fn() -> Vec<u8>) {
    let logs = logs();
    let bed = bed_on(store, new_keyring()).await;
    let marker = format!("canary-{}", uuid::Uuid::new_v4().simple());
    let encoded = base64::engine::general_purpose::STANDARD.encode(&marker);
    bed.secrets
        .set(&bed.kim, "shop", "dev", "", "DB_PASSWORD", secret(&marker))
        .await
        .unwrap();
    bed.until("dev deployed", succeeded("dev", 1)).await;
    // It reached the Kubernetes Secret.
    assert_eq!(
        bed.secret_data("dev", "app-secrets").await.unwrap(),
        vec![("DB_PASSWORD".to_string(), marker.clone())]
    );
    // Every answer a page or server function gets.
    let mut answers = String::new();
    answers += &serde_json::to_string(&bed.secrets.app(&bed.kim, "shop").await.unwrap()).unwrap();
    answers += &serde_json::to_string(&bed.secrets.overview(&bed.kim, 1).await.unwrap()).unwrap();
    answers += &serde_json::to_string(
        &bed.secrets
            .versions(&bed.kim, "shop", "dev", "", "DB_PASSWORD")
            .await
            .unwrap(),
    )
    .unwrap();
    let history = bed
        .deploys
        .history(
            &bed.kim,
            HistoryFilter {
                app: "shop".into(),
                ..HistoryFilter::default()
            },
        )
        .await
        .unwrap();
    answers += &serde_json::to_string(&history).unwrap();
    for row in &history.items {
        answers +=
            &serde_json::to_string(&bed.deploys.detail(&bed.kim, row.id).await.unwrap()).unwrap();
    }
    answers +=
        &serde_json::to_string(&bed.deploys.workloads(&bed.kim, "shop").await.unwrap()).unwrap();
    let audit = bed
        .store
        .list_audit(&server::store::AuditQuery {
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    let audit = format!("{audit:?}");
    assert!(audit.contains("secret.set"));
    let stored = dump();
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    assert!(logged.contains("deploy"), "the logs were captured");
    for needle in [&marker, &encoded] {
        assert!(
            !answers.contains(needle.as_str()),
            "an answer holds {needle}"
        );
        assert!(!audit.contains(needle.as_str()), "the audit holds {needle}");
        assert!(
            !logged.contains(needle.as_str()),
            "a log line holds {needle}"
        );
        assert!(
            !String::from_utf8_lossy(&stored).contains(needle.as_str()),
            "the store holds {needle}"
        );
    }
}

#[tokio::test]
async fn a_canary_value_is_nowhere_but_in_the_kubernetes_secret_on_sqlite() {
    let (store, dir) = support::sqlite().await;
    let path = dir.path().to_path_buf();
    canary_on(store, move || {
        let mut bytes = Vec::new();
        for name in ["portal.db", "portal.db-wal", "portal.db-shm"] {
            if let Ok(mut file) = std::fs::read(path.join(name)) {
                bytes.append(&mut file);
            }
        }
        assert!(!bytes.is_empty());
        bytes
    })
    .await;
}

#[tokio::test]
async fn a_canary_value_is_nowhere_but_in_the_kubernetes_secret_on_postgres() {
    let Some((store, guard)) = support::postgres().await else {
        return;
    };
    let url = guard.url.clone();
    canary_on(store, move || {
        let dump = std::process::Command::new("pg_dump")
            .arg("--data-only")
            .arg(&url)
            .output()
            .unwrap();
        assert!(
            dump.status.success(),
            "{}",
            String::from_utf8_lossy(&dump.stderr)
        );
        assert!(String::from_utf8_lossy(&dump.stdout).contains("secret_values"));
        dump.stdout
    })
    .await;
    drop(guard);
}

#[tokio::test]
async fn a_tampered_value_is_refused_and_reported_not_used() {
    let (bed, _db) = bed().await;
    bed.secrets
        .set(
            &bed.kim,
            "shop",
            "dev",
            "",
            "DB_PASSWORD",
            secret("dev-value"),
        )
        .await
        .unwrap();
    bed.secrets
        .set(
            &bed.kim,
            "shop",
            "test",
            "",
            "DB_PASSWORD",
            secret("test-value"),
        )
        .await
        .unwrap();
    // Before the engine reaches dev, test's ciphertext is moved onto dev's row
    // (another environment), as a person with the database could.
    let dev = bed.store.latest_secrets(bed.app, "dev").await.unwrap();
    let test = bed.store.latest_secrets(bed.app, "test").await.unwrap();
    let moved = test[0].sealed.clone().unwrap();
    assert!(
        bed.store
            .rewrap_secret(dev[0].id, dev[0].sealed.as_deref().unwrap(), &moved)
            .await
            .unwrap()
    );
    let history = bed
        .until("dev failed", |history| {
            history
                .iter()
                .any(|row| row.environment == "dev" && row.status == DeploymentStatus::Failed)
        })
        .await;
    let failed = history.iter().find(|row| row.environment == "dev").unwrap();
    let reason = failed.reason.clone().unwrap();
    assert!(
        reason.contains("DB_PASSWORD (version 1) in dev does not open"),
        "{reason}"
    );
    assert!(!reason.contains("test-value"));
    // Nothing was written into the cluster with it.
    assert_eq!(bed.secret_data("dev", "app-secrets").await, None);
    // Each other way a row can move fails to open too: version, key, app.
    let scope = |app, purpose: &str, name: &str, version| server::crypto::Scope {
        app,
        purpose: Box::leak(purpose.to_string().into_boxed_str()),
        name: Box::leak(name.to_string().into_boxed_str()),
        version,
    };
    let sealed = dev[0].sealed.clone().unwrap();
    assert!(
        bed.keyring
            .open(&scope(bed.app, "secret:dev:", "DB_PASSWORD", 1), &sealed)
            .is_ok()
    );
    for wrong in [
        scope(bed.app, "secret:dev:", "DB_PASSWORD", 2),
        scope(bed.app, "secret:dev:", "OTHER", 1),
        scope(bed.app, "secret:test:", "DB_PASSWORD", 1),
        scope(uuid::Uuid::now_v7(), "secret:dev:", "DB_PASSWORD", 1),
    ] {
        assert!(matches!(
            bed.keyring.open(&wrong, &sealed),
            Err(server::crypto::CryptoError::Tampered)
        ));
    }
}

#[tokio::test]
async fn a_rotated_key_rewraps_every_value_and_they_still_deploy() {
    let (store, db) = support::sqlite().await;
    let keyring_path = db.path().join("keyring");
    let (old, _) = Keyring::open_or_create(&keyring_path, true).unwrap();
    let old_line = std::fs::read_to_string(&keyring_path).unwrap();
    {
        let bed = bed_on(store.clone(), Arc::new(old)).await;
        bed.secrets
            .set(
                &bed.kim,
                "shop",
                "dev",
                "",
                "DB_PASSWORD",
                secret("before-rotation"),
            )
            .await
            .unwrap();
        bed.until("dev deployed", succeeded("dev", 1)).await;
        let mut bed = bed;
        bed._engine.stop().await;
    }
    // Rotate: a new key first, the old one kept to open; re-wrap.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&keyring_path)
        .unwrap();
    writeln!(file, "{}", server::crypto::new_key_line("k2")).unwrap();
    file.write_all(old_line.as_bytes()).unwrap();
    drop(file);
    let (rotated, _) = Keyring::open_or_create(&keyring_path, false).unwrap();
    let report = server::secrets::rewrap::rewrap(store.as_ref(), &rotated)
        .await
        .unwrap();
    // The secret and the app's webhook secret.
    assert_eq!(
        (report.rewrapped, report.failed.len()),
        (2, 0),
        "{report:?}"
    );
    assert_eq!(
        store.sealed_rows_per_key().await.unwrap(),
        vec![("k2".to_string(), 2)]
    );
    // The old key removed: the portal starts, and the value still deploys.
    let only_new: String = std::fs::read_to_string(&keyring_path)
        .unwrap()
        .lines()
        .filter(|line| line.starts_with("k2="))
        .collect();
    std::fs::write(&keyring_path, &only_new).unwrap();
    let keyring = server::apps::open_keyring(store.as_ref(), Some(&keyring_path), db.path())
        .await
        .unwrap();
    let secrets = store
        .latest_secrets(store_app(&store).await, "dev")
        .await
        .unwrap();
    assert!(
        secrets[0]
            .sealed
            .as_deref()
            .unwrap()
            .starts_with("dscloud:v1:k2:")
    );
    let bed = bed_on_existing(store.clone(), keyring).await;
    bed.secrets
        .set(
            &bed.kim,
            "shop",
            "dev",
            "",
            "OTHER",
            secret("after-rotation"),
        )
        .await
        .unwrap();
    bed.until("redeployed after rotation", succeeded("dev", 2))
        .await;
    let data = bed.secret_data("dev", "app-secrets").await.unwrap();
    assert!(data.contains(&("DB_PASSWORD".to_string(), "before-rotation".to_string())));
}

async fn store_app(store: &Arc<dyn Store>) -> uuid::Uuid {
    store.app_by_name("shop").await.unwrap().id
}

/// The engine and services on an existing store (the app registered).
async fn bed_on_existing(store: Arc<dyn Store>, keyring: Arc<Keyring>) -> Bed {
    let dir = tempfile::tempdir().unwrap();
    let (sandbox, client) = support::cluster(Behaviour::instant()).await;
    let portal = support::rbac::AsPortal::install(&sandbox, &client).await;
    let app = store.app_by_name("shop").await.unwrap();
    let kim = store.user_by_username("kim").await.unwrap();
    let lee = support::user(store.as_ref(), "lee2", Role::Developer).await;
    let (secrets, deploys, engine) = services(&store, &keyring, &portal.client);
    let git = Git::new(dir.path().join("git"));
    Bed {
        secrets,
        deploys,
        poller: Poller::new(store.clone(), keyring.clone(), git),
        store,
        keyring,
        client,
        _sandbox: sandbox,
        _portal: portal,
        repository: Repository::new(),
        app: app.id,
        kim: caller(&kim, Role::Developer),
        lee: caller(&lee, Role::Developer),
        _engine: engine,
        _dir: dir,
    }
}

#[tokio::test]
async fn a_wrong_keyring_refuses_to_start() {
    let (store, db) = support::sqlite().await;
    let path = db.path().join("keyring");
    let (keyring, _) = Keyring::open_or_create(&path, true).unwrap();
    let bed = bed_on(store.clone(), Arc::new(keyring)).await;
    bed.secrets
        .set(&bed.kim, "shop", "dev", "", "DB_PASSWORD", secret("v"))
        .await
        .unwrap();
    drop(bed);
    // Same key id, another key: every value would fail to open.
    let other = db.path().join("other-keyring");
    std::fs::write(&other, server::crypto::new_key_line("k1")).unwrap();
    let refused = server::apps::open_keyring(store.as_ref(), Some(&other), db.path())
        .await
        .unwrap_err();
    assert!(refused.contains("\"k1\" opens none"), "{refused}");
    // A keyring without the key: named.
    std::fs::write(&other, server::crypto::new_key_line("k9")).unwrap();
    let refused = server::apps::open_keyring(store.as_ref(), Some(&other), db.path())
        .await
        .unwrap_err();
    assert!(refused.contains("sealed with key \"k1\""), "{refused}");
    // The right one starts.
    assert!(
        server::apps::open_keyring(store.as_ref(), Some(&path), db.path())
            .await
            .is_ok()
    );
}
