//! Benchmark: the databases page's listing with 10,000 databases in the
//! store (issue 6: "it stays fast with 10,000 databases").
//!
//! `cargo bench -p server --bench database_list` seeds 10,000 databases over
//! 100 customers, then times the service call the page makes (`list`: one
//! page of 25, its total, and the owners' names for an admin) for a
//! customer, an admin's first and last page, a search and a status filter;
//! median and 95th percentile of each. On SQLite, and on PostgreSQL when it
//! is reachable (`PORTAL_TEST_POSTGRES_URL`, default the local server).

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::caller::Caller;
use app::databases::Databases;
use app::databases::Status;
use app::roles::Role;
use server::databases::DatabaseService;
use server::store::{self, EngineReport, NewUser, Store};

mod support;

const DATABASES: usize = 10_000;
const CUSTOMERS: usize = 100;
const RUNS: usize = 200;

async fn seed(store: &Arc<dyn Store>) -> Result<(Caller, Caller), Box<dyn std::error::Error>> {
    let mut customers = Vec::new();
    for index in 0..CUSTOMERS {
        let user = store
            .create_user(NewUser {
                username: format!("customer-{index:03}"),
                display_name: format!("Customer {index}"),
                email: None,
                role: Role::Customer,
                password_hash: None,
                oidc_identity: None,
                audit: None,
            })
            .await?;
        customers.push(user);
    }
    let admin = store
        .create_user(NewUser {
            username: "bench-admin".into(),
            display_name: "Bench admin".into(),
            email: None,
            role: Role::Admin,
            password_hash: None,
            oidc_identity: None,
            audit: None,
        })
        .await?;
    // Room for every database the bench creates (the default quota is 10).
    support::unlimited_quota(store).await?;
    for index in 0..DATABASES {
        let owner = &customers[index % CUSTOMERS];
        let created = store
            .create_database(support::new_database(
                owner.id,
                format!("db-{index:05}"),
                support::engine_for(index),
            )?)
            .await?
            .into_record();
        // Most are ACTIVE, some are still on their way or parked.
        let status = match index % 10 {
            0 => Status::Pending,
            1 => Status::Parked,
            _ => Status::Active,
        };
        store
            .report_database(
                created.id,
                None,
                &EngineReport {
                    generation: created.generation,
                    status,
                    message: None,
                    settled: true,
                    configured: true,
                    configured_version: 1,
                },
            )
            .await?;
    }
    let caller = |user: &store::User| Caller {
        username: Some(user.username.clone()),
        role: Some(user.role),
        session_hash: None,
        address: None,
        user_id: Some(user.id.to_string()),
    };
    Ok((caller(&customers[7]), caller(&admin)))
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn measure(backend: &str, store: Arc<dyn Store>) -> Result<(), Box<dyn std::error::Error>> {
    let seeding = Instant::now();
    let (customer, admin) = seed(&store).await?;
    println!(
        "{backend}: seeded {DATABASES} databases for {CUSTOMERS} customers in {:.1?}",
        seeding.elapsed()
    );
    let service = DatabaseService::new(store, Vec::new());
    let last_page = u32::try_from(DATABASES.div_ceil(25))?;
    let cases: [(&str, &Caller, &str, Option<Status>, u32); 6] = [
        ("customer, page 1 (their 100)", &customer, "", None, 1),
        ("admin, page 1 of 400", &admin, "", None, 1),
        ("admin, page 400 of 400", &admin, "", None, last_page),
        ("admin, search \"db-0424\"", &admin, "db-0424", None, 1),
        (
            "admin, status PARKED, page 1",
            &admin,
            "",
            Some(Status::Parked),
            1,
        ),
        (
            "customer, search + status",
            &customer,
            "db-00",
            Some(Status::Active),
            1,
        ),
    ];
    println!(
        "  {:<32} {:>10} {:>10} {:>8}",
        "listing", "median", "p95", "rows"
    );
    for (label, caller, search, status, page) in cases {
        let mut times = Vec::with_capacity(RUNS);
        let mut rows = 0;
        for _ in 0..RUNS {
            let started = Instant::now();
            let list = service
                .list(caller, search.to_string(), status, page)
                .await
                .map_err(|error| format!("{label}: {error}"))?;
            times.push(started.elapsed());
            rows = list.items.len();
            if list.total == 0 {
                return Err(format!("{label}: found nothing").into());
            }
        }
        times.sort();
        println!(
            "  {label:<32} {:>10.2?} {:>10.2?} {rows:>8}",
            percentile(&times, 0.5),
            percentile(&times, 0.95)
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (sqlite, _dir) = support::sqlite().await?;
    measure("SQLite", sqlite).await?;

    support::on_fresh_postgres(async |url| {
        measure("PostgreSQL", support::postgres(&url).await?).await
    })
    .await
}
