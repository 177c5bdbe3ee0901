//! The simulated controllers, observed the way the engines will observe them:
//! kube-runtime's watch-based waits, and a kube-runtime `Controller` with a
//! finalizer running against the sandbox.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, LogParams, Patch,
    PatchParams, PostParams,
};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::wait::{Condition, await_condition, conditions};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use sandbox::{Behaviour, CASSANDRA_FINALIZER, Failure, Fault, Sandbox, Verb};
use serde_json::json;

mod support;

const WAIT: Duration = Duration::from_secs(10);

fn sandbox() -> (Sandbox, Client) {
    let sandbox = Sandbox::with_controllers(Behaviour {
        rollout: Duration::from_millis(100),
        job_run: Duration::from_millis(100),
        operator_ready: Duration::from_millis(150),
        operator_cleanup: Duration::from_millis(50),
        ..Behaviour::default()
    });
    let client = Client::new(sandbox.router(), "default");
    (sandbox, client)
}

async fn wait_for<K>(api: &Api<K>, name: &str, condition: impl Condition<K>) -> K
where
    K: kube::Resource + Clone + std::fmt::Debug + Send + serde::de::DeserializeOwned + 'static,
{
    tokio::time::timeout(WAIT, await_condition(api.clone(), name, condition))
        .await
        .unwrap_or_else(|_| panic!("{name} did not reach the condition within {WAIT:?}"))
        .unwrap()
        .unwrap_or_else(|| panic!("{name} is gone"))
}

fn deployment(name: &str, image: &str) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "main", "image": image}]}}}
    })
}

fn deployment_condition(kind: &'static str, status: &'static str) -> impl Condition<Deployment> {
    move |deployment: Option<&Deployment>| {
        deployment
            .and_then(|deployment| deployment.status.as_ref())
            .and_then(|status| status.conditions.as_ref())
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c.type_ == kind && c.status == status)
            })
    }
}

#[tokio::test]
async fn a_deployment_rolls_out_and_a_failing_image_never_becomes_available() {
    let (_sandbox, client) = sandbox();
    let deployments: Api<Deployment> = Api::namespaced(client, "default");
    let apply = PatchParams::apply("test");
    deployments
        .patch(
            "good",
            &apply,
            &Patch::Apply(deployment("good", "registry/app:1")),
        )
        .await
        .unwrap();
    deployments
        .patch(
            "bad",
            &apply,
            &Patch::Apply(deployment("bad", "registry/app:sandbox-fail")),
        )
        .await
        .unwrap();

    let good = wait_for(
        &deployments,
        "good",
        deployment_condition("Available", "True"),
    )
    .await;
    let status = good.status.unwrap();
    assert_eq!(
        (status.ready_replicas, status.observed_generation),
        (Some(2), Some(1))
    );

    let bad = wait_for(
        &deployments,
        "bad",
        deployment_condition("Progressing", "False"),
    )
    .await;
    let progressing = bad
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Progressing")
        .unwrap();
    assert_eq!(
        progressing.reason.as_deref(),
        Some("ProgressDeadlineExceeded")
    );

    // A new template rolls out again: observedGeneration follows.
    deployments
        .patch(
            "good",
            &apply,
            &Patch::Apply(deployment("good", "registry/app:2")),
        )
        .await
        .unwrap();
    let rolled = wait_for(&deployments, "good", |deployment: Option<&Deployment>| {
        deployment
            .and_then(|d| d.status.as_ref())
            .is_some_and(|s| s.observed_generation == Some(2) && s.ready_replicas == Some(2))
    })
    .await;
    assert_eq!(rolled.metadata.generation, Some(2));
}

fn job(name: &str, exit_code: i32, log: &str) -> Job {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": {
            "metadata": {"annotations": {"sandbox.dscloud.io/exit-code": exit_code.to_string(), "sandbox.dscloud.io/log": log}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "tests", "image": "registry/app-tests:1"}]}
        }}
    }))
    .unwrap()
}

#[tokio::test]
async fn jobs_end_with_the_chosen_exit_code_and_log() {
    let (_sandbox, client) = sandbox();
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client, "default");
    jobs.create(
        &PostParams::default(),
        &job("passes", 0, "12 tests passed\n"),
    )
    .await
    .unwrap();
    jobs.create(&PostParams::default(), &job("fails", 3, "1 test failed\n"))
        .await
        .unwrap();

    let passed = wait_for(&jobs, "passes", conditions::is_job_completed()).await;
    assert_eq!(passed.status.unwrap().succeeded, Some(1));
    let finished = |job: Option<&Job>| {
        job.and_then(|job| job.status.as_ref())
            .is_some_and(|status| status.succeeded.is_some() || status.failed.is_some())
    };
    let failed = wait_for(&jobs, "fails", finished).await;
    let status = failed.status.unwrap();
    assert_eq!(status.failed, Some(1));
    assert!(
        status
            .conditions
            .unwrap()
            .iter()
            .any(|c| c.type_ == "Failed" && c.status == "True")
    );

    let pod = pods
        .list(&ListParams::default().labels("job-name=fails"))
        .await
        .unwrap()
        .items
        .remove(0);
    let terminated = pod.status.clone().unwrap().container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(terminated.exit_code, 3);
    assert_eq!(
        pods.logs(&pod.name_any(), &LogParams::default())
            .await
            .unwrap(),
        "1 test failed\n"
    );

    // The pod belongs to its Job: deleting the Job collects it.
    jobs.delete("fails", &DeleteParams::default())
        .await
        .unwrap();
    assert!(
        pods.list(&ListParams::default().labels("job-name=fails"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn register_crds(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for file in [
        "cassandra.datastax.com_cassandradatacenters.yaml",
        "postgresql.cnpg.io_clusters.yaml",
    ] {
        let text = std::fs::read_to_string(support::crd_file(file)).unwrap();
        let crd: CustomResourceDefinition = serde_saphyr::from_str(&text).unwrap();
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
}

#[tokio::test]
async fn cass_operator_adds_its_finalizer_becomes_ready_and_lets_go_on_delete() {
    let (_sandbox, client) = sandbox();
    register_crds(&client).await;
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("cassandra.datastax.com", "v1beta1", "CassandraDatacenter"),
        "cassandradatacenters",
    );
    let datacenters: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &resource);
    let datacenter: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "cassandra.datastax.com/v1beta1", "kind": "CassandraDatacenter", "metadata": {"name": "dc1"},
        "spec": {"clusterName": "db-1", "serverType": "cassandra", "serverVersion": "4.1.5", "size": 3,
            "storageConfig": {"cassandraDataVolumeClaimSpec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}}
    }))
    .unwrap();
    datacenters
        .create(&PostParams::default(), &datacenter)
        .await
        .unwrap();

    // The readiness predicate of operators.md.
    let ready = wait_for(&datacenters, "dc1", |object: Option<&DynamicObject>| {
        object.is_some_and(|object| {
            let status = &object.data["status"];
            let condition = |kind: &str| {
                status["conditions"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["type"] == kind && c["status"] == "True"))
            };
            status["cassandraOperatorProgress"] == "Ready"
                && condition("Ready")
                && condition("Initialized")
                && status["observedGeneration"].as_i64() >= object.metadata.generation
        })
    })
    .await;
    assert_eq!(
        ready.metadata.finalizers,
        Some(vec![CASSANDRA_FINALIZER.to_string()])
    );
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    let superuser = secrets.get("db-1-superuser").await.unwrap();
    assert!(superuser.data.unwrap().contains_key("password"));

    let uid = ready.metadata.uid.clone().unwrap();
    datacenters
        .delete("dc1", &DeleteParams::default())
        .await
        .unwrap();
    tokio::time::timeout(
        WAIT,
        await_condition(datacenters.clone(), "dc1", conditions::is_deleted(&uid)),
    )
    .await
    .unwrap()
    .unwrap();
}

#[tokio::test]
async fn cloudnative_pg_becomes_healthy_with_its_app_secret() {
    let (_sandbox, client) = sandbox();
    register_crds(&client).await;
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("postgresql.cnpg.io", "v1", "Cluster"),
        "clusters",
    );
    let clusters: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    let cluster: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg"},
        "spec": {"instances": 3, "storage": {"size": "1Gi"}, "bootstrap": {"initdb": {"database": "shop", "owner": "shop"}}}
    }))
    .unwrap();
    clusters
        .create(&PostParams::default(), &cluster)
        .await
        .unwrap();
    let healthy = wait_for(&clusters, "pg", |object: Option<&DynamicObject>| {
        object.is_some_and(|object| object.data["status"]["phase"] == "Cluster in healthy state")
    })
    .await;
    assert_eq!(healthy.data["status"]["readyInstances"], 3);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    let app = secrets.get("pg-app").await.unwrap();
    let data = app.data.unwrap();
    for key in [
        "username", "password", "dbname", "host", "port", "uri", "jdbc-uri",
    ] {
        assert!(data.contains_key(key), "pg-app lacks {key}");
    }
    assert_eq!(data["dbname"].0, b"shop");
    // The Secret is owned by the Cluster and goes with it.
    clusters
        .delete("pg", &DeleteParams::default())
        .await
        .unwrap();
    assert!(secrets.get_opt("pg-app").await.unwrap().is_none());
}

/// A small controller in the style of the engines: it puts a finalizer on
/// every ConfigMap labelled for it, marks it reconciled, and on deletion does
/// its cleanup before letting the object go.
#[tokio::test]
async fn a_kube_runtime_controller_with_a_finalizer_runs_against_the_sandbox() {
    finalizer_controller(|_| {}).await;
}

#[tokio::test]
async fn the_finalizer_controller_converges_through_injected_faults() {
    finalizer_controller(|sandbox| {
        let faults = sandbox.faults();
        faults.inject(
            Fault::always(Failure::Unavailable)
                .on(Verb::Patch)
                .rate(0.3),
        );
        faults.inject(
            Fault::always(Failure::TooManyRequests {
                retry_after_seconds: 0,
            })
            .on(Verb::Get)
            .rate(0.2),
        );
        faults.cut_watches_after(Some(Duration::from_millis(150)));
    })
    .await;
}

async fn finalizer_controller(with_faults: impl FnOnce(&Sandbox)) {
    const FINALIZER: &str = "example.dscloud.io/cleanup";
    let (sandbox, client) = sandbox();
    with_faults(&sandbox);
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cleaned = Arc::new(AtomicUsize::new(0));

    struct Context {
        maps: Api<ConfigMap>,
        cleaned: Arc<AtomicUsize>,
    }
    async fn reconcile(
        map: Arc<ConfigMap>,
        context: Arc<Context>,
    ) -> Result<Action, kube::runtime::finalizer::Error<kube::Error>> {
        let maps = context.maps.clone();
        finalizer(&maps, FINALIZER, map, |event| async {
            match event {
                Finalizer::Apply(map) => {
                    let patch = json!({"data": {"reconciled": "yes"}});
                    maps.patch(
                        &map.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await?;
                    Ok(Action::await_change())
                }
                Finalizer::Cleanup(_) => {
                    context.cleaned.fetch_add(1, Ordering::SeqCst);
                    Ok(Action::await_change())
                }
            }
        })
        .await
    }
    fn error_policy(
        _: Arc<ConfigMap>,
        _: &kube::runtime::finalizer::Error<kube::Error>,
        _: Arc<Context>,
    ) -> Action {
        Action::requeue(Duration::from_millis(50))
    }

    let context = Arc::new(Context {
        maps: maps.clone(),
        cleaned: cleaned.clone(),
    });
    let controller = Controller::new(
        maps.clone(),
        watcher::Config::default().labels("managed=yes"),
    )
    .run(reconcile, error_policy, context)
    .for_each(|_| async {});
    let running = tokio::spawn(controller);

    let map: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "m", "labels": {"managed": "yes"}}}))
            .unwrap();
    let create = PostParams::default();
    retry(|| maps.create(&create, &map)).await;
    let reconciled = wait_for(&maps, "m", |map: Option<&ConfigMap>| {
        map.and_then(|map| map.data.as_ref())
            .is_some_and(|data| data.get("reconciled").is_some_and(|v| v == "yes"))
    })
    .await;
    assert_eq!(
        reconciled.metadata.finalizers,
        Some(vec![FINALIZER.to_string()])
    );

    let uid = reconciled.metadata.uid.clone().unwrap();
    let delete = DeleteParams::default();
    retry(|| maps.delete("m", &delete)).await;
    tokio::time::timeout(
        WAIT,
        await_condition(maps.clone(), "m", conditions::is_deleted(&uid)),
    )
    .await
    .unwrap()
    .unwrap();
    // At least once: when removing the finalizer fails (an injected fault),
    // cleanup runs again, which is why cleanups must be idempotent.
    assert!(cleaned.load(Ordering::SeqCst) >= 1, "cleanup ran");
    running.abort();
}

/// The test's own writes retry through injected faults, as any client would.
async fn retry<T, F, Fut>(mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    for _ in 0..50 {
        match call().await {
            Ok(value) => return value,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    panic!("still failing after 50 attempts");
}

#[tokio::test]
async fn workloads_roll_out_pods_of_their_current_generation() {
    let (_sandbox, client) = sandbox();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let apply = PatchParams::apply("test");
    deployments
        .patch(
            "web",
            &apply,
            &Patch::Apply(deployment("web", "registry/app:1")),
        )
        .await
        .unwrap();
    wait_for(
        &deployments,
        "web",
        deployment_condition("Available", "True"),
    )
    .await;
    let running = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap()
        .items;
    assert_eq!(running.len(), 2);
    assert!(
        running
            .iter()
            .all(|pod| pod.status.as_ref().unwrap().phase.as_deref() == Some("Running"))
    );

    deployments
        .patch(
            "web",
            &apply,
            &Patch::Apply(deployment("web", "registry/app:2")),
        )
        .await
        .unwrap();
    wait_for(&deployments, "web", |deployment: Option<&Deployment>| {
        deployment
            .and_then(|d| d.status.as_ref())
            .is_some_and(|s| s.observed_generation == Some(2) && s.ready_replicas == Some(2))
    })
    .await;
    let names: Vec<String> = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap()
        .items
        .iter()
        .map(|pod| pod.name_any())
        .collect();
    assert_eq!(
        names,
        ["web-g2-0", "web-g2-1"],
        "the old generation's pods are gone"
    );

    deployments
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    assert!(
        pods.list(&ListParams::default().labels("app=web"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}
