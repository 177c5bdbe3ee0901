//! Benchmark: applications from git (issue "Applications from git").
//!
//! `cargo bench -p server --bench apps`
//!
//! 1. One poll cycle of 1,000 registered apps: each asks its repository
//!    for the tracked branch's head (`git ls-remote`; the repositories are
//!    real, on this machine, `file://`), nothing new. Prints the wall time
//!    of the cycle, the CPU time it took (this process and its git
//!    children) and the polls per second. `BENCH_APPS` changes the count.
//! 2. The apps page with 5,000 apps, each with a release: median and p95
//!    of the service call the page makes (one page of 25, the total, each
//!    app's newest release), first page, last page and a search, on SQLite
//!    and on PostgreSQL when it is reachable.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::apps::Apps;
use app::caller::Caller;
use app::roles::Role;
use server::apps::poller::Poller;
use server::apps::service::AppService;
use server::crypto::Keyring;
use server::engine::Reconciler;
use server::git::Git;
use server::store::{self, NewApp, NewRelease, NewUser, PollOutcome, Store};

mod support;

const LISTED_APPS: usize = 5_000;
const RUNS: usize = 100;

fn git(dir: &std::path::Path, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let output = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("HOME", dir)
        .output()?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).to_string().into());
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// CPU seconds used so far by this process and its waited-for children.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime, stime, cutime, cstime: fields 14 to 17 of the line, 12 to 15 after the name.
    let ticks: f64 = fields
        .iter()
        .skip(11)
        .take(4)
        .filter_map(|field| field.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

fn new_app(
    name: String,
    url: &str,
    keyring: &Keyring,
) -> Result<NewApp, Box<dyn std::error::Error>> {
    let id = uuid::Uuid::now_v7();
    Ok(NewApp {
        id,
        name,
        repository_url: url.to_string(),
        branch: "main".into(),
        poll_interval_seconds: 60,
        credentials: None,
        webhook_secret_sealed: keyring.seal(&server::apps::webhook_scope(id, 1), b"secret")?,
        created_by: None,
        maintainers: Vec::new(),
        build: server::store::BuildMode::Portal,
        audit: None,
    })
}

fn release(sha: &str) -> Box<NewRelease> {
    Box::new(NewRelease {
        sha: sha.to_string(),
        subject: "A commit".into(),
        author: "Dana".into(),
        author_email: "dana@example.test".into(),
        committed_at: "2026-12-01T10:00:00Z".into(),
        previous_sha: None,
        force_pushed: false,
        commits: serde_json::json!([{"sha": sha}]),
        commits_truncated: false,
        dscloud_yaml: Some("microservices: {}\n".into()),
        accepted: true,
        problems: serde_json::json!([]),
        found_by_webhook: false,
    })
}

async fn poll_cycle(keyring: Arc<Keyring>) -> Result<(), Box<dyn std::error::Error>> {
    let apps: usize = std::env::var("BENCH_APPS")
        .ok()
        .and_then(|count| count.parse().ok())
        .unwrap_or(1_000);
    let dir = tempfile::tempdir()?;
    let store = store::connect(&format!(
        "sqlite://{}",
        dir.path().join("portal.db").display()
    ))
    .await?;
    store.migrate().await?;
    // One real repository with a commit; every app follows it.
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work)?;
    git(
        dir.path(),
        &[
            "init",
            "--quiet",
            "--bare",
            "--initial-branch=main",
            "app.git",
        ],
    )?;
    git(&work, &["init", "--quiet", "--initial-branch=main"])?;
    std::fs::write(work.join("dscloud.yaml"), "microservices: {}\n")?;
    git(&work, &["add", "."])?;
    git(
        &work,
        &[
            "-c",
            "user.name=b",
            "-c",
            "user.email=b@b",
            "commit",
            "--quiet",
            "-m",
            "one",
        ],
    )?;
    git(
        &work,
        &[
            "push",
            "--quiet",
            &format!("{}", dir.path().join("app.git").display()),
            "HEAD:refs/heads/main",
        ],
    )?;
    let head = git(&work, &["rev-parse", "HEAD"])?;
    let url = format!("file://{}", dir.path().join("app.git").display());
    for index in 0..apps {
        let app = store
            .create_app(new_app(format!("app-{index:05}"), &url, &keyring)?)
            .await?;
        store
            .record_poll(
                app.id,
                None,
                PollOutcome::NewRelease(release(&head)),
                chrono::Utc::now(),
            )
            .await?;
    }
    let poller = Poller::new(store.clone(), keyring, Git::new(dir.path().join("git")));
    let runner = Arc::new(poller.runner(8));
    let due = runner.reconciler().pending().await?;
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let polled = runner.pass().await?;
    let elapsed = started.elapsed();
    let cpu = cpu_seconds() - cpu_before;
    let failing = store
        .list_apps(&server::store::AppQuery {
            limit: 1,
            ..Default::default()
        })
        .await?
        .items
        .first()
        .and_then(|app| app.last_error.clone());
    println!(
        "poll cycle: {polled} of {} due apps in {elapsed:.2?} ({:.0} polls/s), {cpu:.2} s of CPU (portal and git); nothing new, {}",
        due.len(),
        polled as f64 / elapsed.as_secs_f64(),
        failing.map_or_else(
            || "no failures".to_string(),
            |error| format!("failure: {error}")
        )
    );
    Ok(())
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn apps_page(
    backend: &str,
    store: Arc<dyn Store>,
    keyring: Arc<Keyring>,
) -> Result<(), Box<dyn std::error::Error>> {
    let seeding = Instant::now();
    for index in 0..LISTED_APPS {
        let app = store
            .create_app(new_app(
                format!("app-{index:05}"),
                "https://git.example.test/a.git",
                &keyring,
            )?)
            .await?;
        store
            .record_poll(
                app.id,
                None,
                PollOutcome::NewRelease(release(&format!("{index:040x}"))),
                chrono::Utc::now(),
            )
            .await?;
    }
    let developer = store
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
    println!(
        "{backend}: seeded {LISTED_APPS} apps with a release each in {:.1?}",
        seeding.elapsed()
    );
    let caller = Caller {
        username: Some(developer.username.clone()),
        role: Some(Role::Developer),
        session_hash: None,
        address: None,
        user_id: Some(developer.id.to_string()),
    };
    let service = AppService::new(store, keyring, Git::new(std::env::temp_dir()), None);
    let last = u32::try_from(LISTED_APPS.div_ceil(25))?;
    println!(
        "  {:<28} {:>10} {:>10} {:>6}",
        "apps page", "median", "p95", "rows"
    );
    for (label, search, page) in [
        ("page 1", "", 1),
        ("last page", "", last),
        ("search \"app-0424\"", "app-0424", 1),
    ] {
        let mut times = Vec::with_capacity(RUNS);
        let mut rows = 0;
        for _ in 0..RUNS {
            let started = Instant::now();
            let list = service
                .list(&caller, search.to_string(), page)
                .await
                .map_err(|error| format!("{label}: {error}"))?;
            times.push(started.elapsed());
            rows = list.items.len();
        }
        times.sort();
        println!(
            "  {label:<28} {:>10.2?} {:>10.2?} {rows:>6}",
            percentile(&times, 0.5),
            percentile(&times, 0.95)
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let keyring = Arc::new(Keyring::parse(
        &server::crypto::new_key_line("bench"),
        "bench",
    )?);
    poll_cycle(keyring.clone()).await?;

    let (sqlite, _dir) = support::sqlite().await?;
    apps_page("SQLite", sqlite, keyring.clone()).await?;

    support::on_fresh_postgres(async |url| {
        apps_page("PostgreSQL", support::postgres(&url).await?, keyring).await
    })
    .await
}
