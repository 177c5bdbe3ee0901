//! Speed a person feels (issue 21): the release portal against nginx
//! serving the very same bytes, in one run.
//!
//! `make speed` (it installs wrk and nginx from Debian when missing and
//! builds the release portal first) runs `cargo bench -p server --bench
//! speed`: one customer with 25 databases in a fresh data directory, the
//! release `portal` on it, signed in through the form; the signed-in
//! `/databases` page is saved and nginx serves those bytes. Then wrk, 5 s
//! each:
//! - `/databases` signed in, 16 kept-alive connections: portal and nginx,
//!   requests/s, and their ratio;
//! - the same over one connection, kept alive and with `Connection: close`
//!   (a kept-alive connection must not wait on the network stack);
//! - the portal's CPU per request for `/databases`, `/sign-in` and
//!   `/healthz` (from /proc around each run).
//!
//! The first load's transferred bytes per route are measured in Chromium
//! by `end2end/tests/hydrated.spec.ts`, which `make speed` runs after this.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use app::databases::Status;
use app::roles::Role;
use server::auth::accounts::{NewLocalUser, create_local_user};
use server::store::EngineReport;
use support::{BenchResult, process_usage};

mod support;

const PASSWORD: &str = "speed-test-password-long";
const DATABASES: usize = 25;

/// A child process stopped when dropped, whatever the outcome: SIGTERM,
/// so that nginx's master takes its workers along, then SIGKILL after 10 s.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let by = Instant::now() + Duration::from_secs(10);
        while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < by {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> BenchResult<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// What one wrk run said.
struct Load {
    requests: u64,
    per_second: f64,
    latency: String,
}

/// wrk for 5 s on `url` with `connections`, and extra headers.
fn wrk(url: &str, connections: u32, headers: &[String]) -> BenchResult<Load> {
    let mut command = Command::new("wrk");
    let threads = connections.clamp(1, 2);
    command.args([
        format!("-t{threads}"),
        format!("-c{connections}"),
        "-d5s".to_string(),
    ]);
    for header in headers {
        command.args(["-H", header]);
    }
    let output = command
        .arg(url)
        .output()
        .map_err(|error| format!("wrk: {error} (make speed installs it)"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if text.contains("Non-2xx") {
        return Err(format!("{url} answered errors under load:\n{text}").into());
    }
    let requests = text
        .lines()
        .find(|line| line.contains(" requests in "))
        .and_then(|line| line.split_whitespace().next())
        .and_then(|count| count.parse().ok())
        .ok_or_else(|| format!("wrk said nothing countable:\n{text}"))?;
    let per_second = text
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| format!("wrk said no rate:\n{text}"))?;
    let latency = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("Latency"))
        .map(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            format!(
                "mean {}, max {}",
                columns.first().unwrap_or(&"?"),
                columns.get(2).unwrap_or(&"?")
            )
        })
        .unwrap_or_default();
    Ok(Load {
        requests,
        per_second,
        latency,
    })
}

/// wrk on the portal, with the portal's CPU per request.
fn measure_portal(
    pid: u32,
    url: &str,
    connections: u32,
    headers: &[String],
) -> BenchResult<(Load, f64)> {
    let (before, _) = process_usage(pid).ok_or("cannot read the portal's /proc")?;
    let load = wrk(url, connections, headers)?;
    let (after, _) = process_usage(pid).ok_or("cannot read the portal's /proc")?;
    let cpu_ms = (after - before) * 1e3 / load.requests.max(1) as f64;
    Ok((load, cpu_ms))
}

async fn seed(data: &Path) -> BenchResult {
    let store =
        server::store::connect(&format!("sqlite://{}", data.join("portal.db").display())).await?;
    store.migrate().await?;
    support::unlimited_quota(&store).await?;
    let (customer, _) = create_local_user(
        store.as_ref(),
        &server::audit::Actor::command_line(),
        NewLocalUser {
            username: "speed".into(),
            display_name: Some("Speed".into()),
            email: None,
            role: Role::Customer,
            password: Some(PASSWORD.into()),
        },
    )
    .await?;
    for index in 0..DATABASES {
        let created = store
            .create_database(support::new_database(
                customer.id,
                format!("orders-{index:02}"),
                support::engine_for(index),
            )?)
            .await?
            .into_record();
        // Settled as ACTIVE: the page stays the same bytes for the run.
        let report = EngineReport {
            generation: created.generation,
            status: Status::Active,
            message: None,
            settled: true,
            configured: true,
            configured_version: 1,
        };
        store.report_database(created.id, None, &report).await?;
    }
    Ok(())
}

fn nginx(root: &Path, port: u16) -> BenchResult<Running> {
    let config = format!(
        "daemon off; user root; worker_processes auto; pid {root}/nginx.pid; error_log {root}/error.log;\n\
         events {{ worker_connections 1024; }}\n\
         http {{ access_log off; client_body_temp_path {root}/body; proxy_temp_path {root}/proxy;\n\
         fastcgi_temp_path {root}/fastcgi; uwsgi_temp_path {root}/uwsgi; scgi_temp_path {root}/scgi;\n\
         server {{ listen 127.0.0.1:{port};\n\
         location = /databases {{ default_type \"text/html; charset=utf-8\"; alias {root}/databases.html; }} }} }}\n",
        root = root.display()
    );
    std::fs::write(root.join("nginx.conf"), config)?;
    let child = Command::new("nginx")
        .arg("-c")
        .arg(root.join("nginx.conf"))
        .arg("-p")
        .arg(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("nginx: {error} (make speed installs it)"))?;
    Ok(Running(child))
}

async fn wait_until_up(client: &reqwest::Client, url: &str) -> BenchResult {
    let by = Instant::now() + Duration::from_secs(60);
    while client.get(url).send().await.is_err() {
        if Instant::now() > by {
            return Err(format!("{url} did not answer within 60 s").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> BenchResult {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let binary = root.join("target/release/portal");
    if !binary.exists() {
        return Err(format!("{} is missing: run `make build` first", binary.display()).into());
    }
    let data = tempfile::tempdir()?;
    seed(data.path()).await?;

    let port = free_port()?;
    let portal = Running(
        Command::new(&binary)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data.path())
            .args(["--site-root", "target/site"])
            .current_dir(&root)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()?,
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    wait_until_up(&client, &format!("{base}/readyz")).await?;
    let cookie = support::sign_in(&client, &base, "speed", PASSWORD).await?;
    let page = client
        .get(format!("{base}/databases"))
        .header(reqwest::header::COOKIE, &cookie)
        .send()
        .await?
        .bytes()
        .await?;
    let rows = String::from_utf8_lossy(&page).matches("orders-").count();
    if rows < DATABASES {
        return Err(format!("the page lists {rows} of {DATABASES} databases").into());
    }
    std::fs::write(data.path().join("databases.html"), &page)?;
    let nginx_port = free_port()?;
    let _nginx = nginx(data.path(), nginx_port)?;
    let copy = format!("http://127.0.0.1:{nginx_port}/databases");
    wait_until_up(&client, &copy).await?;

    let pid = portal.0.id();
    let signed = [format!("Cookie: {cookie}")];
    let close = [format!("Cookie: {cookie}"), "Connection: close".to_string()];
    let databases = format!("{base}/databases");
    println!(
        "the signed-in databases page: {} bytes, {DATABASES} rows (release build, SQLite, loopback)",
        page.len()
    );

    let (portal_16, databases_cpu) = measure_portal(pid, &databases, 16, &signed)?;
    let nginx_16 = wrk(&copy, 16, &[])?;
    println!(
        "/databases, 16 kept-alive connections: portal {:.0} req/s ({}), nginx {:.0} req/s ({}): {:.3}× nginx",
        portal_16.per_second,
        portal_16.latency,
        nginx_16.per_second,
        nginx_16.latency,
        portal_16.per_second / nginx_16.per_second
    );
    let (kept, _) = measure_portal(pid, &databases, 1, &signed)?;
    let (fresh, _) = measure_portal(pid, &databases, 1, &close)?;
    let nginx_kept = wrk(&copy, 1, &[])?;
    let nginx_fresh = wrk(&copy, 1, &["Connection: close".to_string()])?;
    println!(
        "/databases, one connection: portal kept-alive {:.0} req/s ({}), Connection: close {:.0} req/s ({}); nginx {:.0} / {:.0} req/s",
        kept.per_second,
        kept.latency,
        fresh.per_second,
        fresh.latency,
        nginx_kept.per_second,
        nginx_fresh.per_second
    );
    let (_, sign_in_cpu) = measure_portal(pid, &format!("{base}/sign-in"), 16, &[])?;
    let (_, healthz_cpu) = measure_portal(pid, &format!("{base}/healthz"), 16, &[])?;
    println!(
        "portal CPU per request: /databases {databases_cpu:.3} ms, /sign-in {sign_in_cpu:.3} ms, /healthz {healthz_cpu:.3} ms"
    );
    if let Some((_, peak_kib)) = process_usage(pid) {
        println!("portal peak memory: {} MiB", peak_kib / 1024);
    }
    Ok(())
}
