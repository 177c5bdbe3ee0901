//! The real operator CRDs (`../shared/crds/`, unmodified copies) registered in
//! the sandbox: valid custom resources are accepted, invalid ones refused
//! with the field named, unknown fields pruned, kubectl sees the new kinds.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod support;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kube::{Client, Error};
use sandbox::Sandbox;
use serde_json::{Value, json};
use support::crd_file;

fn read_crd(name: &str) -> CustomResourceDefinition {
    let text = std::fs::read_to_string(crd_file(name)).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

async fn with_crds() -> (Client, Sandbox) {
    let sandbox = Sandbox::new();
    let client = Client::new(sandbox.router(), "default");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for file in [
        "cassandra.datastax.com_cassandradatacenters.yaml",
        "postgresql.cnpg.io_clusters.yaml",
    ] {
        let created = crds
            .create(&PostParams::default(), &read_crd(file))
            .await
            .unwrap();
        let established = created
            .status
            .and_then(|status| status.conditions)
            .unwrap_or_default()
            .into_iter()
            .any(|condition| condition.type_ == "Established" && condition.status == "True");
        assert!(established, "{file} is established");
    }
    (client, sandbox)
}

fn api(
    client: &Client,
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    Api::namespaced_with(client.clone(), "default", &resource)
}

fn object(api_version: &str, kind: &str, name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(
        json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, "spec": spec}),
    )
    .unwrap()
}

fn invalid(error: Error) -> String {
    match error {
        Error::Api(status) => {
            assert_eq!(status.code, 422, "{status:?}");
            status.message
        }
        other => panic!("expected 422 Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_cassandra_datacenter_is_accepted_and_pruned() {
    let (client, _sandbox) = with_crds().await;
    let datacenters = api(
        &client,
        "cassandra.datastax.com",
        "v1beta1",
        "CassandraDatacenter",
        "cassandradatacenters",
    );
    let spec = json!({
        "clusterName": "db-1",
        "serverType": "cassandra",
        "serverVersion": "4.1.5",
        "size": 3,
        "storageConfig": {"cassandraDataVolumeClaimSpec": {
            "storageClassName": "standard",
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "10Gi"}}
        }, "notAField": true},
        "keptBecauseSpecPreservesUnknownFields": true
    });
    let created = datacenters
        .create(
            &PostParams::default(),
            &object(
                "cassandra.datastax.com/v1beta1",
                "CassandraDatacenter",
                "dc1",
                spec,
            ),
        )
        .await
        .unwrap();
    assert_eq!(created.data["spec"]["size"], 3);
    assert_eq!(
        created.data["spec"]["storageConfig"].get("notAField"),
        None,
        "unknown fields are pruned"
    );
    assert_eq!(
        created.data["spec"]["keptBecauseSpecPreservesUnknownFields"],
        true
    );
}

#[tokio::test]
async fn an_invalid_cassandra_datacenter_is_refused_with_the_fields_named() {
    let (client, _sandbox) = with_crds().await;
    let datacenters = api(
        &client,
        "cassandra.datastax.com",
        "v1beta1",
        "CassandraDatacenter",
        "cassandradatacenters",
    );
    let spec = json!({"clusterName": "db-1", "serverType": "mongodb", "serverVersion": "latest", "size": "three"});
    let message = invalid(
        datacenters
            .create(
                &PostParams::default(),
                &object(
                    "cassandra.datastax.com/v1beta1",
                    "CassandraDatacenter",
                    "dc1",
                    spec,
                ),
            )
            .await
            .unwrap_err(),
    );
    assert!(
        message.contains("spec.serverType: Unsupported value: \"mongodb\""),
        "{message}"
    );
    assert!(
        message.contains("spec.size in body must be of type integer"),
        "{message}"
    );
    assert!(
        message.contains("spec.storageConfig: Required value"),
        "{message}"
    );
    assert!(
        message.contains("spec.serverVersion in body should match"),
        "{message}"
    );
}

#[tokio::test]
async fn cloudnativepg_clusters_are_checked_against_their_crd() {
    let (client, _sandbox) = with_crds().await;
    let clusters = api(&client, "postgresql.cnpg.io", "v1", "Cluster", "clusters");
    let created = clusters
        .create(
            &PostParams::default(),
            &object(
                "postgresql.cnpg.io/v1",
                "Cluster",
                "pg",
                json!({"instances": 3, "storage": {"size": "10Gi"}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(created.data["spec"]["instances"], 3);
    let message = invalid(
        clusters
            .create(
                &PostParams::default(),
                &object(
                    "postgresql.cnpg.io/v1",
                    "Cluster",
                    "bad",
                    json!({"instances": 0, "storage": {"size": 10}}),
                ),
            )
            .await
            .unwrap_err(),
    );
    assert!(message.contains("spec.instances"), "{message}");
    assert!(message.contains("greater than or equal to 1"), "{message}");
}

#[tokio::test]
async fn kubectl_lists_custom_resources_by_their_short_name() {
    let (_client, sandbox) = with_crds().await;
    let kubectl = support::Kubectl::serving(sandbox).await;
    let manifest = kubectl.file(
        "dc.yaml",
        "apiVersion: cassandra.datastax.com/v1beta1
kind: CassandraDatacenter
metadata: {name: dc1, namespace: default}
spec:
  clusterName: db-1
  serverType: cassandra
  serverVersion: 4.1.5
  size: 1
  storageConfig:
    cassandraDataVolumeClaimSpec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
",
    );
    kubectl
        .ok(&["apply", "-f", manifest.to_str().unwrap()])
        .await;
    let listed = kubectl.ok(&["get", "cassdc", "-A"]).await;
    // cass-operator's CRD has no printer columns: a real server prints these.
    let header: Vec<&str> = listed.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAMESPACE", "NAME", "AGE"], "{listed}");
    assert!(
        listed.contains("dc1") && listed.contains("default"),
        "{listed}"
    );
}
