//! `deploy/`: every overlay renders with the real `kubectl kustomize`,
//! applies with `kubectl apply --server-side` to a sandbox served over TLS,
//! and the portal's Deployment becomes available there; `install.yaml` is
//! the single-cluster overlay as rendered (`UPDATE_GOLDEN=1` rewrites it).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::{Path, PathBuf};
use std::process::Command;

use sandbox::{Behaviour, Sandbox};

const OVERLAYS: [&str; 3] = ["single-cluster", "regions", "with-builds"];

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn kubectl(kubeconfig: Option<&Path>, arguments: &[&str]) -> String {
    let mut command = Command::new("/usr/bin/kubectl");
    if let Some(kubeconfig) = kubeconfig {
        command.arg("--kubeconfig").arg(kubeconfig);
    }
    let output = command
        .args(arguments)
        .output()
        .expect("kubectl is part of this machine kind");
    assert!(
        output.status.success(),
        "kubectl {arguments:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn render(directory: &Path) -> String {
    kubectl(None, &["kustomize", directory.to_str().unwrap()])
}

/// Every document of a rendered overlay, as (kind, namespace/name).
fn objects(rendered: &str) -> Vec<(String, String)> {
    rendered
        .split("\n---\n")
        .map(|document| {
            let value: serde_json::Value = serde_saphyr::from_str(document).unwrap();
            let metadata = &value["metadata"];
            (
                value["kind"].as_str().unwrap().to_string(),
                format!(
                    "{}/{}",
                    metadata["namespace"].as_str().unwrap_or_default(),
                    metadata["name"].as_str().unwrap()
                ),
            )
        })
        .collect()
}

#[test]
fn install_yaml_is_the_single_cluster_overlay_as_rendered() {
    let rendered = render(&deploy_dir().join("overlays/single-cluster"));
    let install = deploy_dir().join("install.yaml");
    let header = "# Rendered from deploy/overlays/single-cluster by `kubectl kustomize`; do not edit.\n\
                  # Regenerate: UPDATE_GOLDEN=1 cargo test -p server --test deploy_manifests\n";
    let expected = format!("{header}{rendered}");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&install, &expected).unwrap();
    }
    let committed = std::fs::read_to_string(&install).unwrap_or_default();
    assert!(
        committed == expected,
        "deploy/install.yaml differs from the overlay: UPDATE_GOLDEN=1 cargo test -p server --test deploy_manifests"
    );
}

#[test]
fn the_base_holds_what_running_on_kubernetes_needs() {
    let rendered = render(&deploy_dir().join("overlays/single-cluster"));
    let kinds: Vec<String> = objects(&rendered)
        .into_iter()
        .map(|(kind, _)| kind)
        .collect();
    for kind in [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Ingress",
    ] {
        assert!(kinds.iter().any(|found| found == kind), "no {kind}");
    }
    let documents: Vec<serde_json::Value> = rendered
        .split("\n---\n")
        .map(|document| serde_saphyr::from_str(document).unwrap())
        .collect();
    let deployment = documents
        .iter()
        .find(|document| document["kind"] == "Deployment")
        .unwrap();
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert!(pod["affinity"]["podAntiAffinity"].is_object());
    let container = &pod["containers"][0];
    let hardening = &container["securityContext"];
    assert_eq!(hardening["allowPrivilegeEscalation"], false);
    assert_eq!(hardening["readOnlyRootFilesystem"], true);
    assert_eq!(hardening["capabilities"]["drop"][0], "ALL");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(container["resources"]["requests"]["memory"].is_string());

    // Least privilege: no wildcard anywhere, and Secrets only through the
    // role bound per namespace.
    for role in documents
        .iter()
        .filter(|document| matches!(document["kind"].as_str(), Some("ClusterRole" | "Role")))
    {
        let text = serde_json::to_string(&role["rules"]).unwrap();
        assert!(!text.contains("\"*\""), "a wildcard in {role}");
        for verb in ["escalate", "impersonate"] {
            assert!(!text.contains(verb), "{verb} in {role}");
        }
        let secrets = text.contains("\"secrets\"");
        assert_eq!(
            secrets,
            role["metadata"]["name"] == "dscloud-portal-secrets",
            "secrets granted by {}",
            role["metadata"]["name"]
        );
    }
    assert!(
        !documents
            .iter()
            .any(|document| document["kind"] == "ClusterRoleBinding"
                && document["roleRef"]["name"] == "dscloud-portal-secrets"),
        "the Secrets role is bound cluster-wide"
    );
}

/// Each overlay, and the base with the single-sign-on component, applied
/// with server-side apply to a sandbox: the Deployment rolls out.
#[tokio::test(flavor = "multi_thread")]
async fn every_overlay_applies_to_a_cluster_and_the_portal_becomes_available() {
    let scratch = tempfile::tempdir().unwrap();
    let mut directories: Vec<PathBuf> = OVERLAYS
        .iter()
        .map(|overlay| deploy_dir().join("overlays").join(overlay))
        .collect();
    directories.push(deploy_dir().join("examples/with-sso"));

    for directory in directories {
        let sandbox = Sandbox::with_controllers(Behaviour::instant());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let served = sandbox.serve(listener, "admin-token").await.unwrap();
        let kubeconfig = scratch.path().join("kubeconfig");
        std::fs::write(&kubeconfig, served.kubeconfig()).unwrap();

        let rendered = scratch.path().join("rendered.yaml");
        std::fs::write(&rendered, render(&directory)).unwrap();
        let kubeconfig = Some(kubeconfig.as_path());
        let applied = kubectl(
            kubeconfig,
            &[
                "apply",
                "--server-side",
                "--field-manager=operator",
                "-f",
                rendered.to_str().unwrap(),
            ],
        );
        let count = std::fs::read_to_string(&rendered)
            .unwrap()
            .split("\n---\n")
            .count();
        assert_eq!(
            applied
                .lines()
                .filter(|line| line.ends_with("serverside-applied"))
                .count(),
            count,
            "{}: {applied}",
            directory.display()
        );
        let status = kubectl(
            kubeconfig,
            &[
                "rollout",
                "status",
                "deployment/dscloud-portal",
                "--namespace=dscloud-portal",
                "--timeout=30s",
            ],
        );
        assert!(status.contains("successfully rolled out"), "{status}");
        let available = kubectl(
            kubeconfig,
            &[
                "get",
                "deployment/dscloud-portal",
                "--namespace=dscloud-portal",
                "-o",
                "jsonpath={.status.availableReplicas}",
            ],
        );
        assert_eq!(available, "2", "{}", directory.display());
    }
}
