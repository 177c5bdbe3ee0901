//! The provisioning engine end to end on the sandbox, with the operators'
//! real CRDs and simulated controllers: databases become ACTIVE, park and
//! resume, terminate; a restart mid-provision and injected API faults still
//! converge, with nothing created twice.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use app::roles::Role;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, ListParams, PostParams};
use sandbox::{Behaviour, Failure, Fault, Sandbox, Verb};
use server::provisioning::engine::ProvisioningEngine;
use server::provisioning::objects;
use server::store::{self, DatabaseRecord, NewDatabase, NewUser, Store};
use uuid::Uuid;

struct Bed {
    store: Arc<dyn Store>,
    client: Client,
    sandbox: Sandbox,
    owner: Uuid,
    _dir: tempfile::TempDir,
}

async fn bed() -> Bed {
    let sandbox = Sandbox::with_controllers(Behaviour {
        operator_ready: Duration::from_millis(300),
        job_run: Duration::from_millis(100),
        ..Behaviour::default()
    });
    let client = Client::new(sandbox.router(), "default");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/crds");
    for file in [
        "cassandra.datastax.com_cassandradatacenters.yaml",
        "postgresql.cnpg.io_clusters.yaml",
    ] {
        let text = std::fs::read_to_string(directory.join(file)).unwrap();
        let crd: CustomResourceDefinition = serde_saphyr::from_str(&text).unwrap();
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("portal.db").display());
    let store = store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let owner = store
        .create_user(NewUser {
            username: "cora".into(),
            display_name: "Cora Customer".into(),
            email: None,
            role: Role::Customer,
            password_hash: None,
            oidc_identity: None,
        })
        .await
        .unwrap()
        .id;
    Bed {
        store,
        client,
        sandbox,
        owner,
        _dir: dir,
    }
}

impl Bed {
    async fn create(&self, name: &str, engine: &str) -> DatabaseRecord {
        self.store
            .create_database(NewDatabase {
                owner_id: self.owner,
                name: name.into(),
                engine: engine.into(),
                tier: "small".into(),
                region: "local".into(),
                schema_name: "shop".into(),
                request_key: None,
            })
            .await
            .unwrap()
    }

    fn engine(&self) -> ProvisioningEngine {
        ProvisioningEngine::new(self.store.clone(), self.client.clone())
    }

    /// Runs passes until every listed database reports `status`.
    async fn until(&self, engine: &ProvisioningEngine, ids: &[Uuid], status: &str) -> Vec<String> {
        let mut seen = Vec::new();
        // Backoff after faults can reach seconds: a deadline, not a count.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            let _ = engine.pass().await;
            let mut done = true;
            for id in ids {
                let db = self.store.database(*id).await.unwrap();
                if seen.last() != Some(&db.status) {
                    seen.push(db.status.clone());
                }
                done &= db.status == status && db.settled;
            }
            if done {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("never all {status}; statuses seen {seen:?}");
    }

    async fn namespaces_of(&self, id: Uuid) -> usize {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let selector = format!("{}={id}", objects::DATABASE_LABEL);
        namespaces
            .list(&ListParams::default().labels(&selector))
            .await
            .unwrap()
            .items
            .len()
    }
}

#[tokio::test]
async fn cassandra_and_postgresql_become_active_then_park_resume_and_terminate() {
    let bed = bed().await;
    let cassandra = bed.create("orders", "cassandra").await;
    let postgres = bed.create("ledger", "postgresql").await;
    let engine = bed.engine();
    let seen = bed.until(&engine, &[cassandra.id], "ACTIVE").await;
    assert_eq!(seen, ["PENDING", "INITIALIZING", "ACTIVE"]);
    bed.until(&engine, &[cassandra.id, postgres.id], "ACTIVE")
        .await;

    let steps: Vec<String> = bed
        .store
        .steps(cassandra.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.step)
        .collect();
    assert_eq!(
        steps,
        [
            "namespace",
            "resource quota",
            "network policy",
            "credentials",
            "operator resource",
            "configuration job",
            "configured"
        ]
    );
    let db = bed.store.database(cassandra.id).await.unwrap();
    assert!(db.configured);
    let secrets: Api<Secret> =
        Api::namespaced(bed.client.clone(), &format!("db-{}", cassandra.id.simple()));
    assert!(secrets.get(objects::CREDENTIALS_SECRET).await.is_ok());

    bed.store
        .set_database_intent(cassandra.id, "parked", "small")
        .await
        .unwrap();
    bed.store
        .set_database_intent(postgres.id, "parked", "small")
        .await
        .unwrap();
    bed.until(&engine, &[cassandra.id, postgres.id], "PARKED")
        .await;
    bed.store
        .set_database_intent(postgres.id, "running", "small")
        .await
        .unwrap();
    let seen = bed.until(&engine, &[postgres.id], "ACTIVE").await;
    assert!(seen.contains(&"RESUMING".to_string()), "{seen:?}");

    bed.store
        .set_database_intent(cassandra.id, "terminated", "small")
        .await
        .unwrap();
    let seen = bed.until(&engine, &[cassandra.id], "TERMINATED").await;
    assert!(seen.contains(&"TERMINATING".to_string()), "{seen:?}");
    assert_eq!(bed.namespaces_of(cassandra.id).await, 0);
    // The row stays as history.
    assert_eq!(
        bed.store.database(cassandra.id).await.unwrap().name,
        "orders"
    );
}

#[tokio::test]
async fn a_restart_mid_provision_finishes_without_creating_anything_twice() {
    let bed = bed().await;
    let db = bed.create("events", "cassandra").await;
    {
        let first = bed.engine();
        first.pass().await.unwrap();
        // The process dies here: objects exist, the operator is still working.
    }
    let secrets: Api<Secret> =
        Api::namespaced(bed.client.clone(), &format!("db-{}", db.id.simple()));
    let before = secrets.get(objects::CREDENTIALS_SECRET).await.unwrap();
    let second = bed.engine();
    bed.until(&second, &[db.id], "ACTIVE").await;
    let after = secrets.get(objects::CREDENTIALS_SECRET).await.unwrap();
    assert_eq!(
        before.metadata.resource_version, after.metadata.resource_version,
        "credentials kept"
    );
    assert_eq!(bed.namespaces_of(db.id).await, 1);
    let applied = bed
        .store
        .steps(db.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|step| step.step == "operator resource")
        .count();
    assert_eq!(
        applied, 1,
        "the resource is applied once across the restart"
    );
}

#[tokio::test]
async fn api_faults_are_retried_and_the_database_still_converges() {
    let bed = bed().await;
    // Three writes in ten fail with 500, and the first two applies of a namespace answer 429.
    bed.sandbox
        .faults()
        .inject(Fault::always(Failure::Internal).on(Verb::Patch).rate(0.3));
    bed.sandbox.faults().inject(
        Fault::always(Failure::TooManyRequests {
            retry_after_seconds: 0,
        })
        .for_resource("namespaces")
        .on(Verb::Patch)
        .times(2),
    );
    let db = bed.create("flaky", "postgresql").await;
    let engine = bed.engine();
    bed.until(&engine, &[db.id], "ACTIVE").await;
    let steps = bed.store.steps(db.id).await.unwrap();
    assert!(
        steps.iter().any(|step| step.outcome == "failure"),
        "faults were hit and recorded"
    );
    assert!(
        steps.iter().all(|step| step.outcome != "running"),
        "every step finished"
    );
    assert_eq!(bed.namespaces_of(db.id).await, 1);
}

#[tokio::test]
async fn a_database_with_an_unknown_tier_is_an_error_at_once() {
    let bed = bed().await;
    let db = bed.create("odd", "cassandra").await;
    bed.store
        .set_database_intent(db.id, "running", "gigantic")
        .await
        .unwrap();
    let engine = bed.engine();
    engine.pass().await.unwrap();
    let db = bed.store.database(db.id).await.unwrap();
    assert_eq!(db.status, "ERROR");
    assert!(db.settled);
    assert!(db.status_message.unwrap_or_default().contains("gigantic"));
    assert_eq!(bed.namespaces_of(db.id).await, 0);
}
