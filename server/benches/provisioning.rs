//! Benchmark: 1,000 databases created in a burst, provisioned by the engine
//! on the sandbox with zero operator delay, until every one is ACTIVE.
//!
//! `cargo bench -p server --bench provisioning` (or `make bench`) prints the
//! time until all are ACTIVE, the Kubernetes writes per database, the peak
//! memory of the portal's side and of the sandbox's, and checks none was
//! lost or duplicated. The sandbox runs in a process of its own (this same
//! binary, started again) and the engine reaches it over TLS, as the portal
//! reaches a real cluster, so each process's peak is its own.
//! Budgets (issues 6 and 21): 30 s, at most 15 writes per database, the
//! portal's side at most 150 MiB.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use app::databases::Status;
use app::roles::Role;
use axum::http::Method;
use sandbox::{Behaviour, Sandbox};
use server::provisioning::engine::ProvisioningEngine;
use server::store::{self, DatabaseQuery, NewUser};

mod support;

/// Set in the environment of the child that serves the sandbox.
const SERVE_SANDBOX: &str = "DSCLOUD_BENCH_SERVE_SANDBOX";
/// The line the child prints after its kubeconfig.
const KUBECONFIG_END: &str = "# end of kubeconfig";

/// 1,000 by default; `BENCH_DATABASES=100` for a quick look at how it scales.
fn databases() -> usize {
    std::env::var("BENCH_DATABASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000)
}

/// The child: a sandbox with instant controllers on a loopback port, its
/// kubeconfig on stdout, served until the parent closes stdin.
async fn serve_sandbox() -> support::BenchResult {
    let sandbox = Sandbox::with_controllers(Behaviour::instant());
    sandbox.install_operator_crds();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let served = sandbox.serve(listener, "bench-token").await?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}\n{KUBECONFIG_END}", served.kubeconfig())?;
    stdout.flush()?;
    drop(stdout);
    tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new())).await??;
    Ok(())
}

/// The sandbox's process, seen from the parent.
struct SandboxProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    kubeconfig: String,
}

impl SandboxProcess {
    fn start() -> support::BenchResult<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .env(SERVE_SANDBOX, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("the sandbox has no stdout")?;
        let mut kubeconfig = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            if line == KUBECONFIG_END {
                return Ok(Self {
                    child,
                    stdin,
                    kubeconfig,
                });
            }
            kubeconfig.push_str(&line);
            kubeconfig.push('\n');
        }
        Err("the sandbox stopped before printing its kubeconfig".into())
    }

    /// A client of the sandbox that counts every write it sends.
    async fn client(&self, writes: Arc<AtomicU64>) -> support::BenchResult<kube::Client> {
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&self.kubeconfig)?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        let count_writes = tower::util::MapRequestLayer::new(
            move |request: axum::http::Request<kube::client::Body>| {
                if !matches!(*request.method(), Method::GET | Method::HEAD) {
                    writes.fetch_add(1, Ordering::Relaxed);
                }
                request
            },
        );
        Ok(kube::client::ClientBuilder::try_from(config)?
            .with_layer(&count_writes)
            .build())
    }

    /// Its peak resident memory so far, in KiB.
    fn peak_memory_kib(&self) -> u64 {
        support::process_usage(self.child.id()).map_or(0, |(_, peak)| peak)
    }

    fn stop(mut self) -> support::BenchResult {
        drop(self.stdin.take());
        self.child.wait()?;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> support::BenchResult {
    if std::env::var_os(SERVE_SANDBOX).is_some() {
        return serve_sandbox().await;
    }
    let sandbox = SandboxProcess::start()?;
    // Every write the engine sends is counted on its way out.
    let writes = Arc::new(AtomicU64::new(0));
    let client = sandbox.client(writes.clone()).await?;

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
    let mut requests = Vec::with_capacity(DATABASES);
    for index in 0..DATABASES {
        let mut request =
            support::new_database(owner, format!("db-{index:04}"), support::engine_for(index))?;
        request.request_key = Some(format!("bench-{index}"));
        requests.push(request);
    }
    let creates = requests.into_iter().map(|request| {
        let store = store.clone();
        async move { store.create_database(request).await }
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
    let portal_peak = support::process_usage(std::process::id()).map_or(0, |(_, peak)| peak);
    println!(
        "peak memory, portal (VmHWM):  {} MiB (this process: store, engine, client; budget 150)",
        portal_peak / 1024
    );
    println!(
        "peak memory, sandbox (VmHWM): {} MiB (its own process: API server, controllers)",
        sandbox.peak_memory_kib() / 1024
    );
    sandbox.stop()?;
    if total as usize != DATABASES || active as usize != DATABASES || owned != DATABASES {
        return Err("lost or duplicated databases".into());
    }
    Ok(())
}
