//! The real kubectl (`/usr/bin/kubectl`, on every machine of this kind)
//! against the sandbox served on loopback: a client nobody here wrote, so if
//! it works, the protocol is right.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::{Path, PathBuf};
use std::process::Output;

use sandbox::Sandbox;

/// The served sandbox's bearer token, in every kubeconfig here.
const TOKEN: &str = "kubectl-test-token";

struct Kubectl {
    kubeconfig: PathBuf,
    directory: tempfile::TempDir,
}

impl Kubectl {
    async fn start() -> Kubectl {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let served = Sandbox::new().serve(listener, TOKEN).await.unwrap();
        let directory = tempfile::tempdir().unwrap();
        let kubeconfig = directory.path().join("kubeconfig");
        std::fs::write(&kubeconfig, served.kubeconfig()).unwrap();
        Kubectl {
            kubeconfig,
            directory,
        }
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.directory.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    async fn run(&self, arguments: &[&str]) -> Output {
        let kubectl = Path::new("/usr/bin/kubectl");
        assert!(
            kubectl.exists(),
            "kubectl is part of this machine kind; it must be at /usr/bin/kubectl"
        );
        tokio::process::Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(arguments)
            .output()
            .await
            .unwrap()
    }

    /// Runs and expects success; returns standard output.
    async fn ok(&self, arguments: &[&str]) -> String {
        let output = self.run(arguments).await;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "kubectl {arguments:?} failed:\n{stdout}\n{stderr}"
        );
        stdout
    }
}

#[tokio::test]
async fn without_the_token_kubectl_is_refused_as_unauthorized() {
    let kubectl = Kubectl::start().await;
    assert!(kubectl.ok(&["get", "namespaces"]).await.contains("default"));
    // (With no credentials at all kubectl asks for a username instead: the
    // missing header is the bearer module's own test.)
    for user in ["user:\n    token: a-wrong-token", "user:\n    token: x"] {
        let config = std::fs::read_to_string(&kubectl.kubeconfig)
            .unwrap()
            .replace(&format!("user:\n    token: {TOKEN}"), user);
        let other = kubectl.file("other-kubeconfig", &config);
        let output = tokio::process::Command::new("/usr/bin/kubectl")
            .arg("--kubeconfig")
            .arg(&other)
            .args(["get", "secrets", "-A"])
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{user}");
        assert!(
            stderr.contains("You must be logged in to the server (Unauthorized)"),
            "{user}: {stderr}"
        );
    }
}

const CONFIG_MAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: team
  labels: {app: shop}
data:
  mode: fast
";

#[tokio::test]
async fn get_apply_and_delete_work_from_kubectl() {
    let kubectl = Kubectl::start().await;
    assert!(kubectl.ok(&["get", "namespaces"]).await.contains("default"));
    // Imperative generators (`kubectl create namespace …`) send protobuf, which
    // the sandbox does not speak (it answers 415); manifests go as JSON.
    let namespace = kubectl.file(
        "team.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n",
    );
    kubectl
        .ok(&["apply", "-f", namespace.to_str().unwrap()])
        .await;

    let file = kubectl.file("settings.yaml", CONFIG_MAP);
    let file = file.to_str().unwrap();
    assert!(
        kubectl
            .ok(&["apply", "-f", file])
            .await
            .contains("configmap/settings created")
    );
    assert!(
        kubectl
            .ok(&["apply", "-f", file])
            .await
            .contains("unchanged")
    );
    let changed = kubectl.file("changed.yaml", &CONFIG_MAP.replace("fast", "safe"));
    let changed = changed.to_str().unwrap();
    assert!(
        kubectl
            .ok(&["apply", "-f", changed])
            .await
            .contains("configured")
    );
    assert!(
        kubectl
            .ok(&["apply", "--server-side", "-f", file])
            .await
            .contains("serverside-applied")
    );

    let all = kubectl
        .ok(&["get", "configmaps", "-A", "-l", "app=shop"])
        .await;
    assert!(all.contains("team") && all.contains("settings"), "{all}");
    let json = kubectl
        .ok(&["get", "configmap", "settings", "-n", "team", "-o", "json"])
        .await;
    let object: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(object["data"]["mode"], "fast");
    assert!(
        kubectl
            .ok(&["get", "configmaps", "-A", "-l", "app=none"])
            .await
            .is_empty()
    );

    kubectl.ok(&["delete", "-f", file]).await;
    let gone = kubectl
        .run(&["get", "configmap", "settings", "-n", "team"])
        .await;
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("NotFound"));
}

#[tokio::test]
async fn wait_sees_a_condition_set_through_the_status_subresource() {
    let kubectl = Kubectl::start().await;
    let deployment = kubectl.file(
        "web.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
",
    );
    kubectl
        .ok(&["apply", "-f", deployment.to_str().unwrap()])
        .await;
    let waiting = kubectl.run(&[
        "wait",
        "--for=condition=Available",
        "deployment/web",
        "--timeout=20s",
    ]);
    let ready = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        kubectl
            .ok(&[
                "patch",
                "deployment",
                "web",
                "--subresource=status",
                "--type=merge",
                "-p",
                r#"{"status":{"conditions":[{"type":"Available","status":"True"}]}}"#,
            ])
            .await
    };
    let (waited, _) = tokio::join!(waiting, ready);
    assert!(
        waited.status.success(),
        "{}",
        String::from_utf8_lossy(&waited.stderr)
    );
    assert!(String::from_utf8_lossy(&waited.stdout).contains("condition met"));
}
