//! Set-up the integration suites share: a fresh store, a sandbox cluster
//! with the operators' real CRDs, users. Each suite takes what it needs.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod git;
pub mod openmetrics;
pub mod process;
pub mod rbac;
pub mod registry;
pub mod visitors;

use std::path::PathBuf;
use std::sync::Arc;

use app::roles::Role;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, PostParams};
use sandbox::{Behaviour, Sandbox};
use server::store::{self, NewUser, Store, User};

/// The portal's whole router on `store`, configured by `args`, with no
/// cluster, apps, deploys or secrets behind it.
pub fn router_on(store: Arc<dyn Store>, args: &server::cli::ServeArgs) -> axum::Router {
    server::http::router(app_state(store, args), args, None).unwrap()
}

/// The portal's state with only a store: no cluster, no engines, no keyring.
pub fn app_state(store: Arc<dyn Store>, args: &server::cli::ServeArgs) -> server::http::AppState {
    server::http::AppState {
        leptos_options: server::http::leptos_options(args),
        store,
        kubernetes: None,
        regions: Vec::new(),
        webhooks: None,
        apps: None,
        deploys: None,
        secrets: None,
    }
}

/// A migrated store in a fresh SQLite file; the directory lives as long as
/// the returned guard.
pub async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("portal.db").display());
    let store = store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

/// The operators' real CRDs, from ../shared/crds.
pub fn real_crds() -> Vec<CustomResourceDefinition> {
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/crds");
    [
        "cassandra.datastax.com_cassandradatacenters.yaml",
        "postgresql.cnpg.io_clusters.yaml",
    ]
    .iter()
    .map(|file| {
        let text = std::fs::read_to_string(directory.join(file)).unwrap_or_else(|error| {
            panic!("the real CRD {file} must be in ../shared/crds: {error}")
        });
        serde_saphyr::from_str(&text).unwrap()
    })
    .collect()
}

/// A sandbox with simulated controllers and the real CRDs, installed
/// through its API as a cluster admin would.
pub async fn cluster(behaviour: Behaviour) -> (Sandbox, Client) {
    let sandbox = Sandbox::with_controllers(behaviour);
    let client = Client::new(sandbox.router(), "default");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in real_crds() {
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
    (sandbox, client)
}

/// A fresh session of 8 hours for the user: its cookie
/// (`dscloud_session=…`) and its token's hash, as the store keys it.
pub async fn session(store: &dyn Store, user_id: uuid::Uuid) -> (String, String) {
    let token = server::auth::session::new_token();
    let token_hash = server::auth::session::token_hash(&token);
    let now = chrono::Utc::now();
    store
        .create_session(store::NewSession {
            token_hash: token_hash.clone(),
            user_id,
            created_at: now,
            expires_at: now + chrono::Duration::hours(8),
            client_address: None,
            user_agent: None,
        })
        .await
        .unwrap();
    (format!("dscloud_session={token}"), token_hash)
}

/// A user without a password (services are called directly).
pub async fn user(store: &dyn Store, username: &str, role: Role) -> User {
    store
        .create_user(NewUser {
            username: username.into(),
            display_name: username.into(),
            email: None,
            role,
            password_hash: None,
            oidc_identity: None,
            audit: None,
        })
        .await
        .unwrap()
}

/// How many namespaces Kubernetes has for a database (by its label).
pub async fn namespaces_of(client: &Client, database: uuid::Uuid) -> usize {
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let selector = format!(
        "{}={database}",
        server::provisioning::objects::DATABASE_LABEL
    );
    namespaces
        .list(&kube::api::ListParams::default().labels(&selector))
        .await
        .unwrap()
        .items
        .len()
}

/// A small database of `engine` owned by `owner`, created in the store
/// (as the create form does).
pub async fn create_database(
    store: &dyn Store,
    owner: uuid::Uuid,
    name: &str,
    engine: &str,
) -> store::DatabaseRecord {
    store
        .create_database(new_database(owner, name, engine, "small"))
        .await
        .unwrap()
        .into_record()
}

/// A new database's desired state, by engine name and tier name.
pub fn new_database(
    owner_id: uuid::Uuid,
    name: &str,
    engine: &str,
    tier: &str,
) -> server::store::NewDatabase {
    server::store::NewDatabase {
        id: uuid::Uuid::now_v7(),
        owner_id,
        name: name.into(),
        engine: engine.parse().unwrap(),
        tier: *app::databases::tier(tier).unwrap(),
        region: "local".into(),
        schema_name: "shop".into(),
        request_key: None,
        audit: None,
    }
}

/// The store a service, engine or HTTP suite runs on: SQLite by default,
/// PostgreSQL with `PORTAL_TEST_STORE=postgres` (`make unit` runs some suites
/// so). The guard keeps a scratch directory either way (git checkouts and
/// the like) and drops the PostgreSQL database.
pub async fn store() -> (Arc<dyn Store>, TestDir) {
    match std::env::var("PORTAL_TEST_STORE").as_deref() {
        Ok("postgres") => {
            let (store, guard) = postgres().await.unwrap_or_else(|| {
                panic!("PORTAL_TEST_STORE=postgres, but PostgreSQL is unreachable")
            });
            let dir = tempfile::tempdir().unwrap();
            (
                store,
                TestDir {
                    dir,
                    _postgres: Some(guard),
                },
            )
        }
        Ok("sqlite") | Err(_) => {
            let (store, dir) = sqlite().await;
            (
                store,
                TestDir {
                    dir,
                    _postgres: None,
                },
            )
        }
        Ok(other) => panic!("PORTAL_TEST_STORE is sqlite or postgres, not {other:?}"),
    }
}

/// A suite's scratch directory, and its PostgreSQL database when it has one.
pub struct TestDir {
    dir: tempfile::TempDir,
    _postgres: Option<PostgresGuard>,
}

impl TestDir {
    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The PostgreSQL database's URL, when the suite runs on one.
    pub fn postgres_url(&self) -> Option<&str> {
        self._postgres
            .as_ref()
            .map(|postgres| postgres.url.as_str())
    }

    /// The SQLite file's URL (meaningful when `postgres_url` is `None`).
    pub fn sqlite_url(&self) -> String {
        format!("sqlite://{}", self.path().join("portal.db").display())
    }

    /// From now on, writing an audit event fails (a trigger refuses it),
    /// on whichever database the suite runs; `lift` ends that.
    pub async fn refuse_audit_writes(&self) -> AuditRefusal {
        use sqlx::Connection as _;
        sqlx::any::install_default_drivers();
        let (url, statements): (String, &[&str]) = match &self._postgres {
            Some(postgres) => (
                postgres.url.clone(),
                &[
                    "CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ \
                     BEGIN RAISE EXCEPTION 'the audit log is unavailable'; END $$ LANGUAGE plpgsql",
                    "CREATE TRIGGER audit_refused BEFORE INSERT ON audit_events \
                     FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
                ],
            ),
            None => (
                format!("sqlite://{}", self.path().join("portal.db").display()),
                &[
                    "CREATE TRIGGER audit_refused BEFORE INSERT ON audit_events \
                     BEGIN SELECT RAISE(ABORT, 'the audit log is unavailable'); END",
                ],
            ),
        };
        let mut connection = sqlx::AnyConnection::connect(&url).await.unwrap();
        for statement in statements {
            sqlx::query(statement)
                .execute(&mut connection)
                .await
                .unwrap();
        }
        AuditRefusal {
            connection,
            postgres: self._postgres.is_some(),
        }
    }
}

/// Audit writes refused until `lift`.
pub struct AuditRefusal {
    connection: sqlx::AnyConnection,
    postgres: bool,
}

impl AuditRefusal {
    pub async fn lift(mut self) {
        let statement = if self.postgres {
            "DROP TRIGGER audit_refused ON audit_events"
        } else {
            "DROP TRIGGER audit_refused"
        };
        sqlx::query(statement)
            .execute(&mut self.connection)
            .await
            .unwrap();
    }
}

/// A migrated store in a fresh PostgreSQL database (dropped with the
/// guard); `None` when PostgreSQL is unreachable and not required
/// (`PORTAL_REQUIRE_POSTGRES=1` makes that a failure).
pub async fn postgres() -> Option<(Arc<dyn Store>, PostgresGuard)> {
    let Some(guard) = empty_postgres().await else {
        tally("skipped");
        return None;
    };
    let store = store::connect(&guard.url).await.unwrap();
    store.migrate().await.unwrap();
    tally("ran");
    Some((store, guard))
}

/// A fresh PostgreSQL database with nothing in it, not even migrations
/// (dropped with the guard); `None` as for [`postgres`].
pub async fn empty_postgres() -> Option<PostgresGuard> {
    use sqlx::Connection as _;
    let admin_url = std::env::var("PORTAL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
    let required = std::env::var("PORTAL_REQUIRE_POSTGRES").is_ok_and(|value| value == "1");
    let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
        Ok(connection) => connection,
        Err(error) if !required => {
            eprintln!("SKIPPED: PostgreSQL at {admin_url} is unreachable ({error})");
            return None;
        }
        Err(error) => panic!("PostgreSQL is required but unreachable at {admin_url}: {error}"),
    };
    let database = format!("portal_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {database}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let slash = admin_url.rfind('/').unwrap();
    let url = format!("{}/{database}", &admin_url[..slash]);
    Some(PostgresGuard {
        admin_url,
        database,
        url,
    })
}

/// Notes one PostgreSQL test as `ran` or `skipped` in the file
/// `PORTAL_POSTGRES_TALLY` names (`make unit` counts them: the harness
/// says "ok" for a skipped test too).
fn tally(outcome: &str) {
    use std::io::Write as _;
    let Ok(path) = std::env::var("PORTAL_POSTGRES_TALLY") else {
        return;
    };
    let test = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_string();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path);
    // One write per line: appends from parallel tests do not interleave.
    if let Ok(mut file) = file {
        let _ = file.write_all(format!("{outcome} {test}\n").as_bytes());
    }
}

/// Drops its database when the test ends.
pub struct PostgresGuard {
    admin_url: String,
    database: String,
    pub url: String,
}

impl Drop for PostgresGuard {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .arg(&self.admin_url)
            .arg("-qc")
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.database
            ))
            .output();
    }
}

/// Every Job the cluster ever created, by namespace and name, counted from a watch
/// that starts before the engine.
pub fn count_created_jobs(
    client: &kube::Client,
) -> Arc<std::sync::Mutex<std::collections::BTreeMap<String, u32>>> {
    let counts = Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::new()));
    let jobs: Api<k8s_openapi::api::batch::v1::Job> = Api::all(client.clone());
    let seen = counts.clone();
    tokio::spawn(async move {
        use futures_util::StreamExt as _;
        let mut stream = jobs
            .watch(&kube::api::WatchParams::default().timeout(290), "0")
            .await
            .unwrap()
            .boxed();
        while let Some(Ok(event)) = stream.next().await {
            if let kube::api::WatchEvent::Added(job) = event {
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

/// Registering app `name` from `url`'s default branch, built by the portal,
/// polled at the default interval, with no credentials or maintainers.
pub fn registration(name: &str, url: &str) -> server::apps::service::Registration {
    server::apps::service::Registration {
        name: name.into(),
        repository_url: url.into(),
        branch: String::new(),
        poll_interval_seconds: None,
        credentials: None,
        maintainers: Vec::new(),
        build: server::store::BuildMode::Portal,
    }
}
