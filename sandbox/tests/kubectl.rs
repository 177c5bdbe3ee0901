//! The real kubectl (`/usr/bin/kubectl`, on every machine of this kind)
//! against the sandbox served on loopback: a client nobody here wrote, so if
//! it works, the protocol is right.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use support::{Kubectl, TOKEN};

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
    // The condition is set only once kubectl's watch is open (its -v=6 log
    // names the request), so the watch must deliver it; set earlier, the
    // first GET would already see it.
    let mut waiting = kubectl.stream(&[
        "wait",
        "--for=condition=Available",
        "deployment/web",
        "--timeout=20s",
        "-v=6",
    ]);
    waiting.until_logged("watch=true").await;
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
        .await;
    let said = waiting.rest().await;
    assert!(
        said.iter().any(|line| line.contains("condition met")),
        "{said:?}"
    );
    assert!(waiting.child.wait().await.unwrap().success());
}
