//! The provisioning engine's objects against the sandbox with the operators'
//! real CRDs (../shared/crds): every object is accepted as built, server-side
//! apply of the same object changes nothing, and the simulated operators
//! bring each engine to the readiness the engine reads, parked and back.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use app::databases::Engine;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use sandbox::{Behaviour, Sandbox};
use serde_json::Value;
use server::provisioning::ENGINE;
use server::provisioning::objects::{self, DatabaseSpec};

mod support;
use server::provisioning::plan::Readiness;
use server::provisioning::readiness::readiness;
use uuid::Uuid;

async fn sandbox_with_operators() -> (Client, Sandbox) {
    let (sandbox, client) = support::cluster(Behaviour::default()).await;
    (client, sandbox)
}

fn api_for(client: &Client, object: &Value) -> Api<DynamicObject> {
    let (group, version) = match object["apiVersion"].as_str().unwrap().split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", object["apiVersion"].as_str().unwrap()),
    };
    let kind = object["kind"].as_str().unwrap();
    let plural = match kind {
        "Namespace" => "namespaces",
        "ResourceQuota" => "resourcequotas",
        "NetworkPolicy" => "networkpolicies",
        "Secret" => "secrets",
        "CassandraDatacenter" => "cassandradatacenters",
        "Cluster" => "clusters",
        other => panic!("no plural for {other}"),
    };
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    match object["metadata"]["namespace"].as_str() {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

async fn apply(client: &Client, object: &Value) -> DynamicObject {
    let name = object["metadata"]["name"].as_str().unwrap();
    api_for(client, object)
        .patch(
            name,
            &PatchParams::apply(ENGINE.field_manager).force(),
            &Patch::Apply(object),
        )
        .await
        .unwrap_or_else(|error| panic!("{} {name} refused: {error}", object["kind"]))
}

async fn wait_for(client: &Client, spec: &DatabaseSpec, wanted: Readiness) {
    let resource = objects::operator_resource(spec);
    let api = api_for(client, &resource);
    let mut last = Readiness::Progressing;
    for _ in 0..100 {
        let current = serde_json::to_value(api.get(objects::RESOURCE_NAME).await.unwrap()).unwrap();
        last = readiness(spec.engine, &current);
        if last == wanted {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{:?} never became {wanted:?}; last {last:?}", spec.engine);
}

fn spec(engine: Engine) -> DatabaseSpec {
    DatabaseSpec {
        id: Uuid::now_v7(),
        owner_id: Uuid::now_v7(),
        name: "orders".to_string(),
        engine,
        tier: *app::databases::tier("small").unwrap(),
        schema_name: "shop".to_string(),
        parked: false,
    }
}

#[tokio::test]
async fn both_engines_objects_are_valid_and_reach_ready_then_parked_and_back() {
    let (client, _sandbox) = sandbox_with_operators().await;
    for engine in [Engine::Cassandra, Engine::Postgresql] {
        let mut spec = spec(engine);
        for object in [
            objects::namespace(&spec),
            objects::quota(&spec),
            objects::network_policy(&spec),
            objects::credentials(&spec, 1, "generated-password-123", None),
            objects::operator_resource(&spec),
        ] {
            apply(&client, &object).await;
        }
        wait_for(&client, &spec, Readiness::Ready).await;

        // The same apply again is a no-op: same generation, same hash.
        let resource = objects::operator_resource(&spec);
        let before = api_for(&client, &resource)
            .get(objects::RESOURCE_NAME)
            .await
            .unwrap();
        let after = apply(&client, &resource).await;
        assert_eq!(
            before.metadata.generation, after.metadata.generation,
            "{engine}"
        );
        assert_eq!(
            after.metadata.annotations.unwrap_or_default()[objects::SPEC_HASH],
            objects::resource_hash(&spec)
        );

        spec.parked = true;
        apply(&client, &objects::operator_resource(&spec)).await;
        wait_for(&client, &spec, Readiness::Stopped).await;
        spec.parked = false;
        apply(&client, &objects::operator_resource(&spec)).await;
        wait_for(&client, &spec, Readiness::Ready).await;
    }
}

#[tokio::test]
async fn a_resource_against_the_crd_is_refused_with_the_field_named() {
    let (client, _sandbox) = sandbox_with_operators().await;
    let spec = spec(Engine::Cassandra);
    apply(&client, &objects::namespace(&spec)).await;
    let mut resource = objects::operator_resource(&spec);
    resource["spec"]["serverType"] = "mysql".into();
    let error = api_for(&client, &resource)
        .patch(
            objects::RESOURCE_NAME,
            &PatchParams::apply(ENGINE.field_manager).force(),
            &Patch::Apply(&resource),
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("serverType"), "{error}");
}
