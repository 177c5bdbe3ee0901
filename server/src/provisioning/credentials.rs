//! A database's credentials Secret, read and rotated on a customer's
//! request. The password lives in Kubernetes only: the portal reads it to
//! show it and never stores or logs it.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams};

use super::objects::{self, DatabaseSpec, FIELD_MANAGER};

#[derive(Clone)]
pub struct CredentialsClient {
    client: Client,
}

impl CredentialsClient {
    pub fn new(client: Client) -> Self {
        CredentialsClient { client }
    }

    fn secrets(&self, spec: &DatabaseSpec) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &spec.namespace())
    }

    /// The current password; `None` while the Secret does not exist yet.
    pub async fn password(&self, spec: &DatabaseSpec) -> Result<Option<String>, kube::Error> {
        let secret = self
            .secrets(spec)
            .get_opt(objects::CREDENTIALS_SECRET)
            .await?;
        Ok(secret.and_then(|secret| {
            let bytes = secret.data?.remove("password")?.0;
            String::from_utf8(bytes).ok()
        }))
    }

    /// Writes a newly generated password (the same field manager as the
    /// engine, so the engine's later applies keep it) and removes the
    /// finished configuration job, so that the engine runs it again to set
    /// the new password inside the database.
    pub async fn rotate(&self, spec: &DatabaseSpec) -> Result<(), kube::Error> {
        let password = crate::auth::password::generate();
        let secret = objects::credentials(spec, &password);
        self.secrets(spec)
            .patch(
                objects::CREDENTIALS_SECRET,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&secret),
            )
            .await?;
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &spec.namespace());
        match jobs
            .delete(objects::CONFIGURE_JOB, &DeleteParams::background())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(response)) if response.code == 404 => Ok(()),
            Err(error) => Err(error),
        }
    }
}
