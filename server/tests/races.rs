//! The races a customer's request can have with the provisioning engine,
//! made deterministic: a store wrapper lands a change (terminate, resize,
//! rotation) just before the engine's report, or fails a write to cut a
//! reconcile short as a crash would. Whatever lands when, the database ends
//! as the customer last asked, and nothing is done twice.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::databases::{Intent, Status};
use app::roles::Role;
use async_trait::async_trait;
use axum::http::Method;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;
use sandbox::{Behaviour, Fault, Sandbox, Verb};
use server::provisioning::engine::ProvisioningEngine;
use server::provisioning::objects;
use server::store::{
    Creation, DatabaseQuery, DatabaseRecord, DatabaseStore, DesiredChange, EngineReport, Fence,
    NewDatabase, Page, ProvisioningStep, Reported, Store, StoreError, StoreResult,
};
use uuid::Uuid;

mod support;

/// The real store, with one interleaving armed at a time.
struct Interleaving {
    inner: Arc<dyn Store>,
    /// Landed on the inner store just before the engine's next report that
    /// would settle the database: the moment a lost update would stick.
    before_report: Mutex<Option<(Uuid, DesiredChange)>>,
    /// The next finish of a step with this name fails, as if the process
    /// had died right after the step's Kubernetes write.
    crash_after_step: Mutex<Option<String>>,
    running_steps: Mutex<Vec<(i64, String)>>,
}

impl Interleaving {
    fn new(inner: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Interleaving {
            inner,
            before_report: Mutex::new(None),
            crash_after_step: Mutex::new(None),
            running_steps: Mutex::new(Vec::new()),
        })
    }

    fn land_before_report(&self, id: Uuid, change: DesiredChange) {
        *self.before_report.lock().unwrap() = Some((id, change));
    }

    fn landed(&self) -> bool {
        self.before_report.lock().unwrap().is_none()
    }
}

#[async_trait]
impl DatabaseStore for Interleaving {
    async fn create_database(&self, database: NewDatabase) -> StoreResult<Creation> {
        self.inner.create_database(database).await
    }
    async fn database(&self, id: Uuid) -> StoreResult<DatabaseRecord> {
        self.inner.database(id).await
    }
    async fn list_databases(&self, query: &DatabaseQuery) -> StoreResult<Page<DatabaseRecord>> {
        self.inner.list_databases(query).await
    }
    async fn change_database(
        &self,
        id: Uuid,
        change: DesiredChange,
        audit: Option<&server::store::NewAuditEvent>,
    ) -> StoreResult<DatabaseRecord> {
        self.inner.change_database(id, change, audit).await
    }
    async fn pending_databases(
        &self,
        region: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<server::store::Pending>> {
        self.inner.pending_databases(region, limit).await
    }
    async fn report_database(
        &self,
        id: Uuid,
        fence: Option<&Fence>,
        report: &EngineReport,
    ) -> StoreResult<Reported> {
        let armed = self.before_report.lock().unwrap().take();
        match armed {
            Some((target, change)) if target == id && report.settled => {
                self.inner.change_database(id, change, None).await.unwrap();
            }
            other => *self.before_report.lock().unwrap() = other,
        }
        self.inner.report_database(id, fence, report).await
    }
    async fn report_unreadable_database(
        &self,
        id: Uuid,
        fence: Option<&Fence>,
        reason: &str,
    ) -> StoreResult<()> {
        self.inner
            .report_unreadable_database(id, fence, reason)
            .await
    }
    async fn start_step(
        &self,
        database_id: Uuid,
        fence: Option<&Fence>,
        step: &str,
        attempt: i32,
    ) -> StoreResult<i64> {
        let id = self
            .inner
            .start_step(database_id, fence, step, attempt)
            .await?;
        self.running_steps
            .lock()
            .unwrap()
            .push((id, step.to_string()));
        Ok(id)
    }
    async fn finish_step(
        &self,
        step_id: i64,
        outcome: &str,
        message: Option<&str>,
    ) -> StoreResult<()> {
        let name = self
            .running_steps
            .lock()
            .unwrap()
            .iter()
            .find(|(id, _)| *id == step_id)
            .map(|(_, name)| name.clone());
        let crashed = {
            let mut crash = self.crash_after_step.lock().unwrap();
            let hit = name.is_some() && *crash == name;
            if hit {
                *crash = None;
            }
            hit
        };
        if crashed {
            return Err(StoreError::Corrupt("the process died here".into()));
        }
        self.inner.finish_step(step_id, outcome, message).await
    }
    async fn steps(&self, database_id: Uuid) -> StoreResult<Vec<ProvisioningStep>> {
        self.inner.steps(database_id).await
    }
    async fn database_marks(&self, ids: &[Uuid]) -> StoreResult<Vec<(Uuid, String)>> {
        self.inner.database_marks(ids).await
    }
    fn database_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.database_changes()
    }
    async fn provisioning_durations(
        &self,
        engine: app::databases::Engine,
        limit: u32,
    ) -> StoreResult<Vec<f64>> {
        self.inner.provisioning_durations(engine, limit).await
    }
}

struct Bed {
    store: Arc<dyn Store>,
    interleaving: Arc<Interleaving>,
    /// The engine's (and the checks'): the portal's ServiceAccount under
    /// deploy/'s roles.
    client: Client,
    sandbox: Sandbox,
    _portal: support::rbac::AsPortal,
    owner: Uuid,
    /// Writes to Secrets that Kubernetes accepted.
    secret_writes: Arc<AtomicU64>,
    _dir: tempfile::TempDir,
}

async fn bed() -> Bed {
    let (sandbox, admin) = support::cluster(Behaviour {
        operator_ready: Duration::from_millis(200),
        job_run: Duration::from_millis(50),
        ..Behaviour::default()
    })
    .await;
    let portal = support::rbac::AsPortal::install(&sandbox, &admin).await;
    let secret_writes = Arc::new(AtomicU64::new(0));
    let counter = secret_writes.clone();
    let identity =
        sandbox::rbac::Identity::service_account(support::rbac::NAMESPACE, support::rbac::NAME);
    let router = sandbox.router_as(identity).layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let counter = counter.clone();
            async move {
                let write = !matches!(*request.method(), Method::GET | Method::HEAD)
                    && request.uri().path().contains("/secrets");
                let response = next.run(request).await;
                if write && response.status().is_success() {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                response
            }
        },
    ));
    let client = Client::new(router, "default");
    let (store, dir) = support::sqlite().await;
    let owner = support::user(store.as_ref(), "cora", Role::Customer)
        .await
        .id;
    Bed {
        interleaving: Interleaving::new(store.clone()),
        store,
        client,
        sandbox,
        _portal: portal,
        owner,
        secret_writes,
        _dir: dir,
    }
}

impl Bed {
    fn engine(&self) -> ProvisioningEngine {
        ProvisioningEngine::new(self.interleaving.clone(), self.client.clone())
            .with_secrets_access(Some(support::rbac::account()))
            .with_backoff(Duration::from_millis(20), Duration::from_millis(100))
    }

    async fn create(&self, name: &str, engine: &str) -> DatabaseRecord {
        self.store
            .create_database(support::new_database(self.owner, name, engine, "small"))
            .await
            .unwrap()
            .into_record()
    }

    /// Passes of fresh engines (a restart before each) until `status` and settled.
    async fn until(&self, id: Uuid, status: Status) -> DatabaseRecord {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let _ = self.engine().pass().await;
            let db = self.store.database(id).await.unwrap();
            if db.status == status && db.settled {
                return db;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "never {status}: {db:?}"
            );
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    async fn namespaces_of(&self, id: Uuid) -> usize {
        support::namespaces_of(&self.client, id).await
    }

    async fn secret(&self, id: Uuid) -> Secret {
        let secrets: Api<Secret> =
            Api::namespaced(self.client.clone(), &format!("db-{}", id.simple()));
        secrets.get(objects::CREDENTIALS_SECRET).await.unwrap()
    }

    async fn steps_named(&self, id: Uuid, name: &str) -> usize {
        self.store
            .steps(id)
            .await
            .unwrap()
            .iter()
            .filter(|step| step.step == name)
            .count()
    }
}

#[tokio::test]
async fn a_terminate_landing_before_the_engines_report_ends_the_database() {
    let bed = bed().await;
    let db = bed.create("orders", "cassandra").await;
    // The customer's terminate lands after the engine read the database and
    // before it reports it ACTIVE and settled.
    bed.interleaving
        .land_before_report(db.id, DesiredChange::Terminate);
    let after = bed.until(db.id, Status::Terminated).await;
    assert!(bed.interleaving.landed());
    assert_eq!(after.intent, Intent::Terminated);
    assert_eq!(bed.namespaces_of(db.id).await, 0, "nothing keeps running");
    // The name is free again, as for any terminated database.
    bed.create("orders", "cassandra").await;
}

#[tokio::test]
async fn a_resize_landing_before_the_engines_report_is_carried_out() {
    let bed = bed().await;
    let db = bed.create("ledger", "postgresql").await;
    let medium = *app::databases::tier("medium").unwrap();
    bed.interleaving
        .land_before_report(db.id, DesiredChange::Resize(medium));
    let after = bed.until(db.id, Status::Active).await;
    assert!(bed.interleaving.landed());
    assert_eq!(after.tier.name, "medium");
    let clusters: Api<kube::api::DynamicObject> = Api::namespaced_with(
        bed.client.clone(),
        &format!("db-{}", db.id.simple()),
        &server::provisioning::POSTGRES.resource(),
    );
    let cluster = clusters.get(objects::RESOURCE_NAME).await.unwrap();
    assert_eq!(
        cluster.data["spec"]["resources"]["requests"]["cpu"], "2000m",
        "the operator runs the size asked last"
    );
}

#[tokio::test]
async fn a_rotation_landing_before_the_engine_settles_sets_the_new_password_inside() {
    let bed = bed().await;
    let db = bed.create("vault", "cassandra").await;
    bed.until(db.id, Status::Active).await;
    bed.store
        .change_database(db.id, DesiredChange::RotateCredentials, None)
        .await
        .unwrap();
    // The engine set the new password and, about to record that nothing is
    // left to do, reads ACTIVE: the customer asks for another one then.
    bed.interleaving
        .land_before_report(db.id, DesiredChange::RotateCredentials);
    let after = bed.until(db.id, Status::Active).await;
    assert!(bed.interleaving.landed());
    assert_eq!(after.credentials_version, 3);
    assert_eq!(
        after.configured_version, 3,
        "the last password is set inside"
    );
    let data = bed.secret(db.id).await.data.unwrap();
    assert_ne!(data["password"], data["previous-password"]);
    assert_eq!(
        bed.steps_named(db.id, "configuration job").await,
        3,
        "the configuration job ran again for each new password"
    );
    let jobs: Api<Job> = Api::namespaced(bed.client.clone(), &format!("db-{}", db.id.simple()));
    let job = jobs.get(objects::CONFIGURE_JOB).await.unwrap();
    assert_eq!(
        job.metadata.annotations.unwrap()[objects::CREDENTIALS_VERSION],
        "3"
    );
}

#[tokio::test]
async fn a_crash_right_after_the_new_password_was_written_does_not_rotate_twice() {
    let bed = bed().await;
    let db = bed.create("keys", "postgresql").await;
    bed.until(db.id, Status::Active).await;
    let writes_before = bed.secret_writes.load(Ordering::SeqCst);
    bed.store
        .change_database(db.id, DesiredChange::RotateCredentials, None)
        .await
        .unwrap();
    // The process dies after Kubernetes took the new password, before the
    // step was recorded: the next engine must not make a third one.
    *bed.interleaving.crash_after_step.lock().unwrap() = Some("new credentials".into());
    let after = bed.until(db.id, Status::Active).await;
    assert_eq!(after.configured_version, 2);
    assert_eq!(
        bed.secret_writes.load(Ordering::SeqCst) - writes_before,
        1,
        "one new password, kept across the crash"
    );
    assert_eq!(bed.steps_named(db.id, "new credentials").await, 1);
}

#[tokio::test]
async fn a_second_engine_never_overwrites_a_bootstrapped_password() {
    let bed = bed().await;
    let db = bed.create("twice", "cassandra").await;
    // Both engines look before either writes (their first reads are held
    // back together): both find nothing and both decide to create the
    // credentials.
    bed.sandbox.faults().inject(
        Fault::latency(Duration::from_millis(300))
            .for_resource("namespaces")
            .on(Verb::Get)
            .times(2),
    );
    let (first, second) = (bed.engine(), bed.engine());
    let (a, b) = tokio::join!(first.pass(), second.pass());
    a.unwrap();
    b.unwrap();
    assert_eq!(bed.steps_named(db.id, "credentials").await, 2, "both tried");
    assert_eq!(
        bed.secret_writes.load(Ordering::SeqCst),
        1,
        "the second create found the Secret and left it"
    );
    let password = bed.secret(db.id).await.data.unwrap()["password"].clone();
    bed.until(db.id, Status::Active).await;
    assert_eq!(bed.secret(db.id).await.data.unwrap()["password"], password);
}
