//! Two `portal` processes against one PostgreSQL and one cluster (a sandbox
//! served over TLS), as deploy/ runs them: both answer, exactly one leads
//! each engine, and when a leader is killed with SIGKILL in the middle of
//! its work the other takes over within 20 s and finishes it with nothing
//! done twice: a provision (a live view open on the survivor sees it end),
//! and a promotion through dev, test and prod.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::databases::Status;
use app::roles::Role;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use sandbox::{Behaviour, Sandbox};
use server::store::Store;

mod support;

use support::openmetrics;
use support::process::Running;

const PROVISIONING: &str = "provisioning/local";
const CREDENTIALS: &str = server::provisioning::objects::CREDENTIALS_SECRET;

struct Replica {
    process: Running,
    address: String,
}

async fn get(url: &str) -> Option<reqwest::Response> {
    reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()
}

/// Whether the replica says it leads `engine` (its `/metrics`).
async fn leads(replica: &Replica, engine: &str) -> Option<bool> {
    let answer = get(&format!("{}/metrics", replica.address)).await?;
    let scrape = openmetrics::parse(&answer.text().await.ok()?);
    let labels = [("engine", engine)];
    Some(scrape.value("dscloud_engine_leader", &labels) == 1.0)
}

/// The index of the one replica leading `engine`, once exactly one does.
async fn leader_of(replicas: &[Replica], engine: &str, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        let mut leading = Vec::new();
        for (index, replica) in replicas.iter().enumerate() {
            if leads(replica, engine).await == Some(true) {
                leading.push(index);
            }
        }
        if let [one] = leading.as_slice() {
            return *one;
        }
        assert!(
            Instant::now() < deadline,
            "not exactly one leader of {engine}: {leading:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One PostgreSQL database, one sandbox served over TLS, a shared keyring:
/// what the replicas of a Deployment share.
struct Bed {
    store: Arc<dyn Store>,
    postgres: support::PostgresGuard,
    admin: kube::Client,
    _sandbox: Sandbox,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    keyring: PathBuf,
}

impl Bed {
    async fn new(behaviour: Behaviour) -> Option<Bed> {
        let (store, postgres) = support::postgres().await?;
        let (sandbox, admin) = support::cluster(behaviour).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let served = sandbox.serve(listener, "replicas-token").await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, served.kubeconfig()).unwrap();
        // One keyring for all, as a mounted Secret would be.
        let keyring = dir.path().join("keyring");
        std::fs::write(&keyring, server::crypto::new_key_line("k1") + "\n").unwrap();
        std::fs::set_permissions(
            &keyring,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        Some(Bed {
            store,
            postgres,
            admin,
            _sandbox: sandbox,
            dir,
            kubeconfig,
            keyring,
        })
    }

    /// A replica, started and ready.
    async fn replica(&self, name: &str) -> Replica {
        let arguments = [
            "--database-url",
            self.postgres.url.as_str(),
            "--kubernetes",
            "cluster",
            "--keyring",
            self.keyring.to_str().unwrap(),
        ];
        let environment = [("KUBECONFIG", self.kubeconfig.to_str().unwrap())];
        let mut process =
            Running::start_with(&self.dir.path().join(name), &arguments, &environment);
        let address = process.address();
        let ready = get(&format!("{address}/readyz")).await.unwrap();
        assert_eq!(ready.status(), 200, "{address} is not ready");
        Replica { process, address }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_survivor_of_a_killed_leader_finishes_the_provision_and_its_viewers_see_it() {
    // The operator takes 6 s: the kill lands while the database initializes.
    let Some(bed) = Bed::new(Behaviour {
        operator_ready: Duration::from_secs(6),
        ..Behaviour::instant()
    })
    .await
    else {
        return;
    };
    let (store, admin) = (&bed.store, &bed.admin);
    let mut replicas = vec![bed.replica("a").await, bed.replica("b").await];
    for engine in [PROVISIONING, "deploy", "git-poller"] {
        leader_of(&replicas, engine, Duration::from_secs(20)).await;
    }
    let leader = leader_of(&replicas, PROVISIONING, Duration::from_secs(1)).await;
    let survivor = 1 - leader;

    // A customer watches the database's live view on the survivor.
    let cora = support::user(store.as_ref(), "cora", Role::Customer).await;
    let (cookie, _) = support::session(store.as_ref(), cora.id).await;
    let database = support::create_database(store.as_ref(), cora.id, "orders", "postgresql").await;
    let seen = Arc::new(Mutex::new(String::new()));
    {
        let url = format!(
            "{}/databases/{}/events",
            replicas[survivor].address, database.id
        );
        let seen = seen.clone();
        let mut stream = reqwest::Client::new()
            .get(url)
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), 200);
        tokio::spawn(async move {
            while let Ok(Some(chunk)) = stream.chunk().await {
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&chunk));
            }
        });
    }
    let jobs = support::count_created_jobs(admin);

    // Mid-provision: the objects are there, the operator not done.
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.database(database.id).await.unwrap().status != Status::Initializing {
        assert!(Instant::now() < deadline, "never INITIALIZING");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let namespace = format!("db-{}", database.id.simple());
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), &namespace);
    let credentials = secrets.get(CREDENTIALS).await.unwrap().metadata.uid;
    replicas[leader].process.child.kill().unwrap();
    replicas[leader].process.child.wait().unwrap();
    let killed = Instant::now();

    let taken_over = leader_of(
        &replicas[survivor..=survivor],
        PROVISIONING,
        Duration::from_secs(25),
    )
    .await;
    assert_eq!(taken_over, 0);
    let takeover = killed.elapsed();
    assert!(
        takeover < Duration::from_secs(20),
        "took over after {takeover:?}"
    );
    while store.database(database.id).await.unwrap().status != Status::Active {
        assert!(
            killed.elapsed() < Duration::from_secs(40),
            "not ACTIVE 40 s after the kill"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Nothing twice: the same credentials, each Job created once.
    assert_eq!(
        secrets.get(CREDENTIALS).await.unwrap().metadata.uid,
        credentials
    );
    let created = jobs.lock().unwrap().clone();
    assert!(
        !created.is_empty() && created.values().all(|count| *count == 1),
        "a Job created twice: {created:?}"
    );
    // The live view on the survivor saw INITIALIZING, then ACTIVE.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = seen.lock().unwrap().clone();
        if text.contains("\"ACTIVE\"") {
            assert!(text.contains("\"INITIALIZING\""), "{text}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the live view never showed ACTIVE: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("provisioning taken over {takeover:?} after the kill");
    replicas[survivor].process.terminate();
}

const APP_FILE: &str = "microservices:\n  web:\n    environmentConfiguration:\n      dev: {}\n      test: {}\n      prod: {}\n";

/// Registers `shop` from a fresh repository, as a developer would.
async fn register_app(bed: &Bed) -> (uuid::Uuid, support::git::Repository) {
    let keyring = std::fs::read_to_string(&bed.keyring).unwrap();
    let keyring = Arc::new(server::crypto::Keyring::parse(&keyring, "test").unwrap());
    let git = server::git::Git::new(bed.dir.path().join("registering"));
    let dana = support::user(bed.store.as_ref(), "dana", Role::Developer).await;
    let caller = app::caller::Caller {
        username: Some(dana.username.clone()),
        role: Some(Role::Developer),
        session_hash: None,
        address: None,
        user_id: Some(dana.id.to_string()),
    };
    let repository = support::git::Repository::new();
    repository.commit(&[("dscloud.yaml", APP_FILE)], "First version");
    repository.push("main");
    let registered = server::apps::service::AppService::new(bed.store.clone(), keyring, git, None)
        .register(&caller, support::registration("shop", &repository.url()))
        .await
        .unwrap();
    (registered.app.id, repository)
}

async fn history(store: &dyn Store, app: uuid::Uuid) -> Vec<server::store::DeploymentRecord> {
    store
        .deployments(&server::store::DeploymentQuery {
            app: Some(app),
            limit: 100,
            ..server::store::DeploymentQuery::default()
        })
        .await
        .unwrap()
        .items
}

#[tokio::test(flavor = "multi_thread")]
async fn the_survivor_of_a_killed_deploy_leader_finishes_the_promotion_once() {
    use app::deploys::DeploymentStatus;
    // Rollouts take 4 s: the kill lands while dev rolls out.
    let Some(bed) = Bed::new(Behaviour {
        rollout: Duration::from_secs(4),
        ..Behaviour::instant()
    })
    .await
    else {
        return;
    };
    let mut replicas = vec![bed.replica("a").await, bed.replica("b").await];
    let leader = leader_of(&replicas, "deploy", Duration::from_secs(20)).await;
    let survivor = 1 - leader;
    let jobs = support::count_created_jobs(&bed.admin);
    let (app, _repository) = register_app(&bed).await;

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = history(bed.store.as_ref(), app).await;
        if rows
            .iter()
            .any(|row| row.environment == "dev" && row.status == DeploymentStatus::RollingOut)
        {
            break;
        }
        assert!(Instant::now() < deadline, "dev never rolled out: {rows:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    replicas[leader].process.child.kill().unwrap();
    replicas[leader].process.child.wait().unwrap();
    let killed = Instant::now();
    leader_of(
        &replicas[survivor..=survivor],
        "deploy",
        Duration::from_secs(25),
    )
    .await;
    let takeover = killed.elapsed();
    assert!(
        takeover < Duration::from_secs(20),
        "took over after {takeover:?}"
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    let rows = loop {
        let rows = history(bed.store.as_ref(), app).await;
        let settled = rows.iter().all(|row| row.finished_at.is_some());
        if settled && rows.iter().any(|row| row.environment == "prod") {
            break rows;
        }
        assert!(Instant::now() < deadline, "not promoted to prod: {rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // One deployment per environment, each succeeded; each Job created once.
    for environment in ["dev", "test", "prod"] {
        let of: Vec<_> = rows
            .iter()
            .filter(|row| row.environment == environment)
            .collect();
        assert_eq!(of.len(), 1, "{environment}: {of:?}");
        assert_eq!(
            of[0].status,
            DeploymentStatus::Succeeded,
            "{environment}: {of:?}"
        );
    }
    let created = jobs.lock().unwrap().clone();
    assert!(
        !created.is_empty() && created.values().all(|count| *count == 1),
        "a Job created twice: {created:?}"
    );
    eprintln!("deploy taken over {takeover:?} after the kill");
    replicas[survivor].process.terminate();
}
