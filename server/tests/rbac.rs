//! The check behind every engine suite (`support::rbac`): the engines'
//! requests go through the sandbox as the portal's ServiceAccount under the
//! roles of `deploy/base/rbac.yaml`. Here: those roles refuse what they do
//! not grant, so the check can fail; and a database provisioned under them
//! makes its Secrets only once their RoleBinding exists.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, ListParams, PostParams};
use sandbox::Behaviour;
use server::cluster::ServiceAccount;

mod support;

use support::rbac::AsPortal;

fn binding_to(role: &str, namespace: &str) -> RoleBinding {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("to-{role}"), "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": support::rbac::NAME, "namespace": support::rbac::NAMESPACE}],
    }))
    .unwrap()
}

#[tokio::test]
async fn the_roles_refuse_what_they_do_not_grant() {
    let (sandbox, admin) = support::cluster(Behaviour::instant()).await;
    let mut portal = AsPortal::install(&sandbox, &admin).await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(admin.clone());
    let apps = serde_json::from_value(serde_json::json!({"metadata": {"name": "apps"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &apps)
        .await
        .unwrap();

    // Granted: workloads anywhere.
    let deployments: Api<Deployment> = Api::all(portal.client.clone());
    deployments.list(&ListParams::default()).await.unwrap();
    // Not granted: Secrets across the cluster, or in a namespace not bound.
    let all_secrets: Api<Secret> = Api::all(portal.client.clone());
    let refused = all_secrets.list(&ListParams::default()).await.unwrap_err();
    assert!(refused.to_string().contains("forbidden"), "{refused}");
    let secrets: Api<Secret> = Api::namespaced(portal.client.clone(), "apps");
    let secret: Secret =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "s"}})).unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap_err();
    // Binding any other role (cluster-admin) is refused: `bind` is granted
    // on dscloud-portal-secrets only; that one may be bound, and then the
    // Secret may be made.
    let bindings: Api<RoleBinding> = Api::namespaced(portal.client.clone(), "apps");
    bindings
        .create(&PostParams::default(), &binding_to("cluster-admin", "apps"))
        .await
        .unwrap_err();
    bindings
        .create(
            &PostParams::default(),
            &binding_to("dscloud-portal-secrets", "apps"),
        )
        .await
        .unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();

    assert_eq!(
        portal.refused(),
        [
            "list secrets /",
            "create secrets apps/",
            "create rolebindings apps/",
        ]
    );
}

#[tokio::test]
async fn a_database_under_the_roles_gets_its_secrets_binding_first() {
    let (sandbox, admin) = support::cluster(Behaviour::instant()).await;
    let portal = AsPortal::install(&sandbox, &admin).await;
    let (store, _dir) = support::store().await;
    let owner = support::user(store.as_ref(), "cora", app::roles::Role::Customer).await;
    let database = support::create_database(store.as_ref(), owner.id, "orders", "postgresql").await;
    support::rbac::provision_until_active(store.clone(), &portal.client, database.id).await;
    let namespace = format!("db-{}", database.id.simple());
    let binding = Api::<RoleBinding>::namespaced(admin.clone(), &namespace)
        .get("dscloud-portal-secrets")
        .await
        .unwrap();
    let subject = &binding.subjects.unwrap()[0];
    let account: ServiceAccount = support::rbac::account();
    assert_eq!(subject.name, account.name);
    assert_eq!(
        subject.namespace.as_deref(),
        Some(account.namespace.as_str())
    );
    assert!(
        portal.judged() > 10,
        "only {} requests were checked",
        portal.judged()
    );
}
