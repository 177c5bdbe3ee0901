//! What the benchmarks share: a fresh store on SQLite, and a fresh
//! PostgreSQL database for one measure, dropped afterwards.

#![allow(dead_code)] // each benchmark uses part of it

use std::sync::Arc;

use server::store::{self, Store};
use sqlx::Connection as _;

pub type BenchResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// A migrated SQLite store in a temporary directory, which lives as long
/// as the returned guard.
pub async fn sqlite() -> BenchResult<(Arc<dyn Store>, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let store = store::connect(&format!(
        "sqlite://{}",
        dir.path().join("portal.db").display()
    ))
    .await?;
    store.migrate().await?;
    Ok((store, dir))
}

/// Runs `measure` with the URL of a new, empty PostgreSQL database (from
/// `PORTAL_TEST_POSTGRES_URL`, default the local server), then drops the
/// database whatever the outcome. An unreachable server is said and
/// skipped, not an error.
pub async fn on_fresh_postgres<Measure>(measure: impl FnOnce(String) -> Measure) -> BenchResult
where
    Measure: Future<Output = BenchResult>,
{
    let admin_url = std::env::var("PORTAL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
    let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await else {
        println!("PostgreSQL at {admin_url} is unreachable: skipped");
        return Ok(());
    };
    let database = format!("portal_bench_{}", uuid::Uuid::new_v4().simple());
    let url = match admin_url.rfind('/') {
        Some(slash) => format!("{}/{database}", &admin_url[..slash]),
        None => return Err("PORTAL_TEST_POSTGRES_URL must name a database".into()),
    };
    sqlx::query(&format!("CREATE DATABASE {database}"))
        .execute(&mut admin)
        .await?;
    let outcome = measure(url).await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    outcome
}

/// A migrated PostgreSQL store on `url`.
pub async fn postgres(url: &str) -> BenchResult<Arc<dyn Store>> {
    let store = store::connect(url).await?;
    store.migrate().await?;
    Ok(store)
}

/// Lifts the default quota (10 databases) far beyond what a benchmark
/// creates.
pub async fn unlimited_quota(store: &Arc<dyn Store>) -> BenchResult {
    store
        .set_default_quota(
            &app::databases::Quota {
                databases: 1_000_000,
                cpu_millis: 1_000_000_000,
                memory_mib: 1_000_000_000,
                storage_gib: 1_000_000_000,
            },
            &server::audit::event(
                &server::audit::Actor::command_line(),
                "quota.set_default",
                "quota:default",
                server::store::Outcome::Success,
                serde_json::json!({}),
            ),
        )
        .await?;
    Ok(())
}

/// Seconds of CPU a process has used, and its peak resident memory (KiB),
/// from /proc.
pub fn process_usage(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command's closing parenthesis; utime and stime are
    // the 12th and 13th of them.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let peak = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())?;
    // USER_HZ is 100 on Linux.
    Some((ticks / 100.0, peak))
}

/// The engine a bench's `index`th database gets: half Cassandra, half
/// PostgreSQL.
pub fn engine_for(index: usize) -> app::databases::Engine {
    if index.is_multiple_of(2) {
        app::databases::Engine::Cassandra
    } else {
        app::databases::Engine::Postgresql
    }
}

/// A small database in the `local` region, as the benches create them.
pub fn new_database(
    owner_id: uuid::Uuid,
    name: String,
    engine: app::databases::Engine,
) -> BenchResult<store::NewDatabase> {
    Ok(store::NewDatabase {
        id: uuid::Uuid::now_v7(),
        owner_id,
        name,
        engine,
        tier: *app::databases::tier("small").ok_or("no small tier")?,
        region: "local".into(),
        schema_name: "app".into(),
        request_key: None,
        audit: None,
    })
}

/// Signs `username` in with a password through the portal at `base`;
/// returns the session cookie (`name=value`).
pub async fn sign_in(
    client: &reqwest::Client,
    base: &str,
    username: &str,
    password: &str,
) -> BenchResult<String> {
    let response = client
        .post(format!("{base}/auth/sign-in"))
        .form(&[
            ("username", username),
            ("password", password),
            ("next", "/"),
        ])
        .send()
        .await?;
    response
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::to_string)
        .ok_or_else(|| format!("{username} could not sign in: {}", response.status()).into())
}
