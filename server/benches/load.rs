//! Load: 200 signed-in people browsing the portal for 60 s on loopback.
//!
//! `cargo bench -p server --bench load` (after `make build`: it runs the
//! release binary `target/release/portal`, on the embedded sandbox, in a
//! fresh data directory). It seeds 150 customers, 40 developers and 10
//! admins, signs each in through the sign-in form, then each of them opens
//! the pages their role uses, one after another, for the run's length; it
//! prints requests, errors, p50/p90/p99 latency, and the portal process's
//! CPU time and peak memory (from /proc). Bounded: `LOAD_USERS` (at most
//! 500) and `LOAD_SECONDS` (at most 600); loopback only.

use std::time::{Duration, Instant};

use app::roles::Role;
use server::auth::accounts::{NewLocalUser, create_local_user};
use support::process_usage;

mod support;

const PASSWORD: &str = "load-test-password-long";

fn env_number(name: &str, default: u64, most: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
        .min(most)
}

/// The pages each role opens, in turn.
fn pages(role: Role) -> &'static [&'static str] {
    match role {
        Role::Customer => &["/", "/databases", "/databases/new", "/account"],
        Role::Developer => &["/", "/apps", "/deploys", "/environments", "/apps/validate"],
        Role::Admin => &["/", "/admin/users", "/admin/audit", "/databases"],
    }
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let users = env_number("LOAD_USERS", 200, 500) as usize;
    let seconds = env_number("LOAD_SECONDS", 60, 600);
    let binary = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/portal");
    if !binary.exists() {
        return Err(format!("{} is missing: run `make build` first", binary.display()).into());
    }
    let data = tempfile::tempdir()?;

    // The people, seeded straight into the store the portal will open.
    let url = format!("sqlite://{}", data.path().join("portal.db").display());
    std::fs::create_dir_all(data.path())?;
    let store = server::store::connect(&url).await?;
    store.migrate().await?;
    let mut people = Vec::new();
    for index in 0..users {
        let role = match index % 20 {
            0 => Role::Admin,
            1..=4 => Role::Developer,
            _ => Role::Customer,
        };
        let username = format!("load-{role}-{index:03}");
        create_local_user(
            store.as_ref(),
            &server::audit::Actor::command_line(),
            NewLocalUser {
                username: username.clone(),
                display_name: None,
                email: None,
                role,
                password: Some(PASSWORD.to_string()),
            },
        )
        .await?;
        people.push((username, role));
    }
    drop(store);

    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
        probe.local_addr()?.port()
    };
    let mut portal = std::process::Command::new(&binary)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data.path())
        .args(["--site-root", "target/site"])
        .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(users)
        .build()?;
    let ready_by = Instant::now() + Duration::from_secs(60);
    while client.get(format!("{base}/readyz")).send().await.is_err() {
        if Instant::now() > ready_by {
            let _ = portal.kill();
            return Err("the portal did not start within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (cpu_before, _) = process_usage(portal.id()).unwrap_or_default();

    // Everyone signs in through the form, as a browser does.
    let signing_in = Instant::now();
    let mut sessions = Vec::new();
    for (username, role) in &people {
        let cookie = support::sign_in(&client, &base, username, PASSWORD).await?;
        sessions.push((cookie, *role));
    }
    let sign_in_time = signing_in.elapsed();

    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let mut browsing = tokio::task::JoinSet::new();
    for (person, (cookie, role)) in sessions.into_iter().enumerate() {
        let client = client.clone();
        let base = base.clone();
        browsing.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = Vec::new();
            let pages = pages(role);
            let mut next = person % pages.len();
            while Instant::now() < until {
                let page = pages[next];
                next = (next + 1) % pages.len();
                let asked = Instant::now();
                let outcome = client
                    .get(format!("{base}{page}"))
                    .header(reqwest::header::COOKIE, &cookie)
                    .send()
                    .await;
                match outcome {
                    Ok(response) if response.status().is_success() => {
                        // The whole page, as a browser reads it.
                        match response.bytes().await {
                            Ok(_) => latencies.push(asked.elapsed()),
                            Err(error) => errors.push(format!("{page}: {error}")),
                        }
                    }
                    Ok(response) => errors.push(format!("{page}: {}", response.status())),
                    Err(error) => errors.push(format!("{page}: {error}")),
                }
            }
            (latencies, errors)
        });
    }
    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    while let Some(result) = browsing.join_next().await {
        let (mine, failed) = result?;
        latencies.extend(mine);
        errors.extend(failed);
    }
    let elapsed = started.elapsed();
    let (cpu_after, peak_kib) = process_usage(portal.id()).unwrap_or_default();
    let _ = portal.kill();
    let _ = portal.wait();

    latencies.sort();
    let requests = latencies.len() + errors.len();
    println!(
        "{users} signed-in users for {seconds} s on loopback (release build, SQLite, sandbox)"
    );
    println!("sign-in of all users: {:.1} s", sign_in_time.as_secs_f64());
    println!(
        "requests: {requests} ({:.0}/s), errors: {}",
        requests as f64 / elapsed.as_secs_f64(),
        errors.len()
    );
    println!(
        "latency: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.90).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
    );
    println!(
        "portal process: {:.1} s of CPU while browsing ({:.2} cores), peak memory {} MiB",
        cpu_after - cpu_before,
        (cpu_after - cpu_before) / elapsed.as_secs_f64(),
        peak_kib / 1024
    );
    for error in errors.iter().take(10) {
        println!("error: {error}");
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{} requests failed", errors.len()).into())
    }
}
