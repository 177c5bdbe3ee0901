//! Changing things with the real kubectl against the sandbox (with its
//! simulated controllers): scale, rollouts, labels and annotations, edit,
//! the three patch types, logs; each checks the effect, not only the exit code.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use std::time::Duration;

use sandbox::{Behaviour, Sandbox};
use serde_json::Value;
use support::Kubectl;

async fn with_controllers() -> Kubectl {
    Kubectl::serving(Sandbox::with_controllers(Behaviour::default())).await
}

#[tokio::test]
async fn scale_changes_the_replicas_and_the_pods_follow() {
    let kubectl = with_controllers().await;
    kubectl
        .ok(&[
            "create",
            "deployment",
            "web",
            "--image=nginx",
            "--replicas=1",
        ])
        .await;
    assert!(
        kubectl
            .ok(&["scale", "deployment", "web", "--replicas=3"])
            .await
            .contains("deployment.apps/web scaled")
    );
    kubectl
        .eventually(&["get", "pods", "-l", "app=web"], "three pods", |pods| {
            pods["items"].as_array().unwrap().len() == 3
        })
        .await;
    let statefulset = kubectl.file(
        "db.yaml",
        "apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: default}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres}]}
",
    );
    kubectl
        .ok(&["apply", "-f", statefulset.to_str().unwrap()])
        .await;
    kubectl
        .ok(&["scale", "statefulset", "db", "--replicas=2"])
        .await;
    kubectl
        .eventually(&["get", "statefulset", "db"], "two ready", |db| {
            db["spec"]["replicas"] == 2 && db["status"]["readyReplicas"] == 2
        })
        .await;
    // A stale precondition is refused (kubectl checks it against the Scale it reads).
    let stale = kubectl
        .fails(&[
            "scale",
            "deployment",
            "web",
            "--replicas=5",
            "--resource-version=1",
        ])
        .await;
    assert!(
        stale.contains("Expected resource version to be 1"),
        "{stale}"
    );
    assert_eq!(
        kubectl.json(&["get", "deployment", "web"]).await["spec"]["replicas"],
        3
    );
}

#[tokio::test]
async fn rollouts_set_image_restart_history_and_undo() {
    let kubectl = with_controllers().await;
    kubectl
        .ok(&[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.26",
            "--replicas=2",
        ])
        .await;
    assert!(
        kubectl
            .ok(&["rollout", "status", "deployment/web", "--timeout=20s"])
            .await
            .contains("successfully rolled out")
    );
    kubectl
        .ok(&["set", "image", "deployment/web", "nginx=nginx:1.27"])
        .await;
    kubectl
        .ok(&["rollout", "status", "deployment/web", "--timeout=20s"])
        .await;
    let image = |deployment: &Value| {
        deployment["spec"]["template"]["spec"]["containers"][0]["image"].clone()
    };
    assert_eq!(
        image(&kubectl.json(&["get", "deployment", "web"]).await),
        "nginx:1.27"
    );
    let history = kubectl
        .eventually(
            &["get", "replicasets", "-l", "app=web"],
            "two revisions",
            |sets| sets["items"].as_array().unwrap().len() == 2,
        )
        .await;
    assert_eq!(history["items"].as_array().unwrap().len(), 2);
    let listed = kubectl.ok(&["rollout", "history", "deployment/web"]).await;
    assert!(
        listed.contains("\n1 ") && listed.contains("\n2 "),
        "{listed}"
    );

    assert!(
        kubectl
            .ok(&["rollout", "undo", "deployment/web"])
            .await
            .contains("rolled back")
    );
    assert_eq!(
        image(&kubectl.json(&["get", "deployment", "web"]).await),
        "nginx:1.26"
    );
    // The old revision came back as the newest (3), not as a new template.
    let after_undo = kubectl
        .eventually(&["get", "deployment", "web"], "revision 3", |web| {
            web["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
        })
        .await;
    assert_eq!(image(&after_undo), "nginx:1.26");
    assert_eq!(
        kubectl.json(&["get", "replicasets"]).await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    kubectl.ok(&["rollout", "restart", "deployment/web"]).await;
    let restarted = kubectl.json(&["get", "deployment", "web"]).await;
    assert!(
        restarted["spec"]["template"]["metadata"]["annotations"]
            ["kubectl.kubernetes.io/restartedAt"]
            .is_string(),
        "{restarted:#}"
    );
    kubectl
        .eventually(
            &["get", "pods", "-l", "app=web"],
            "pods of the new generation",
            |pods| {
                let pods = pods["items"].as_array().unwrap();
                pods.len() == 2
                    && pods.iter().all(|pod| {
                        pod["metadata"]["name"]
                            .as_str()
                            .unwrap()
                            .starts_with("web-g4-")
                    })
            },
        )
        .await;
}

#[tokio::test]
async fn label_annotate_edit_and_the_three_patch_types() {
    let kubectl = with_controllers().await;
    kubectl
        .ok(&[
            "create",
            "deployment",
            "web",
            "--image=nginx",
            "--replicas=1",
        ])
        .await;
    kubectl
        .ok(&["label", "deployment", "web", "tier=front"])
        .await;
    kubectl
        .ok(&["annotate", "deployment", "web", "owner=team-a"])
        .await;
    let web = kubectl.json(&["get", "deployment", "web"]).await;
    assert_eq!(web["metadata"]["labels"]["tier"], "front");
    assert_eq!(web["metadata"]["annotations"]["owner"], "team-a");
    kubectl.ok(&["label", "deployment", "web", "tier-"]).await;
    assert!(
        kubectl.json(&["get", "deployment", "web"]).await["metadata"]["labels"]["tier"].is_null()
    );

    // kubectl edit, with an editor that is a script.
    let editor = kubectl.file(
        "editor.sh",
        "#!/bin/sh\nsed -i 's/replicas: 1/replicas: 4/' \"$1\"\n",
    );
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let edited = kubectl
        .run_with(
            &["edit", "deployment", "web"],
            &[("KUBE_EDITOR", editor.to_str().unwrap())],
        )
        .await;
    assert!(
        edited.status.success(),
        "{}",
        String::from_utf8_lossy(&edited.stderr)
    );
    assert_eq!(
        kubectl.json(&["get", "deployment", "web"]).await["spec"]["replicas"],
        4
    );

    for (patch_type, patch, replicas) in [
        (
            "json",
            r#"[{"op":"replace","path":"/spec/replicas","value":1}]"#,
            1,
        ),
        ("merge", r#"{"spec":{"replicas":2}}"#, 2),
        ("strategic", r#"{"spec":{"replicas":3}}"#, 3),
    ] {
        kubectl
            .ok(&[
                "patch",
                "deployment",
                "web",
                "--type",
                patch_type,
                "-p",
                patch,
            ])
            .await;
        assert_eq!(
            kubectl.json(&["get", "deployment", "web"]).await["spec"]["replicas"],
            replicas,
            "{patch_type}"
        );
    }
    // Strategic merge keys containers by name: a new variable, the image kept.
    kubectl
        .ok(&["patch", "deployment", "web", "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","env":[{"name":"MODE","value":"on"}]}]}}}}"#])
        .await;
    let container =
        kubectl.json(&["get", "deployment", "web"]).await["spec"]["template"]["spec"]["containers"]
            [0]
        .clone();
    assert_eq!(container["image"], "nginx");
    assert_eq!(container["env"][0]["value"], "on");
}

const SLOW_JOB: &str = "apiVersion: batch/v1
kind: Job
metadata: {name: report, namespace: default}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: report
        image: busybox
        env:
        - {name: SANDBOX_LOG, value: \"line one\\nline two\"}
";

#[tokio::test]
async fn logs_and_logs_follow_until_the_pod_ends() {
    let kubectl = Kubectl::serving(Sandbox::with_controllers(Behaviour {
        job_run: Duration::from_secs(2),
        ..Behaviour::default()
    }))
    .await;
    let job = kubectl.file("report.yaml", SLOW_JOB);
    kubectl.ok(&["apply", "-f", job.to_str().unwrap()]).await;
    kubectl
        .eventually(
            &["get", "pods", "-l", "job-name=report"],
            "the job's pod",
            |pods| !pods["items"].as_array().unwrap().is_empty(),
        )
        .await;
    // Started while the pod runs: the lines arrive when it logs them and the
    // command ends with the pod.
    let mut following = kubectl.stream(&["logs", "-f", "job/report"]);
    let lines = following.rest().await;
    assert_eq!(lines, ["line one", "line two"]);
    let status = following.child.wait().await.unwrap();
    assert!(status.success());
    assert_eq!(
        kubectl.ok(&["logs", "job/report"]).await,
        "line one\nline two"
    );
}
