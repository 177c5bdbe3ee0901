//! The `portal` binary as an operator runs it: help, migrate, serve, stop.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::{process::Command, time::Duration};

mod support;

use support::process::{Running, portal};

/// The `name=value` of the cookie a sign-in answer sets.
fn session_cookie(signed_in: &reqwest::Response) -> String {
    signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// `serve --help` and the README's table of flags list the same flags,
/// each with the same environment variable: a flag added without its
/// documentation, or documented and gone, fails here.
#[test]
fn help_and_the_readme_document_every_flag_and_its_environment_variable() {
    let serve_help = portal().args(["serve", "--help"]).output().unwrap();
    assert!(serve_help.status.success());
    let text = String::from_utf8(serve_help.stdout).unwrap();
    let mut in_help = std::collections::BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some(flag) = line
            .strip_prefix("--")
            .or_else(|| line.split_once(", --").map(|(_, flag)| flag))
        {
            let name = flag.split_whitespace().next().unwrap();
            current = (name != "help").then(|| format!("--{name}"));
        } else if let (Some(flag), Some(env)) = (&current, line.strip_prefix("[env: ")) {
            in_help.insert(
                flag.clone(),
                env.split(['=', ']']).next().unwrap().to_string(),
            );
        }
    }
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let in_readme: std::collections::BTreeMap<String, String> = readme
        .lines()
        .filter_map(|line| {
            let mut cells = line.strip_prefix("| `--")?.split('|');
            let flag = format!("--{}", cells.next()?.trim().trim_matches('`'));
            let env = cells.next()?.trim().trim_matches('`').to_string();
            Some((flag, env))
        })
        .collect();
    assert!(
        in_help.len() >= 25,
        "too few flags read from --help: {in_help:?}"
    );
    assert_eq!(
        in_help, in_readme,
        "serve --help (left) and README's table (right)"
    );
    let top = portal().arg("--help").output().unwrap();
    let text = String::from_utf8(top.stdout).unwrap();
    assert!(text.contains("serve") && text.contains("migrate"), "{text}");
}

#[test]
fn migrate_creates_the_embedded_database_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("nested/data");
    let output = portal()
        .args(["migrate", "--data-dir"])
        .arg(&data_dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(data_dir.join("portal.db").exists());
    // Running it again is harmless.
    let again = portal()
        .args(["migrate", "--data-dir"])
        .arg(&data_dir)
        .output()
        .unwrap();
    assert!(again.status.success(), "{again:?}");
}

#[test]
fn an_unsupported_database_url_fails_with_a_clear_message() {
    let output = portal()
        .args([
            "migrate",
            "--database-url",
            "mysql://root:hunter2@db/portal",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("unsupported database URL"), "{log}");
    assert!(log.contains("sqlite://"), "{log}");
    assert!(
        !log.contains("hunter2"),
        "the password must not be logged: {log}"
    );
}

#[test]
fn a_bad_log_filter_is_refused_before_anything_starts() {
    let output = portal()
        .args(["migrate", "--log", "info,=[=="])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid log filter"));
}

#[tokio::test]
async fn serve_answers_and_stops_cleanly_on_sigterm() {
    let (mut running, dir) = Running::start(&[]);
    let address = running.address();
    let health = reqwest::get(format!("{address}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let ready: serde_json::Value = reqwest::get(format!("{address}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["store"], "sqlite");
    assert!(dir.path().join("portal.db").exists());
    // The keyring of the embedded default: made on the first start, the owner's alone.
    {
        use std::os::unix::fs::PermissionsExt as _;
        let keyring = std::fs::metadata(dir.path().join("keyring")).unwrap();
        assert_eq!(keyring.permissions().mode() & 0o777, 0o600);
    }

    let status = running.terminate();
    assert!(status.success(), "exit status {status:?}");
    running.wait_for("stopped");
}

#[tokio::test]
async fn json_logs_are_one_object_a_line() {
    let (mut running, _dir) = Running::start(&["--log-format", "json"]);
    let line = running.wait_for("serving on");
    let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(parsed["level"], "INFO");
    running.terminate();
}

/// A keyring given with --keyring must exist, and one that cannot open
/// what the store holds refuses to start, naming the key.
#[test]
fn a_missing_or_wrong_keyring_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("mounted-keyring");
    let output = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--kubernetes",
            "sandbox",
            "--data-dir",
        ])
        .arg(dir.path())
        .arg("--keyring")
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr).to_string()
        + &String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("mounted-keyring") && text.contains("cannot read it"),
        "{text}"
    );
}

fn kubectl(kubeconfig: &std::path::Path, arguments: &[&str]) -> String {
    let output = Command::new("/usr/bin/kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(arguments)
        .output()
        .expect("kubectl is part of this machine kind");
    assert!(
        output.status.success(),
        "kubectl {arguments:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Without a cluster the portal runs the built-in sandbox, says where its
/// kubeconfig is, and keeps what was created there across a restart.
#[tokio::test]
async fn the_embedded_sandbox_answers_kubectl_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let kubeconfig = data.join("sandbox.kubeconfig");
    let mut running = Running::start_in(&data, &[]);
    let admin = running.wait_for("the first admin was created");
    assert!(admin.contains("username `admin`, password `"), "{admin}");
    let line = running.wait_for("kubectl --kubeconfig");
    assert!(line.contains("sandbox.kubeconfig"), "{line}");
    // The footer's hint, then what people type next (kubectl sends it as protobuf).
    let namespaces = kubectl(&kubeconfig, &["get", "ns"]);
    assert!(
        namespaces.starts_with("NAME")
            && namespaces.contains("STATUS")
            && namespaces.contains("default"),
        "{namespaces}"
    );
    kubectl(&kubeconfig, &["create", "ns", "probe"]);
    let crds = kubectl(&kubeconfig, &["get", "crd"]);
    assert!(
        crds.contains("cassandradatacenters.cassandra.datastax.com"),
        "{crds}"
    );
    assert!(crds.contains("clusters.postgresql.cnpg.io"), "{crds}");
    let manifest = dir.path().join("kept.yaml");
    std::fs::write(&manifest, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept, namespace: default}\ndata: {a: b}\n").unwrap();
    kubectl(&kubeconfig, &["apply", "-f", manifest.to_str().unwrap()]);
    running.wait_for("serving on");

    // Everything holding a credential is its owner's alone, and the
    // sandbox wants the kubeconfig's token.
    let mode = |path: &std::path::Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    };
    assert_eq!(mode(&data), 0o700);
    for file in [
        "sandbox.kubeconfig",
        "portal.db",
        "keyring",
        "sandbox/objects.jsonl",
    ] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    let config = std::fs::read_to_string(&kubeconfig).unwrap();
    let token_line = config
        .lines()
        .find(|line| line.trim_start().starts_with("token: "))
        .expect("the kubeconfig carries a token")
        .to_string();
    let anonymous = dir.path().join("anonymous.kubeconfig");
    std::fs::write(
        &anonymous,
        config.replace(&token_line, "    token: guessed"),
    )
    .unwrap();
    let refused = Command::new("/usr/bin/kubectl")
        .arg("--kubeconfig")
        .arg(&anonymous)
        .args(["get", "secrets", "-A"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("(Unauthorized)"),
        "{refused:?}"
    );
    assert!(running.terminate().success());

    let mut running = Running::start_in(&data, &[]);
    running.wait_for("kubectl --kubeconfig");
    assert!(
        !running
            .log
            .iter()
            .any(|line| line.contains("the first admin was created")),
        "the first admin is created once"
    );
    let kept = kubectl(
        &kubeconfig,
        &["get", "configmap", "kept", "-o", "jsonpath={.data.a}"],
    );
    assert_eq!(kept, "b");
    let probe = kubectl(
        &kubeconfig,
        &["get", "ns", "probe", "-o", "jsonpath={.status.phase}"],
    );
    assert_eq!(probe, "Active");
    running.terminate();
}

/// A live view streams for minutes; SIGTERM ends it at once (its browser
/// reconnects, to another replica) instead of waiting out the grace period
/// (20 s here): the portal stops in a few seconds and closed nothing.
#[tokio::test]
async fn sigterm_ends_live_views_at_once_instead_of_waiting_out_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    support::process::create_user(dir.path(), "cora", "customer", "coras-long-password");
    let mut running = Running::start_in(dir.path(), &["--shutdown-grace-secs", "20"]);
    let address = running.address();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = client
        .post(format!("{address}/auth/sign-in"))
        .form(&[
            ("username", "cora"),
            ("password", "coras-long-password"),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&signed_in);
    let created = client
        .post(format!("{address}/api/create_database"))
        .header("cookie", &cookie)
        .form(&[
            ("form[name]", "orders"),
            ("form[engine]", "postgresql"),
            ("form[schema_name]", ""),
            ("form[tier]", "starter"),
            ("form[region]", "local"),
            ("form[request_key]", ""),
        ])
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());
    let id: String = created.json().await.unwrap();
    let mut live = client
        .get(format!("{address}/databases/{id}/events"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    assert!(live.chunk().await.unwrap().is_some(), "the first event");

    let asked = std::time::Instant::now();
    let status = running.terminate();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "stopped after {:?}",
        asked.elapsed()
    );
    // The stream ended (no more events, no hang).
    while let Ok(Some(_)) = live.chunk().await {}
    running.wait_for("stopped");
    assert!(
        !running
            .log
            .iter()
            .any(|line| line.contains("they are closed")),
        "a request was still open at the end of the grace period"
    );
}

/// A SIGTERM while the portal is still starting (a rollout, an impatient
/// operator) stops it cleanly instead of killing it.
#[tokio::test]
async fn sigterm_during_start_up_stops_cleanly() {
    let (mut running, _dir) = Running::start(&[]);
    running.wait_for("database ready");
    let status = running.terminate();
    assert!(status.success(), "exit status {status:?}");
}

/// A session lives in the database: signed in before a restart, still
/// signed in after it.
#[tokio::test]
async fn sessions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut running = Running::start_in(dir.path(), &[]);
    let line = running.wait_for("the first admin was created");
    let password = line
        .split("password `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap()
        .to_string();
    let address = running.address();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = client
        .post(format!("{address}/auth/sign-in"))
        .form(&[
            ("username", "admin"),
            ("password", password.as_str()),
            ("next", "/account"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let cookie = session_cookie(&signed_in);
    assert!(running.terminate().success());

    let mut running = Running::start_in(dir.path(), &[]);
    let address = running.address();
    let account = client
        .get(format!("{address}/account"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(account.status(), 200);
    assert!(account.text().await.unwrap().contains("Administrator"));
    running.terminate();
}

#[test]
fn a_configuration_that_lets_nobody_sign_in_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let output = portal()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--local-sign-in",
            "false",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("nobody could sign in"), "{log}");

    let config = dir.path().join("sso.yaml");
    std::fs::write(&config, "providers:\n  - id: Corp\n").unwrap();
    let output = portal()
        .args(["serve", "--listen", "127.0.0.1:0", "--sso-config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("sso.yaml"), "{log}");
}

/// With `--region NAME=KUBECONFIG` the portal provisions on those clusters
/// (here two sandboxes on loopback, reached like real clusters through a
/// kubeconfig), one engine and Lease per region, and no sandbox of its own.
// Multi-threaded: the test blocks a thread reading the portal's log while
// the two sandboxes it serves must keep answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_configured_region_gets_its_own_engine_and_lease() {
    let dir = tempfile::tempdir().unwrap();
    let mut clusters = Vec::new();
    let mut arguments = Vec::new();
    for region in ["eu-west", "us-east"] {
        let cluster = sandbox::Sandbox::with_controllers(sandbox::Behaviour::default());
        cluster.install_operator_crds();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let served = cluster.serve(listener, region).await.unwrap();
        let kubeconfig = dir.path().join(format!("{region}.kubeconfig"));
        std::fs::write(&kubeconfig, served.kubeconfig()).unwrap();
        arguments.push("--region".to_string());
        arguments.push(format!("{region}={}", kubeconfig.display()));
        clusters.push((cluster, kubeconfig));
    }
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
    let data = dir.path().join("data");
    let mut running = Running::start_in(&data, &arguments);
    running.wait_for("region eu-west on");
    running.wait_for("region us-east on");
    let address = running.address();
    // Every page carries the regions' names for the create form; which
    // cluster and its API server's address are for signed-in people only,
    // not on the public sign-in page.
    let page = reqwest::get(format!("{address}/sign-in"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"<meta name="dscloud-regions" content="eu-west,us-east""#),
        "{page}"
    );
    assert!(!page.contains("Kubernetes cluster: "), "{page}");
    assert!(!page.contains("https://127.0.0.1:"), "{page}");
    assert!(!page.contains("dscloud-kubernetes"), "{page}");
    for (_cluster, kubeconfig) in &clusters {
        // The engine's Lease appears in each region's cluster.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let leases = kubectl(kubeconfig, &["get", "lease", "-A", "-o", "name"]);
            if leases.contains("dscloud-provisioning-engine") {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no Lease: {leases}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    assert!(
        !running
            .log
            .iter()
            .any(|line| line.contains("built-in sandbox")),
        "no sandbox of its own when regions are configured"
    );
    assert!(!data.join("sandbox.kubeconfig").exists());
    assert!(running.terminate().success());
}

#[test]
fn a_bad_region_is_refused_at_start_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.kubeconfig");
    for (region, expected) in [
        ("EU=/k".to_string(), "lowercase letters"),
        ("eu-west".to_string(), "is not NAME=KUBECONFIG"),
        (
            format!("eu-west={}", missing.display()),
            "region eu-west: cannot read the kubeconfig",
        ),
    ] {
        let output = portal()
            .args(["serve", "--listen", "127.0.0.1:0", "--region", &region])
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{region} accepted");
        let log = String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(log.contains(expected), "{region}: {log}");
    }
}

#[test]
fn a_bad_registry_auth_file_or_environment_option_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("config.json");
    std::fs::write(
        &broken,
        r#"{"auths": {"registry.dscloud.local": {"auth": "bm8tY29sb24tc2VjcmV0"}}}"#,
    )
    .unwrap();
    let missing = dir.path().join("missing.json");
    let cases: [(Vec<std::ffi::OsString>, &str); 3] = [
        (
            vec!["--registry-auth".into(), missing.clone().into()],
            "--registry-auth",
        ),
        (
            vec!["--registry-auth".into(), broken.clone().into()],
            "is not base64 of user:password",
        ),
        (
            vec![
                "--environment".into(),
                "dev,ingress-host=apps.example.com".into(),
            ],
            "must contain {app}",
        ),
    ];
    for (arguments, expected) in cases {
        let output = portal()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(&arguments)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{arguments:?} accepted");
        let log = String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(log.contains(expected), "{arguments:?}: {log}");
        assert!(
            !log.contains("no-colon-secret"),
            "the secret printed: {log}"
        );
    }
}
