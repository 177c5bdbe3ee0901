//! A persistent sandbox keeps its objects across a restart: the portal's
//! embedded mode must not forget the databases it created.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use sandbox::{Behaviour, Sandbox};
use serde_json::json;

fn maps(sandbox: &Sandbox) -> Api<ConfigMap> {
    Api::namespaced(Client::new(sandbox.router(), "default"), "default")
}

#[tokio::test]
async fn objects_custom_kinds_and_field_owners_survive_a_restart() {
    let directory = tempfile::tempdir().unwrap();
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]}
    }))
    .unwrap();
    let widget_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    );

    let version_before = {
        let sandbox = Sandbox::persistent(directory.path(), Behaviour::instant()).unwrap();
        let client = Client::new(sandbox.router(), "default");
        Api::<CustomResourceDefinition>::all(client.clone())
            .create(&PostParams::default(), &crd)
            .await
            .unwrap();
        let widgets: Api<DynamicObject> = Api::namespaced_with(client, "default", &widget_resource);
        let widget: DynamicObject = serde_json::from_value(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}})).unwrap();
        widgets
            .create(&PostParams::default(), &widget)
            .await
            .unwrap();

        let apply = |data: serde_json::Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept"}, "data": data});
        maps(&sandbox)
            .patch(
                "kept",
                &PatchParams::apply("engine"),
                &Patch::Apply(apply(json!({"a": "1", "b": "2"}))),
            )
            .await
            .unwrap();
        maps(&sandbox)
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "gone"}})).unwrap(),
            )
            .await
            .unwrap();
        maps(&sandbox)
            .delete("gone", &DeleteParams::default())
            .await
            .unwrap();
        maps(&sandbox)
            .get("kept")
            .await
            .unwrap()
            .metadata
            .resource_version
            .unwrap()
    };

    // A new process on the same directory.
    let sandbox = Sandbox::persistent(directory.path(), Behaviour::instant()).unwrap();
    let kept = maps(&sandbox).get("kept").await.unwrap();
    assert_eq!(
        kept.metadata.resource_version.as_deref(),
        Some(version_before.as_str())
    );
    assert!(maps(&sandbox).get_opt("gone").await.unwrap().is_none());
    let widgets: Api<DynamicObject> = Api::namespaced_with(
        Client::new(sandbox.router(), "default"),
        "default",
        &widget_resource,
    );
    assert_eq!(widgets.get("w").await.unwrap().data["spec"]["size"], 3);

    // The engine's field ownership came back too: dropping `b` from its apply removes it.
    let applied = maps(&sandbox)
        .patch(
            "kept",
            &PatchParams::apply("engine"),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept"}, "data": {"a": "1"}})),
        )
        .await
        .unwrap();
    assert_eq!(applied.data.unwrap().into_keys().collect::<Vec<_>>(), ["a"]);
    // Revisions keep counting up from where they were.
    let after: u64 = applied.metadata.resource_version.unwrap().parse().unwrap();
    assert!(after > version_before.parse::<u64>().unwrap());
}
