//! What the flags `binary.rs` does not exercise do to the running portal:
//! `--kubernetes` (sandbox, auto, cluster), `--sandbox-listen`,
//! `--sandbox-operator-delay-ms`, `--outside-address`, `--site-root` and
//! `--log`. (`binary.rs` checks that `--help` and the README list the same
//! flags; the others have their effect tested where they act.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod support;

use support::process::{Running, portal};

/// A port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn kubectl(kubeconfig: &Path, arguments: &[&str]) -> std::process::Output {
    Command::new("/usr/bin/kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(arguments)
        .output()
        .expect("kubectl is part of this machine kind")
}

/// `portal serve` that must refuse to start: its exit and what it said.
fn refused(data_dir: &Path, extra: &[&str], environment: &[(&str, &str)]) -> String {
    let output = portal()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .envs(environment.iter().copied())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "it started: {said}");
    said
}

const NO_CLUSTER: (&str, &str) = ("KUBECONFIG", "/nonexistent/kubeconfig");

#[tokio::test(flavor = "multi_thread")]
async fn kubernetes_chooses_the_sandbox_or_the_configured_cluster() {
    let dir = tempfile::tempdir().unwrap();
    // `sandbox` wins over a configured cluster; the sandbox listens where
    // --sandbox-listen says, and kubectl reaches it there.
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let sandbox_data = dir.path().join("sandboxed");
    let mut sandboxed = Running::start_with(
        &sandbox_data,
        &["--kubernetes", "sandbox", "--sandbox-listen", &listen],
        &[NO_CLUSTER],
    );
    let line = sandboxed.wait_for("the built-in sandbox on");
    assert!(line.contains(&format!("https://{listen}")), "{line}");
    sandboxed.wait_for("serving on");
    let kubeconfig = sandbox_data.join("sandbox.kubeconfig");
    let server = kubectl(
        &kubeconfig,
        &[
            "config",
            "view",
            "-o",
            "jsonpath={.clusters[0].cluster.server}",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&server.stdout),
        format!("https://{listen}")
    );
    assert!(
        kubectl(&kubeconfig, &["get", "ns", "default"])
            .status
            .success()
    );

    // `auto` with KUBECONFIG takes that cluster (here the first portal's
    // sandbox) and starts no sandbox of its own; a cluster accepts
    // --outside-address.
    let cluster_data = dir.path().join("on-a-cluster");
    let kubeconfig_text = kubeconfig.to_str().unwrap();
    let mut on_cluster = Running::start_with(
        &cluster_data,
        &[
            "--kubernetes",
            "auto",
            "--outside-address",
            "local={name}.db.example.com",
        ],
        &[("KUBECONFIG", kubeconfig_text)],
    );
    let line = on_cluster.wait_for("Kubernetes:");
    assert!(
        line.contains(&format!("the cluster at https://{listen}")),
        "{line}"
    );
    on_cluster.wait_for("serving on");
    assert!(!cluster_data.join("sandbox.kubeconfig").exists());
    assert!(on_cluster.terminate().success());
    assert!(sandboxed.terminate().success());

    // `cluster` without one configured refuses to start, and says what to do.
    let said = refused(
        &dir.path().join("no-cluster"),
        &["--kubernetes", "cluster"],
        &[NO_CLUSTER],
    );
    assert!(
        said.contains("cannot read the Kubernetes configuration")
            && said.contains("--kubernetes sandbox"),
        "{said}"
    );
    // Nothing outside reaches the sandbox's databases: the flag is refused.
    let said = refused(
        &dir.path().join("sandbox-outside"),
        &[
            "--kubernetes",
            "sandbox",
            "--outside-address",
            "local=db.example.com",
        ],
        &[],
    );
    assert!(
        said.contains("--outside-address does not apply to the built-in sandbox"),
        "{said}"
    );
}

/// The sandbox's simulated operators take `--sandbox-operator-delay-ms`:
/// at 0 a datacenter is Ready within 2 s (the default, 3 s, is not).
#[tokio::test(flavor = "multi_thread")]
async fn the_operator_delay_sets_how_long_the_simulated_operators_take() {
    let dir = tempfile::tempdir().unwrap();
    let mut running = Running::start_with(
        dir.path(),
        &[
            "--kubernetes",
            "sandbox",
            "--sandbox-operator-delay-ms",
            "0",
        ],
        &[NO_CLUSTER],
    );
    running.wait_for("serving on");
    let kubeconfig = dir.path().join("sandbox.kubeconfig");
    let manifest = dir.path().join("dc1.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: cassandra.datastax.com/v1beta1
kind: CassandraDatacenter
metadata: {name: dc1, namespace: default}
spec:
  clusterName: probe
  serverType: cassandra
  serverVersion: 4.1.5
  size: 1
  storageConfig:
    cassandraDataVolumeClaimSpec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
",
    )
    .unwrap();
    let applied = kubectl(&kubeconfig, &["apply", "-f", manifest.to_str().unwrap()]);
    assert!(applied.status.success(), "{applied:?}");
    let ready = kubectl(
        &kubeconfig,
        &[
            "wait",
            "cassandradatacenter/dc1",
            "--for=jsonpath={.status.cassandraOperatorProgress}=Ready",
            "--timeout=2s",
        ],
    );
    assert!(
        ready.status.success(),
        "{}",
        String::from_utf8_lossy(&ready.stderr)
    );
    running.terminate();
}

/// `--site-root` is where the front end's files are served from, and
/// `--log warn` leaves out the info lines a default start prints.
#[tokio::test(flavor = "multi_thread")]
async fn the_site_root_is_served_and_the_log_level_filters() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    std::fs::write(site.join("pkg/probe.txt"), "from the site root").unwrap();
    let port = free_port();
    let child = portal()
        .args(["serve", "--kubernetes", "sandbox", "--log", "warn"])
        .args(["--log-format", "json", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--site-root")
        .arg(&site)
        .env(NO_CLUSTER.0, NO_CLUSTER.1)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/pkg/probe.txt");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let answer = loop {
        match client.get(&url).send().await {
            Ok(answer) => break answer,
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("the portal never answered on {port}: {error}"),
        }
    };
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "from the site root");

    support::process::sigterm(&child);
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stdout);
    let levels: Vec<String> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|line| line["level"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        levels
            .iter()
            .all(|level| level == "WARN" || level == "ERROR"),
        "{log}"
    );
}
