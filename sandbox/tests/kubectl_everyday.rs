//! The commands people type when they look at what the portal did, with the
//! real kubectl against the sandbox (with its simulated controllers) on
//! loopback: generators, get and its columns, watch, describe, explain, and
//! what the sandbox cannot do. Changing things is `kubectl_changes.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use sandbox::{Behaviour, Sandbox};
use support::Kubectl;

async fn with_controllers() -> Kubectl {
    Kubectl::serving(Sandbox::with_controllers(Behaviour::default())).await
}

fn header(table: &str) -> Vec<String> {
    let first = table.lines().next().unwrap_or_default();
    // Multi-word headers ("LAST SEEN") are single columns; split on runs of 2+ spaces.
    first
        .split("  ")
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

fn row<'a>(table: &'a str, name: &str) -> Vec<&'a str> {
    table
        .lines()
        .find(|line| {
            line.split_whitespace()
                .any(|cell| cell == name || cell.ends_with(&format!("/{name}")))
        })
        .unwrap_or_else(|| panic!("no row for {name} in\n{table}"))
        .split_whitespace()
        .collect()
}

#[tokio::test]
async fn generator_commands_create_what_they_say() {
    let kubectl = with_controllers().await;
    // kubectl sends these as protobuf.
    kubectl.ok(&["create", "namespace", "shop"]).await;
    let shop = ["-n", "shop"];
    // The namespace goes first: after `--` it would be the container's arguments.
    let run = |arguments: Vec<&'static str>| [&shop[..], &arguments].concat();
    kubectl
        .ok(&run(vec![
            "create",
            "secret",
            "generic",
            "db",
            "--from-literal=password=s3cret",
            "--from-literal=user=app",
        ]))
        .await;
    kubectl
        .ok(&run(vec![
            "create",
            "configmap",
            "settings",
            "--from-literal=mode=fast",
        ]))
        .await;
    kubectl
        .ok(&run(vec!["create", "serviceaccount", "robot"]))
        .await;
    kubectl
        .ok(&run(vec![
            "create",
            "deployment",
            "web",
            "--image=nginx:1.27",
            "--replicas=2",
            "--port=80",
        ]))
        .await;
    kubectl
        .ok(&run(vec![
            "create",
            "deployment",
            "idle",
            "--image=nginx",
            "--replicas=0",
        ]))
        .await;
    kubectl
        .ok(&run(vec![
            "create",
            "job",
            "once",
            "--image=busybox",
            "--",
            "echo",
            "hello",
        ]))
        .await;
    kubectl
        .ok(&run(vec![
            "create",
            "cronjob",
            "nightly",
            "--image=busybox",
            "--schedule=0 3 * * *",
            "--",
            "date",
        ]))
        .await;
    kubectl
        .ok(&run(vec![
            "run",
            "probe",
            "--image=busybox",
            "--labels=team=qa",
            "--env=MODE=check",
            "--",
            "sleep",
            "60",
        ]))
        .await;
    kubectl
        .ok(&run(vec![
            "expose",
            "deployment",
            "web",
            "--port=8080",
            "--target-port=80",
        ]))
        .await;

    let namespace = kubectl.json(&["get", "namespace", "shop"]).await;
    assert_eq!(namespace["status"]["phase"], "Active");
    let secret = kubectl.json(&run(vec!["get", "secret", "db"])).await;
    assert_eq!(secret["data"]["password"], "czNjcmV0", "base64 of s3cret");
    assert_eq!(secret["data"]["user"], "YXBw");
    let settings = kubectl
        .json(&run(vec!["get", "configmap", "settings"]))
        .await;
    assert_eq!(settings["data"]["mode"], "fast");
    kubectl
        .json(&run(vec!["get", "serviceaccount", "robot"]))
        .await;
    let web = kubectl.json(&run(vec!["get", "deployment", "web"])).await;
    assert_eq!(web["spec"]["replicas"], 2);
    let container = &web["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "nginx:1.27");
    assert_eq!(container["ports"][0]["containerPort"], 80);
    let idle = kubectl.json(&run(vec!["get", "deployment", "idle"])).await;
    assert_eq!(idle["spec"]["replicas"], 0, "an explicit zero stays zero");
    let job = kubectl.json(&run(vec!["get", "job", "once"])).await;
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["command"],
        serde_json::json!(["echo", "hello"])
    );
    let cronjob = kubectl.json(&run(vec!["get", "cronjob", "nightly"])).await;
    assert_eq!(cronjob["spec"]["schedule"], "0 3 * * *");
    let pod = kubectl.json(&run(vec!["get", "pod", "probe"])).await;
    assert_eq!(pod["metadata"]["labels"]["team"], "qa");
    assert_eq!(pod["spec"]["containers"][0]["env"][0]["value"], "check");
    assert_eq!(
        pod["spec"]["containers"][0]["args"],
        serde_json::json!(["sleep", "60"])
    );
    let service = kubectl.json(&run(vec!["get", "service", "web"])).await;
    assert_eq!(service["spec"]["ports"][0]["port"], 8080);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 80);
    assert_eq!(service["spec"]["selector"]["app"], "web");
    assert!(
        service["spec"]["clusterIP"]
            .as_str()
            .unwrap()
            .starts_with("10.96.")
    );
}

#[tokio::test]
async fn get_prints_the_columns_people_read() {
    let kubectl = with_controllers().await;
    kubectl
        .ok(&[
            "create",
            "deployment",
            "web",
            "--image=nginx",
            "--replicas=2",
        ])
        .await;
    kubectl
        .ok(&["create", "job", "once", "--image=busybox", "--", "true"])
        .await;
    kubectl.ok(&["run", "probe", "--image=busybox"]).await;
    kubectl
        .eventually(&["get", "job", "once"], "the job completes", |job| {
            job["status"]["succeeded"] == 1
        })
        .await;
    kubectl
        .eventually(&["get", "pod", "probe"], "the pod runs", |pod| {
            pod["status"]["phase"] == "Running"
        })
        .await;

    let pods = kubectl.ok(&["get", "pods"]).await;
    assert_eq!(
        header(&pods),
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{pods}"
    );
    assert_eq!(
        &row(&pods, "probe")[1..4],
        ["1/1", "Running", "0"],
        "{pods}"
    );
    assert_eq!(
        &row(&pods, "once-run")[1..3],
        ["0/1", "Completed"],
        "{pods}"
    );
    let deployments = kubectl.ok(&["get", "deployments"]).await;
    assert_eq!(
        header(&deployments),
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    );
    assert_eq!(
        &row(&deployments, "web")[1..4],
        ["2/2", "2", "2"],
        "{deployments}"
    );
    let jobs = kubectl.ok(&["get", "jobs"]).await;
    assert_eq!(
        header(&jobs),
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    );
    assert_eq!(&row(&jobs, "once")[1..3], ["Complete", "1/1"], "{jobs}");
    let namespaces = kubectl.ok(&["get", "namespaces"]).await;
    assert_eq!(header(&namespaces), ["NAME", "STATUS", "AGE"]);
    assert_eq!(row(&namespaces, "default")[1], "Active");

    let wide = kubectl.ok(&["get", "pods", "-o", "wide"]).await;
    assert!(header(&wide).contains(&"IP".to_string()), "{wide}");
    assert!(row(&wide, "probe")[5].starts_with("10.244."), "{wide}");
    let labelled = kubectl.ok(&["get", "pods", "--show-labels"]).await;
    assert_eq!(header(&labelled).last().unwrap(), "LABELS");
    assert!(
        row(&labelled, "probe")
            .last()
            .unwrap()
            .contains("run=probe"),
        "{labelled}"
    );

    // A custom kind prints its CRD's additionalPrinterColumns.
    let crd = support::crd_file("postgresql.cnpg.io_clusters.yaml");
    kubectl.ok(&["apply", "-f", crd.to_str().unwrap()]).await;
    let cluster = kubectl.file(
        "cluster.yaml",
        "apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: orders, namespace: default}
spec: {instances: 3, storage: {size: 1Gi}}
",
    );
    kubectl
        .ok(&["apply", "-f", cluster.to_str().unwrap()])
        .await;
    let clusters = kubectl.ok(&["get", "clusters"]).await;
    assert_eq!(
        header(&clusters),
        ["NAME", "AGE", "INSTANCES", "READY", "STATUS", "PRIMARY"],
        "{clusters}"
    );
}

#[tokio::test]
async fn get_watch_prints_each_change() {
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
    let mut watching = kubectl.stream(&["get", "deployments", "-w"]);
    watching.until("web").await;
    kubectl
        .ok(&["scale", "deployment", "web", "--replicas=3"])
        .await;
    let lines = watching.until("3/3").await;
    assert!(
        lines
            .iter()
            .all(|line| line.starts_with("web") || line.starts_with("NAME")),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn describe_tells_what_happened_from_events() {
    let kubectl = with_controllers().await;
    kubectl.ok(&["run", "probe", "--image=busybox"]).await;
    kubectl
        .ok(&[
            "create",
            "deployment",
            "web",
            "--image=nginx",
            "--replicas=2",
        ])
        .await;
    kubectl
        .eventually(&["get", "pod", "probe"], "the pod runs", |pod| {
            pod["status"]["phase"] == "Running"
        })
        .await;
    kubectl
        .eventually(
            &["get", "deployment", "web"],
            "the deployment is ready",
            |web| web["status"]["readyReplicas"] == 2,
        )
        .await;
    let pod = kubectl.ok(&["describe", "pod", "probe"]).await;
    assert!(
        pod.contains("Status:           Running") || pod.contains("Status:       Running"),
        "{pod}"
    );
    assert!(
        pod.contains("Scheduled") && pod.contains("assigned default/probe to sandbox"),
        "{pod}"
    );
    let web = kubectl.ok(&["describe", "deployment", "web"]).await;
    assert!(
        web.contains("NewReplicaSet:") && web.contains("(2/2 replicas created)"),
        "{web}"
    );
    assert!(
        web.contains("ScalingReplicaSet") && web.contains("from 0 to 2"),
        "{web}"
    );
    let events = kubectl.ok(&["get", "events"]).await;
    assert_eq!(
        header(&events),
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{events}"
    );
    assert!(
        events.contains("pod/probe") && events.contains("deployment/web"),
        "{events}"
    );
}

#[tokio::test]
async fn explain_reads_a_custom_kind_s_schema() {
    let kubectl = with_controllers().await;
    let crd = support::crd_file("cassandra.datastax.com_cassandradatacenters.yaml");
    kubectl.ok(&["apply", "-f", crd.to_str().unwrap()]).await;
    let explained = kubectl
        .ok(&["explain", "cassandradatacenters.spec.size"])
        .await;
    assert!(explained.contains("FIELD: size <integer>"), "{explained}");
    assert!(
        explained.contains("Desired number of Cassandra server nodes"),
        "{explained}"
    );
}

#[tokio::test]
async fn what_needs_a_running_container_says_so_and_never_hangs() {
    let kubectl = with_controllers().await;
    kubectl.ok(&["run", "probe", "--image=busybox"]).await;
    kubectl
        .eventually(&["get", "pod", "probe"], "the pod runs", |pod| {
            pod["status"]["phase"] == "Running"
        })
        .await;
    let destination = kubectl.file("copied", "");
    for command in [
        vec!["exec", "probe", "--", "ls"],
        vec!["attach", "probe"],
        vec!["port-forward", "pod/probe", "18080:80"],
        vec![
            "cp",
            "default/probe:/etc/hosts",
            destination.to_str().unwrap(),
        ],
    ] {
        // Each within `run`'s 60-second bound, or the test fails.
        let refused = kubectl.fails(&command).await;
        assert!(
            refused.contains("the sandbox does not run containers"),
            "{command:?}: {refused}"
        );
    }
    for what in ["pods", "nodes"] {
        let top = kubectl.fails(&["top", what]).await;
        assert!(
            top.contains("the sandbox does not run containers, so it has no metrics"),
            "{top}"
        );
    }
}
