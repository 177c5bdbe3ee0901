//! kube-rs against the sandbox, with no socket: the router is the client's
//! transport. What passes here is what the portal's engines will rely on.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Error};
use sandbox::Sandbox;
use serde_json::json;

fn client(sandbox: &Sandbox) -> Client {
    Client::new(sandbox.router(), "default")
}

fn config_map(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        },
        "data": {"key": "value"},
    }))
    .unwrap()
}

fn api_error(error: Error) -> (u16, String) {
    match error {
        Error::Api(status) => (status.code, status.reason),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn create_get_replace_delete() {
    let sandbox = Sandbox::new();
    let maps: Api<ConfigMap> = Api::namespaced(client(&sandbox), "default");

    let created = maps
        .create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    let metadata = &created.metadata;
    assert!(metadata.uid.is_some() && metadata.creation_timestamp.is_some());
    assert_eq!(metadata.namespace.as_deref(), Some("default"));
    let version = metadata.resource_version.clone().unwrap();

    let again = maps
        .create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap_err();
    assert_eq!(api_error(again), (409, "AlreadyExists".to_string()));

    // Replace with the current version works; with a stale one it conflicts.
    let mut changed = created.clone();
    changed.data = Some(BTreeMap::from([("key".to_string(), "new".to_string())]));
    let replaced = maps
        .replace("a", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_ne!(
        replaced.metadata.resource_version.as_deref(),
        Some(version.as_str())
    );
    let stale = maps
        .replace("a", &PostParams::default(), &changed)
        .await
        .unwrap_err();
    assert_eq!(api_error(stale), (409, "Conflict".to_string()));

    assert_eq!(maps.get("a").await.unwrap().data.unwrap()["key"], "new");
    maps.delete("a", &DeleteParams::default()).await.unwrap();
    assert_eq!(api_error(maps.get("a").await.unwrap_err()).0, 404);
}

#[tokio::test]
async fn a_missing_namespace_is_refused() {
    let sandbox = Sandbox::new();
    let maps: Api<ConfigMap> = Api::namespaced(client(&sandbox), "nowhere");
    let error = maps
        .create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap_err();
    assert_eq!(api_error(error).0, 404);
}

#[tokio::test]
async fn lists_filter_by_label_and_page_with_continue() {
    let sandbox = Sandbox::new();
    let maps: Api<ConfigMap> = Api::namespaced(client(&sandbox), "default");
    for index in 0..7 {
        let tier = if index % 2 == 0 { "web" } else { "db" };
        maps.create(
            &PostParams::default(),
            &config_map(&format!("m{index}"), &[("tier", tier)]),
        )
        .await
        .unwrap();
    }
    let web = maps
        .list(&ListParams::default().labels("tier=web"))
        .await
        .unwrap();
    assert_eq!(web.items.len(), 4);
    let not_db = maps
        .list(&ListParams::default().labels("tier notin (db)"))
        .await
        .unwrap();
    assert_eq!(not_db.items.len(), 4);
    let by_name = maps
        .list(&ListParams::default().fields("metadata.name=m3"))
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);

    let mut names = Vec::new();
    let mut params = ListParams::default().limit(3);
    loop {
        let page = maps.list(&params).await.unwrap();
        assert!(
            !page
                .metadata
                .resource_version
                .clone()
                .unwrap_or_default()
                .is_empty()
        );
        names.extend(
            page.items
                .into_iter()
                .map(|item| item.metadata.name.unwrap()),
        );
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    assert_eq!(names, ["m0", "m1", "m2", "m3", "m4", "m5", "m6"]);
}

#[tokio::test]
async fn server_side_apply_creates_updates_and_reports_conflicts() {
    let sandbox = Sandbox::new();
    let deployments: Api<Deployment> = Api::namespaced(client(&sandbox), "default");
    let desired = |replicas: i32| {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
            }
        })
    };
    let engine = PatchParams::apply("engine");
    let first = deployments
        .patch("web", &engine, &Patch::Apply(desired(1)))
        .await
        .unwrap();
    assert_eq!(first.metadata.generation, Some(1));
    // The same apply again writes nothing.
    let same = deployments
        .patch("web", &engine, &Patch::Apply(desired(1)))
        .await
        .unwrap();
    assert_eq!(
        same.metadata.resource_version,
        first.metadata.resource_version
    );
    let scaled = deployments
        .patch("web", &engine, &Patch::Apply(desired(3)))
        .await
        .unwrap();
    assert_eq!(scaled.spec.unwrap().replicas, Some(3));
    assert_eq!(scaled.metadata.generation, Some(2));

    let other = deployments
        .patch(
            "web",
            &PatchParams::apply("someone-else"),
            &Patch::Apply(desired(5)),
        )
        .await
        .unwrap_err();
    assert_eq!(api_error(other).0, 409);
    let forced = deployments
        .patch(
            "web",
            &PatchParams::apply("someone-else").force(),
            &Patch::Apply(desired(5)),
        )
        .await
        .unwrap();
    assert_eq!(forced.spec.unwrap().replicas, Some(5));
}

#[tokio::test]
async fn status_is_written_only_through_its_subresource() {
    let sandbox = Sandbox::new();
    let deployments: Api<Deployment> = Api::namespaced(client(&sandbox), "default");
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}}},
        "status": {"replicas": 9}
    }))
    .unwrap();
    let created = deployments
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    assert!(
        created.status.is_none(),
        "a new object starts without status"
    );

    let status = json!({"status": {"readyReplicas": 1}});
    let patched = deployments
        .patch_status("web", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    assert_eq!(patched.status.as_ref().unwrap().ready_replicas, Some(1));
    assert_eq!(
        patched.metadata.generation,
        Some(1),
        "status does not bump the generation"
    );

    // A main-path write cannot change the status.
    let spec = json!({"spec": {"replicas": 2}, "status": {"readyReplicas": 7}});
    let patched = deployments
        .patch("web", &PatchParams::default(), &Patch::Merge(&spec))
        .await
        .unwrap();
    assert_eq!(patched.status.unwrap().ready_replicas, Some(1));
    assert_eq!(patched.metadata.generation, Some(2));
}

#[tokio::test]
async fn finalizers_hold_a_delete_until_they_are_removed() {
    let sandbox = Sandbox::new();
    let maps: Api<ConfigMap> = Api::namespaced(client(&sandbox), "default");
    let mut map = config_map("held", &[]);
    map.metadata.finalizers = Some(vec!["example.com/cleanup".to_string()]);
    maps.create(&PostParams::default(), &map).await.unwrap();

    maps.delete("held", &DeleteParams::default()).await.unwrap();
    let marked = maps.get("held").await.unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());

    // kube-runtime's finalizer helper removes its entry with a guarded JSON patch.
    let remove = json_patch::Patch(vec![
        json_patch::PatchOperation::Test(json_patch::TestOperation {
            path: json_patch::jsonptr::PointerBuf::parse("/metadata/finalizers/0").unwrap(),
            value: json!("example.com/cleanup"),
        }),
        json_patch::PatchOperation::Remove(json_patch::RemoveOperation {
            path: json_patch::jsonptr::PointerBuf::parse("/metadata/finalizers/0").unwrap(),
        }),
    ]);
    maps.patch::<ConfigMap>("held", &PatchParams::default(), &Patch::Json(remove))
        .await
        .unwrap();
    assert_eq!(api_error(maps.get("held").await.unwrap_err()).0, 404);
}

#[tokio::test]
async fn deleting_a_namespace_deletes_what_it_holds() {
    let sandbox = Sandbox::new();
    let client = client(&sandbox);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "team"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "team");
    let secret: Secret = serde_json::from_value(
        json!({"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}}),
    )
    .unwrap();
    let created = secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    // stringData lands base64-encoded in data.
    assert_eq!(created.data.unwrap()["password"].0, b"hunter2");

    namespaces
        .delete("team", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(api_error(secrets.get("s").await.unwrap_err()).0, 404);
    assert_eq!(api_error(namespaces.get("team").await.unwrap_err()).0, 404);
}

#[tokio::test]
async fn a_terminating_namespace_refuses_new_content_with_403() {
    let sandbox = Sandbox::new();
    let client = client(&sandbox);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "doomed"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    // A finalizer keeps the namespace terminating until it is removed.
    let mut held = config_map("held", &[]);
    held.metadata.finalizers = Some(vec!["example.com/hold".to_string()]);
    maps.create(&PostParams::default(), &held).await.unwrap();
    namespaces
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    let terminating = namespaces.get("doomed").await.unwrap();
    assert_eq!(
        terminating.status.unwrap().phase.as_deref(),
        Some("Terminating")
    );

    let Error::Api(refused) = maps
        .create(&PostParams::default(), &config_map("late", &[]))
        .await
        .unwrap_err()
    else {
        panic!("an API error")
    };
    assert_eq!((refused.code, refused.reason.as_str()), (403, "Forbidden"));
    assert!(
        refused.message.contains("because it is being terminated"),
        "{}",
        refused.message
    );
    assert_eq!(api_error(maps.get("late").await.unwrap_err()).0, 404);

    // Once the finalizer goes, so do the object and the namespace.
    maps.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert_eq!(
        api_error(namespaces.get("doomed").await.unwrap_err()).0,
        404
    );
}

#[tokio::test]
async fn dry_run_validates_without_storing() {
    let sandbox = Sandbox::new();
    let maps: Api<ConfigMap> = Api::namespaced(client(&sandbox), "default");
    let params = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    maps.create(&params, &config_map("dry", &[])).await.unwrap();
    assert_eq!(api_error(maps.get("dry").await.unwrap_err()).0, 404);
}

#[tokio::test]
async fn a_watcher_sees_changes_as_they_happen() {
    let sandbox = Sandbox::new();
    let maps: Api<ConfigMap> = Api::namespaced(client(&sandbox), "default");
    maps.create(
        &PostParams::default(),
        &config_map("before", &[("watched", "yes")]),
    )
    .await
    .unwrap();
    let mut stream = watcher(
        maps.clone(),
        watcher::Config::default().labels("watched=yes"),
    )
    .applied_objects()
    .boxed();
    let first = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.unwrap().metadata.name.as_deref(), Some("before"));

    maps.create(
        &PostParams::default(),
        &config_map("unwatched", &[("watched", "no")]),
    )
    .await
    .unwrap();
    maps.create(
        &PostParams::default(),
        &config_map("after", &[("watched", "yes")]),
    )
    .await
    .unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.unwrap().metadata.name.as_deref(), Some("after"));
}

#[tokio::test]
async fn owners_take_their_dependents_along_unless_told_to_orphan_them() {
    let sandbox = Sandbox::new();
    let maps: Api<ConfigMap> = Api::namespaced(client(&sandbox), "default");
    let dependent_of = |owner: &ConfigMap, name: &str| -> ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": name, "ownerReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap", "name": owner.metadata.name, "uid": owner.metadata.uid}]}}))
        .unwrap()
    };
    let owner = maps
        .create(&PostParams::default(), &config_map("owner", &[]))
        .await
        .unwrap();
    maps.create(&PostParams::default(), &dependent_of(&owner, "collected"))
        .await
        .unwrap();
    maps.delete("owner", &DeleteParams::background())
        .await
        .unwrap();
    assert_eq!(api_error(maps.get("collected").await.unwrap_err()).0, 404);

    let owner = maps
        .create(&PostParams::default(), &config_map("owner", &[]))
        .await
        .unwrap();
    maps.create(&PostParams::default(), &dependent_of(&owner, "orphan"))
        .await
        .unwrap();
    maps.delete("owner", &DeleteParams::orphan()).await.unwrap();
    let orphan = maps.get("orphan").await.unwrap();
    assert!(orphan.metadata.owner_references.is_none());
}
