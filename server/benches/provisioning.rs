//! Benchmark: 1,000 databases created in a burst, provisioned by the engine
//! on the sandbox with zero operator delay, until every one is ACTIVE.
//!
//! `cargo bench -p server --bench provisioning` (or `make bench`) prints the
//! time until all are ACTIVE, the Kubernetes writes per database, the
//! process's peak memory, and checks none was lost or duplicated.
//! Budget (issue 6): 30 s, at most 15 writes per database.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use app::databases::{Engine, Status};
use app::roles::Role;
use axum::http::Method;
use sandbox::{Behaviour, Sandbox};
use server::provisioning::engine::ProvisioningEngine;
use server::store::{self, DatabaseQuery, NewDatabase, NewUser};

mod support;

/// 1,000 by default; `BENCH_DATABASES=100` for a quick look at how it scales.
fn databases() -> usize {
    std::env::var("BENCH_DATABASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000)
}

fn peak_memory_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| {
                    line.split_whitespace()
                        .nth(1)
                        .and_then(|kib| kib.parse().ok())
                })
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::with_controllers(Behaviour::instant());
    sandbox.install_operator_crds();
    // Every write the engine sends is counted on its way in.
    let writes = Arc::new(AtomicU64::new(0));
    let counter = writes.clone();
    let router = sandbox.router().layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let counter = counter.clone();
            async move {
                if !matches!(*request.method(), Method::GET | Method::HEAD) {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                next.run(request).await
            }
        },
    ));
    let client = kube::Client::new(router, "default");

    let dir = tempfile::tempdir()?;
    let store = store::connect(&format!(
        "sqlite://{}",
        dir.path().join("portal.db").display()
    ))
    .await?;
    store.migrate().await?;
    let owner = store
        .create_user(NewUser {
            username: "bench".into(),
            display_name: "Bench".into(),
            email: None,
            role: Role::Customer,
            password_hash: None,
            oidc_identity: None,
            audit: None,
        })
        .await?
        .id;

    // Room for every database the bench creates (the default quota is 10).
    support::unlimited_quota(&store).await?;
    #[allow(non_snake_case)]
    let DATABASES = databases();
    let started = Instant::now();
    let small = *app::databases::tier("small").ok_or("no small tier")?;
    let creates = (0..DATABASES).map(|index| {
        let store = store.clone();
        async move {
            store
                .create_database(NewDatabase {
                    id: uuid::Uuid::now_v7(),
                    owner_id: owner,
                    name: format!("db-{index:04}"),
                    engine: if index % 2 == 0 {
                        Engine::Cassandra
                    } else {
                        Engine::Postgresql
                    },
                    tier: small,
                    region: "local".into(),
                    schema_name: "app".into(),
                    request_key: Some(format!("bench-{index}")),
                    audit: None,
                })
                .await
        }
    });
    for created in futures_util::future::join_all(creates).await {
        created?;
    }
    let accepted = started.elapsed();

    let engine = ProvisioningEngine::new(store.clone(), client.clone());
    let mut passes = 0;
    loop {
        engine.pass().await?;
        passes += 1;
        let active = store
            .list_databases(&DatabaseQuery {
                status: Some(Status::Active),
                limit: 1,
                ..Default::default()
            })
            .await?
            .total;
        if active as usize == DATABASES || started.elapsed().as_secs() > 120 {
            break;
        }
    }
    let all_active = started.elapsed();
    let total = store
        .list_databases(&DatabaseQuery {
            limit: 1,
            ..Default::default()
        })
        .await?
        .total;
    let active = store
        .list_databases(&DatabaseQuery {
            status: Some(Status::Active),
            limit: 1,
            ..Default::default()
        })
        .await?
        .total;
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client);
    let owned = namespaces
        .list(&kube::api::ListParams::default().labels("dscloud.io/database-id"))
        .await?
        .items
        .len();
    let writes = writes.load(Ordering::Relaxed);
    println!(
        "databases created:            {total} (of {DATABASES} requests; accepted in {accepted:.2?})"
    );
    println!("ACTIVE:                       {active}");
    println!("namespaces (one per database): {owned}");
    println!(
        "time until all ACTIVE:        {all_active:.2?} in {passes} engine passes (budget 30 s)"
    );
    println!(
        "Kubernetes writes:            {writes} ({:.2} per database, budget 15)",
        writes as f64 / DATABASES as f64
    );
    println!(
        "peak memory (VmHWM):          {} MiB",
        peak_memory_kib() / 1024
    );
    if total as usize != DATABASES || active as usize != DATABASES || owned != DATABASES {
        return Err("lost or duplicated databases".into());
    }
    Ok(())
}
