//! The engines as the portal runs them in a cluster: their requests go
//! through the sandbox as the ServiceAccount of `deploy/`, judged against
//! the roles of `deploy/base/rbac.yaml`. A request those roles do not allow
//! is answered 403 and fails the test when the bed is dropped, named.

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use sandbox::Sandbox;
use sandbox::rbac::Identity;
use server::cluster::ServiceAccount;

/// The namespace and name `deploy/base` gives the portal's ServiceAccount.
pub const NAMESPACE: &str = "dscloud-portal";
pub const NAME: &str = "dscloud-portal";

pub fn account() -> ServiceAccount {
    ServiceAccount {
        namespace: NAMESPACE.to_string(),
        name: NAME.to_string(),
    }
}

/// Provisions `database` with an engine acting as the portal under the
/// roles (`client` from [`AsPortal`]) until it is ACTIVE (at most 30 s).
pub async fn provision_until_active(
    store: std::sync::Arc<dyn server::store::Store>,
    client: &Client,
    database: uuid::Uuid,
) {
    let engine = server::provisioning::ProvisioningEngine::new(store.clone(), client.clone())
        .with_secrets_access(Some(account()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        engine.pass().await.unwrap();
        let now = store.database(database).await.unwrap();
        if now.status == app::databases::Status::Active {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not ACTIVE: {:?}",
            now.status
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A client that acts as the portal's ServiceAccount; dropping it checks
/// that nothing it asked was refused.
pub struct AsPortal {
    sandbox: Sandbox,
    pub client: Client,
    /// Set by a test that asks for refusals on purpose.
    refusals_expected: bool,
}

impl AsPortal {
    /// Installs deploy/base/rbac.yaml into the sandbox (as a cluster admin
    /// through `admin`) and returns the portal's client.
    pub async fn install(sandbox: &Sandbox, admin: &Client) -> AsPortal {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/base/rbac.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(admin.clone());
        let namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": NAMESPACE}}));
        namespaces
            .create(&PostParams::default(), &namespace.unwrap())
            .await
            .unwrap();
        for document in text.split("\n---\n") {
            let mut object: serde_json::Value = serde_saphyr::from_str(document).unwrap();
            let kind = object["kind"].as_str().unwrap().to_string();
            let (plural, namespaced) = match kind.as_str() {
                "ClusterRole" => ("clusterroles", false),
                "ClusterRoleBinding" => ("clusterrolebindings", false),
                "Role" => ("roles", true),
                "RoleBinding" => ("rolebindings", true),
                other => panic!("rbac.yaml holds a {other}"),
            };
            let gvk = GroupVersionKind::gvk("rbac.authorization.k8s.io", "v1", &kind);
            let resource = ApiResource::from_gvk_with_plural(&gvk, plural);
            let api: Api<DynamicObject> = if namespaced {
                object["metadata"]["namespace"] = NAMESPACE.into();
                Api::namespaced_with(admin.clone(), NAMESPACE, &resource)
            } else {
                Api::all_with(admin.clone(), &resource)
            };
            let object: DynamicObject = serde_json::from_value(object).unwrap();
            api.create(&PostParams::default(), &object).await.unwrap();
        }
        let identity = Identity::service_account(NAMESPACE, NAME);
        AsPortal {
            sandbox: sandbox.clone(),
            client: Client::new(sandbox.router_as(identity), "default"),
            refusals_expected: false,
        }
    }

    /// How many requests were judged so far (a check that checked nothing
    /// would prove nothing).
    pub fn judged(&self) -> usize {
        self.sandbox.judged().len()
    }

    /// What was refused so far, as `verb resource namespace/name`; the
    /// check at drop is off from then on (the test asked for these).
    pub fn refused(&mut self) -> Vec<String> {
        self.refusals_expected = true;
        self.sandbox
            .judged()
            .into_iter()
            .filter(|judged| !judged.allowed)
            .map(|judged| {
                let request = judged.attributes;
                format!(
                    "{} {} {}/{}",
                    request.verb,
                    request.resource,
                    request.namespace.unwrap_or_default(),
                    request.name.unwrap_or_default()
                )
            })
            .collect()
    }
}

impl Drop for AsPortal {
    fn drop(&mut self) {
        if self.refusals_expected {
            return;
        }
        let refused: Vec<String> = self
            .sandbox
            .judged()
            .into_iter()
            .filter(|judged| !judged.allowed)
            .map(|judged| format!("{:?}", judged.attributes))
            .collect();
        if std::thread::panicking() {
            // The test failed already, perhaps because of these.
            if !refused.is_empty() {
                eprintln!("refused by deploy/base/rbac.yaml:\n{}", refused.join("\n"));
            }
            return;
        }
        assert!(
            refused.is_empty(),
            "the roles in deploy/base/rbac.yaml do not allow what the engines asked:\n{}",
            refused.join("\n")
        );
    }
}
