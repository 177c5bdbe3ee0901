//! Benchmark: the deploy engine and the deploy history (issue "The deploy
//! engine").
//!
//! `cargo bench -p server --bench deploys`
//!
//! 1. 100 apps, one commit each (a microservice, its integration tests in
//!    `test`, a Job), all taken to `prod` through dev and test on the
//!    sandbox with zero delays: total time, Kubernetes writes per
//!    environment deployment, peak memory. `BENCH_APPS` changes the count.
//!    Budget: 30 s.
//! 2. The history page with 100,000 deployment rows (1,000 apps): median
//!    and p95 of the service call the page makes, unfiltered first page, a
//!    deep page, one app, failures only, an author search, an environment
//!    and a date range; on SQLite and on PostgreSQL when it is reachable.
//!    Budget: 50 ms p95.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use app::caller::Caller;
use app::deploys::{DeploymentStatus, Deploys, HistoryFilter};
use app::roles::Role;
use axum::http::Method;
use sandbox::{Behaviour, Sandbox};
use server::cluster::Cluster;
use server::deploy::service::DeployService;
use server::deploy::{DeployEngine, Deployer, ENGINE, Site};
use server::engine::RunnerSettings;
use server::store::{self, DeploymentQuery, NewApp, NewRelease, NewUser, PollOutcome, Store};

mod support;

const ENVIRONMENTS: [&str; 3] = ["dev", "test", "prod"];
const HISTORY_APPS: usize = 1_000;
const ROWS_PER_APP: usize = 100;
const RUNS: usize = 100;

const FILE: &str = "microservices:
  web:
    environmentConfiguration:
      dev: {LOG_LEVEL: debug}
      test: {LOG_LEVEL: info}
      prod: {LOG_LEVEL: warn}
    integrationTests:
      test:
        env: {SUITE: smoke}
jobs:
  migrate:
    environmentConfiguration: {dev: {}, test: {}, prod: {}}
";

fn peak_memory_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn app_named(name: String) -> NewApp {
    NewApp {
        id: uuid::Uuid::now_v7(),
        name: name.clone(),
        repository_url: format!("https://git.example.test/{name}.git"),
        branch: "main".into(),
        poll_interval_seconds: 60,
        credentials: None,
        webhook_secret_sealed: "dscloud:v1:k1:unused".into(),
        created_by: None,
        maintainers: Vec::new(),
        build: server::store::BuildMode::Portal,
        audit: None,
    }
}

fn release(index: usize, file: &str) -> NewRelease {
    NewRelease {
        sha: format!("{index:0>40x}"),
        subject: format!("change {index}"),
        author: if index.is_multiple_of(7) {
            "Grace Hopper"
        } else {
            "Ada Lovelace"
        }
        .into(),
        author_email: "dev@example.test".into(),
        committed_at: "2026-12-01T10:00:00Z".into(),
        previous_sha: None,
        force_pushed: false,
        commits: serde_json::json!([]),
        commits_truncated: false,
        dscloud_yaml: Some(file.into()),
        accepted: true,
        problems: serde_json::json!([]),
        found_by_webhook: false,
    }
}

async fn sqlite_store(dir: &std::path::Path) -> Result<Arc<dyn Store>, Box<dyn std::error::Error>> {
    let store = store::connect(&format!("sqlite://{}", dir.join("portal.db").display())).await?;
    store.migrate().await?;
    Ok(store)
}

async fn promote_all(apps: usize) -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::with_controllers(Behaviour::instant());
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
    let store = sqlite_store(dir.path()).await?;
    for index in 0..apps {
        let app = store
            .create_app(app_named(format!("app-{index:04}")))
            .await?;
        store
            .record_poll(
                app.id,
                None,
                PollOutcome::NewRelease(Box::new(release(index, FILE))),
                chrono::Utc::now() + chrono::Duration::hours(1),
            )
            .await?;
    }
    let sites = ENVIRONMENTS
        .iter()
        .map(|name| Site {
            name: (*name).to_string(),
            region: "local".into(),
            cluster: Cluster::new(client.clone(), ENGINE.field_manager),
            rollout_deadline: Duration::from_secs(60),
            ingress: Default::default(),
        })
        .collect();
    let deployer = Deployer::new(store.clone(), sites, "registry.bench".into());
    let engine = Arc::new(DeployEngine::with_settings(
        deployer,
        RunnerSettings {
            resync: Duration::from_millis(500),
            ..RunnerSettings::default()
        },
        None,
    ));
    engine.spawn_watches();
    let started = Instant::now();
    let running = engine.clone();
    let task = tokio::spawn(async move { running.run(std::future::pending()).await });
    let succeeded = loop {
        let done = store
            .deployments(&DeploymentQuery {
                status: Some(DeploymentStatus::Succeeded),
                environment: Some("prod".into()),
                limit: 1,
                ..DeploymentQuery::default()
            })
            .await?
            .total;
        if done as usize == apps || started.elapsed() > Duration::from_secs(300) {
            break done;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let elapsed = started.elapsed();
    task.abort();
    let all = store
        .deployments(&DeploymentQuery {
            limit: 1,
            ..DeploymentQuery::default()
        })
        .await?
        .total;
    let writes = writes.load(Ordering::Relaxed);
    println!("1. {apps} apps × 3 environments, one commit each, to prod (sandbox, zero delays)");
    println!("   in prod:                      {succeeded} of {apps}");
    println!(
        "   deployment rows:              {all} (expected {})",
        apps * 3
    );
    println!(
        "   total time:                   {:.2} s (budget 30 s)",
        elapsed.as_secs_f64()
    );
    println!(
        "   Kubernetes writes:            {writes} ({:.2} per environment deployment, builds included)",
        writes as f64 / (apps * 3) as f64
    );
    println!(
        "   peak memory (VmHWM):          {} MiB",
        peak_memory_kib() / 1024
    );
    Ok(())
}

/// 100,000 rows: 100 per app for 1,000 apps, one in ten failed, across
/// three environments and three weeks.
async fn fill_history(
    store: &Arc<dyn Store>,
    insert: impl AsyncFn(uuid::Uuid, i64) -> Result<(), Box<dyn std::error::Error>>,
) -> Result<String, Box<dyn std::error::Error>> {
    let mut first = String::new();
    for index in 0..HISTORY_APPS {
        let app = store
            .create_app(app_named(format!("app-{index:04}")))
            .await?;
        if index == 0 {
            first = app.name.clone();
        }
        store
            .record_poll(
                app.id,
                None,
                PollOutcome::NewRelease(Box::new(release(index, "microservices: {}\n"))),
                chrono::Utc::now() + chrono::Duration::hours(1),
            )
            .await?;
        let release_id = store.releases(app.id, 1, 0).await?.items[0].id;
        insert(app.id, release_id).await?;
    }
    Ok(first)
}

/// The rows of one app, generated in SQL (the same text for both databases).
const INSERT_ROWS: &str = "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 100) \
     INSERT INTO deployments (app_id, release_id, environment, trigger, status, active, reason, \
     steps, tests_passed, tests_failed, created_at, started_at, finished_at) \
     SELECT $1, $2, CASE n % 3 WHEN 0 THEN 'dev' WHEN 1 THEN 'test' ELSE 'prod' END, \
     CASE WHEN n % 3 = 0 THEN 'poll' ELSE 'promotion' END, \
     CASE WHEN n % 10 = 0 THEN 'Failed' ELSE 'Succeeded' END, FALSE, \
     CASE WHEN n % 10 = 0 THEN 'the integration tests of web failed: exit code 3' ELSE NULL END, \
     '[]', 1, CASE WHEN n % 10 = 0 THEN 1 ELSE 0 END, $3, $3, $3 FROM seq";

async fn measure(
    label: &str,
    store: Arc<dyn Store>,
    app: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let user = store
        .create_user(NewUser {
            username: "bench-dev".into(),
            display_name: "Bench".into(),
            email: None,
            role: Role::Developer,
            password_hash: None,
            oidc_identity: None,
            audit: None,
        })
        .await?;
    let caller = Caller {
        username: Some(user.username.clone()),
        role: Some(Role::Developer),
        session_hash: None,
        address: None,
        user_id: Some(user.id.to_string()),
    };
    let environments = ENVIRONMENTS.iter().map(|name| name.to_string()).collect();
    let service = DeployService::new(store.clone(), environments, None);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let cases: Vec<(&str, HistoryFilter)> = vec![
        ("first page", HistoryFilter::default()),
        (
            "page 1,000 (offset 49,950)",
            HistoryFilter {
                page: 1_000,
                ..Default::default()
            },
        ),
        (
            "one app",
            HistoryFilter {
                app: app.into(),
                ..Default::default()
            },
        ),
        (
            "failed only",
            HistoryFilter {
                status: "Failed".into(),
                ..Default::default()
            },
        ),
        (
            "author search",
            HistoryFilter {
                who: "grace".into(),
                ..Default::default()
            },
        ),
        (
            "prod, today",
            HistoryFilter {
                environment: "prod".into(),
                from: today.clone(),
                until: today,
                ..Default::default()
            },
        ),
    ];
    println!("   {label}:");
    for (name, filter) in cases {
        let mut times = Vec::with_capacity(RUNS);
        let mut total = 0;
        for _ in 0..RUNS {
            let started = Instant::now();
            let list = service
                .history(&caller, filter.clone())
                .await
                .map_err(|e| format!("{e:?}"))?;
            times.push(started.elapsed());
            total = list.total;
        }
        times.sort();
        println!(
            "     {name:<28} median {:>6.2} ms  p95 {:>6.2} ms  ({total} rows match)",
            times[RUNS / 2].as_secs_f64() * 1000.0,
            times[RUNS * 95 / 100].as_secs_f64() * 1000.0
        );
    }
    Ok(())
}

async fn history_on_sqlite() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = sqlite_store(dir.path()).await?;
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("portal.db").display()
    ))
    .await?;
    let now = chrono::Utc::now();
    let app = fill_history(&store, async |app, release| {
        sqlx::query(INSERT_ROWS)
            .bind(app)
            .bind(release)
            .bind(now)
            .execute(&pool)
            .await?;
        Ok(())
    })
    .await?;
    sqlx::query("ANALYZE").execute(&pool).await?;
    measure("SQLite", store, &app).await
}

async fn history_on_postgres() -> Result<(), Box<dyn std::error::Error>> {
    support::on_fresh_postgres(async |url| {
        let store = support::postgres(&url).await?;
        let pool = sqlx::PgPool::connect(&url).await?;
        let now = chrono::Utc::now();
        let app = fill_history(&store, async |app, release| {
            sqlx::query(INSERT_ROWS)
                .bind(app)
                .bind(release)
                .bind(now)
                .execute(&pool)
                .await?;
            Ok(())
        })
        .await?;
        sqlx::query("ANALYZE").execute(&pool).await?;
        pool.close().await;
        measure("PostgreSQL", store, &app).await
    })
    .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let apps = std::env::var("BENCH_APPS")
        .ok()
        .and_then(|count| count.parse().ok())
        .unwrap_or(100);
    promote_all(apps).await?;
    println!(
        "2. the deploy history with {} rows ({HISTORY_APPS} apps), {RUNS} calls each",
        HISTORY_APPS * ROWS_PER_APP
    );
    history_on_sqlite().await?;
    history_on_postgres().await?;
    Ok(())
}
