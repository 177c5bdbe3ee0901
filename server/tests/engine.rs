//! The provisioning engine end to end on the sandbox, with the operators'
//! real CRDs and simulated controllers: databases become ACTIVE, park and
//! resume, terminate; a restart mid-provision, injected API faults and hung
//! calls still converge, with nothing created twice; an operator's refusal
//! and a failing configuration job are reported as they happen; the running
//! loop with its watches converges while watches are cut.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::roles::Role;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;
use sandbox::{Behaviour, Failure, Fault, Sandbox, Verb};
use server::provisioning::engine::ProvisioningEngine;
use server::provisioning::objects;
use server::store::{DatabaseRecord, DesiredChange, Store};
use uuid::Uuid;

mod support;

struct Bed {
    store: Arc<dyn Store>,
    client: Client,
    sandbox: Sandbox,
    /// What the engine uses: the portal's ServiceAccount under deploy/'s roles.
    portal: support::rbac::AsPortal,
    owner: Uuid,
    _dir: support::TestDir,
}

fn behaviour() -> Behaviour {
    Behaviour {
        operator_ready: Duration::from_millis(300),
        job_run: Duration::from_millis(100),
        ..Behaviour::default()
    }
}

async fn bed() -> Bed {
    bed_with(behaviour()).await
}

async fn bed_with(behaviour: Behaviour) -> Bed {
    let (sandbox, client) = support::cluster(behaviour).await;
    let portal = support::rbac::AsPortal::install(&sandbox, &client).await;
    let (store, dir) = support::store().await;
    let owner = support::user(store.as_ref(), "cora", Role::Customer)
        .await
        .id;
    Bed {
        store,
        client,
        sandbox,
        portal,
        owner,
        _dir: dir,
    }
}

impl Bed {
    async fn create(&self, name: &str, engine: &str) -> DatabaseRecord {
        self.store
            .create_database(support::new_database(self.owner, name, engine, "small"))
            .await
            .unwrap()
            .into_record()
    }

    async fn change(&self, id: Uuid, change: DesiredChange) {
        self.store.change_database(id, change, None).await.unwrap();
    }

    fn engine(&self) -> ProvisioningEngine {
        ProvisioningEngine::new(self.store.clone(), self.portal.client.clone())
            .with_secrets_access(Some(support::rbac::account()))
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
                let current = db.status.as_str().to_string();
                if seen.last() != Some(&current) {
                    seen.push(current);
                }
                done &= db.status.as_str() == status && db.settled;
            }
            if done {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("never all {status}; statuses seen {seen:?}");
    }

    /// Runs passes until the database is ACTIVE and settled; returns every
    /// status message it showed on the way. With `pass_limit`, a pass that
    /// takes longer fails the test.
    async fn messages_until_active(
        &self,
        engine: &ProvisioningEngine,
        id: Uuid,
        pass_limit: Option<Duration>,
    ) -> Vec<String> {
        let mut messages = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let started = std::time::Instant::now();
            let _ = engine.pass().await;
            if let Some(limit) = pass_limit {
                assert!(
                    started.elapsed() < limit,
                    "a pass waited on a hung call for {:?}",
                    started.elapsed()
                );
            }
            let current = self.store.database(id).await.unwrap();
            if let Some(message) = current.status_message.clone() {
                messages.push(message);
            }
            if current.status.as_str() == "ACTIVE" && current.settled {
                return messages;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "never ACTIVE: {messages:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn namespaces_of(&self, id: Uuid) -> usize {
        support::namespaces_of(&self.client, id).await
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

    bed.change(cassandra.id, DesiredChange::Park).await;
    bed.change(postgres.id, DesiredChange::Park).await;
    bed.until(&engine, &[cassandra.id, postgres.id], "PARKED")
        .await;
    bed.change(postgres.id, DesiredChange::Resume).await;
    let seen = bed.until(&engine, &[postgres.id], "ACTIVE").await;
    assert!(seen.contains(&"RESUMING".to_string()), "{seen:?}");

    bed.change(cassandra.id, DesiredChange::Terminate).await;
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
    // Backoff capped low: a streak of random failures must not outlast the
    // deadline (at the 30 s default, seven in a row take a minute).
    let engine = bed
        .engine()
        .with_backoff(Duration::from_millis(50), Duration::from_millis(500));
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
    // The customer's timeline says what kind of failure it was, in words;
    // the API's raw answer (its internals) is for the portal's log.
    for step in steps.iter().filter(|step| step.outcome == "failure") {
        let message = step.message.as_deref().unwrap_or_default();
        assert!(
            message == "the cluster's API failed" || message == "the cluster is too busy to answer",
            "{message}"
        );
    }
    assert_eq!(bed.namespaces_of(db.id).await, 1);
}

#[tokio::test]
async fn a_database_with_an_unknown_tier_is_an_error_at_once() {
    let bed = bed().await;
    let db = bed.create("odd", "cassandra").await;
    // A size this portal does not know (written by another version, or by
    // hand): the store refuses to read it as anything else.
    const SET_TIER: &str = "UPDATE databases SET tier = 'gigantic' WHERE id = $1";
    const READ: &str = "SELECT status, settled, status_message FROM databases WHERE id = $1";
    let engine = bed.engine();
    let (status, settled, message): (String, bool, Option<String>) = match bed._dir.postgres_url() {
        Some(url) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query(SET_TIER)
                .bind(db.id)
                .execute(&pool)
                .await
                .unwrap();
            engine.pass().await.unwrap();
            sqlx::query_as(READ)
                .bind(db.id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
        None => {
            let pool = sqlx::SqlitePool::connect(&bed._dir.sqlite_url())
                .await
                .unwrap();
            sqlx::query(SET_TIER)
                .bind(db.id)
                .execute(&pool)
                .await
                .unwrap();
            engine.pass().await.unwrap();
            sqlx::query_as(READ)
                .bind(db.id)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(status, "ERROR");
    assert!(settled);
    assert!(message.unwrap_or_default().contains("gigantic"));
    assert_eq!(bed.namespaces_of(db.id).await, 0);
}

/// The namespace the engine gives a database.
fn namespace_of(db: &DatabaseRecord) -> String {
    format!("db-{}", db.id.simple())
}

#[tokio::test]
async fn an_operator_refusing_the_database_is_an_error_that_says_why_and_terminate_still_works() {
    // The operators refuse the resources of the databases listed here.
    let refused: Arc<Mutex<HashSet<String>>> = Arc::default();
    let refusing = refused.clone();
    let bed = bed_with(Behaviour {
        operator_failure: Arc::new(move |resource: &serde_json::Value| {
            let namespace = resource["metadata"]["namespace"].as_str()?;
            refusing
                .lock()
                .unwrap()
                .contains(namespace)
                .then(|| "storage class \"fast-ssd\" does not exist".to_string())
        }),
        ..behaviour()
    })
    .await;
    let cassandra = bed.create("doomed-cql", "cassandra").await;
    let postgres = bed.create("doomed-pg", "postgresql").await;
    let healthy = bed.create("healthy", "postgresql").await;
    refused
        .lock()
        .unwrap()
        .extend([namespace_of(&cassandra), namespace_of(&postgres)]);
    let engine = bed.engine();
    bed.until(&engine, &[cassandra.id, postgres.id], "ERROR")
        .await;
    for id in [cassandra.id, postgres.id] {
        let db = bed.store.database(id).await.unwrap();
        let message = db.status_message.unwrap_or_default();
        assert!(
            message.contains("the operator cannot run this database")
                && message.contains("fast-ssd"),
            "{message}"
        );
        assert!(!db.configured, "never configured");
    }
    // Another database is not held back by the failed ones.
    bed.until(&engine, &[healthy.id], "ACTIVE").await;
    // An ERROR stays put (no retry loop) until the customer acts.
    let steps_before = bed.store.steps(cassandra.id).await.unwrap().len();
    engine.pass().await.unwrap();
    assert_eq!(
        bed.store.steps(cassandra.id).await.unwrap().len(),
        steps_before
    );
    // Terminating a failed database removes everything it had.
    bed.change(cassandra.id, DesiredChange::Terminate).await;
    bed.until(&engine, &[cassandra.id], "TERMINATED").await;
    assert_eq!(bed.namespaces_of(cassandra.id).await, 0);
}

#[tokio::test]
async fn a_failing_configuration_job_is_reported_removed_and_run_again() {
    // The first two configuration jobs exit 1; the third succeeds.
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = runs.clone();
    let bed = bed_with(Behaviour {
        job_outcome: Arc::new(move |_job: &serde_json::Value| {
            if counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
                (1, "cqlsh: connection refused\n".to_string())
            } else {
                (0, "keyspace created\n".to_string())
            }
        }),
        ..behaviour()
    })
    .await;
    let db = bed.create("retried", "cassandra").await;
    let engine = bed.engine();
    // Watch the status message while the engine works: the failure is shown.
    let messages = bed.messages_until_active(&engine, db.id, None).await;
    assert!(
        messages
            .iter()
            .any(|message| message.contains("the configuration job failed")),
        "{messages:?}"
    );
    let steps: Vec<String> = bed
        .store
        .steps(db.id)
        .await
        .unwrap()
        .into_iter()
        .map(|step| step.step)
        .collect();
    let count = |name: &str| steps.iter().filter(|step| *step == name).count();
    assert_eq!(count("configuration job"), 3, "{steps:?}");
    assert_eq!(count("configuration job cleanup"), 2, "{steps:?}");
    assert_eq!(count("configured"), 1, "{steps:?}");
}

#[tokio::test]
async fn a_hung_kubernetes_call_times_out_and_the_database_still_converges() {
    let bed = bed().await;
    // The first two reads of the operator's resource hang far past the engine's limit.
    bed.sandbox.faults().inject(
        Fault::latency(Duration::from_secs(3600))
            .for_resource("clusters.postgresql.cnpg.io")
            .on(Verb::Get)
            .times(2),
    );
    let db = bed.create("slow", "postgresql").await;
    let engine = bed
        .engine()
        .with_request_timeout(Duration::from_millis(300));
    let messages = bed
        .messages_until_active(&engine, db.id, Some(Duration::from_secs(5)))
        .await;
    assert!(
        messages
            .iter()
            .any(|message| message.contains("did not answer within")),
        "{messages:?}"
    );
    assert_eq!(bed.namespaces_of(db.id).await, 1);
}

#[tokio::test]
async fn the_running_engine_converges_while_watches_are_cut_resumes_expire_and_writes_fail() {
    let bed = bed().await;
    let faults = bed.sandbox.faults();
    faults.cut_watches_after(Some(Duration::from_millis(200)));
    faults.expire_resumes(true);
    faults.inject(
        Fault::always(Failure::Unavailable)
            .on(Verb::Patch)
            .rate(0.2),
    );
    faults.inject(Fault::always(Failure::Internal).on(Verb::Watch).rate(0.5));

    // The loop `portal serve` runs: woken by its watches and by its timer.
    let engine = Arc::new(
        bed.engine()
            .with_backoff(Duration::from_millis(50), Duration::from_millis(500)),
    );
    engine.spawn_watches();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = engine.clone();
    let running = tokio::spawn(async move {
        runner
            .run(async {
                let _ = stopped.await;
            })
            .await;
    });
    let cassandra = bed.create("alpha", "cassandra").await;
    let postgres = bed.create("beta", "postgresql").await;
    engine.handle().changed(cassandra.id);
    engine.handle().changed(postgres.id);

    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let a = bed.store.database(cassandra.id).await.unwrap();
        let b = bed.store.database(postgres.id).await.unwrap();
        if [&a, &b]
            .iter()
            .all(|db| db.status.as_str() == "ACTIVE" && db.settled)
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never both ACTIVE: {} {:?}, {} {:?}",
            a.status,
            a.status_message,
            b.status,
            b.status_message
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    running.await.unwrap();
    assert_eq!(bed.namespaces_of(cassandra.id).await, 1);
    assert_eq!(bed.namespaces_of(postgres.id).await, 1);
}
