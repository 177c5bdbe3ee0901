//! A database's credentials Secret, read when a customer asks to see the
//! password. The password lives in Kubernetes only: the portal reads it to
//! show it and never stores or logs it. Rotations are desired state
//! (`DesiredChange::RotateCredentials`), carried out by the engine.

use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;

use super::objects::{self, DatabaseSpec};

#[derive(Clone)]
pub struct CredentialsClient {
    client: Client,
}

impl CredentialsClient {
    pub fn new(client: Client) -> Self {
        CredentialsClient { client }
    }

    /// The current password; `None` while the Secret does not exist yet.
    pub async fn password(&self, spec: &DatabaseSpec) -> Result<Option<String>, kube::Error> {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &spec.namespace());
        let secret = secrets.get_opt(objects::CREDENTIALS_SECRET).await?;
        Ok(secret.and_then(|secret| {
            let bytes = secret.data?.remove("password")?.0;
            String::from_utf8(bytes).ok()
        }))
    }
}
