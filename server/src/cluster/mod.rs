//! Kubernetes plumbing every engine shares: the kinds they touch, one
//! client that applies with the engine's own field manager, and the labels
//! that tell whose object is whose. Everything goes through kube-rs; every
//! call has a deadline, so a hung API server cannot hold an engine.

mod kinds;
mod labels;
mod outside;
pub mod regions;
mod secrets_access;

use std::time::Duration;

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::Value;

pub use kinds::Kind;
pub use labels::*;
pub use outside::{OutsideAddress, OutsideAddressArg, outside_addresses};
pub use regions::{RegionArg, check_distinct, check_region_name};
pub use secrets_access::{SECRETS_ROLE, ServiceAccount};

/// How long one Kubernetes call may take before it counts as failed (and
/// is retried with backoff).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("Kubernetes: {0}")]
    Kubernetes(#[from] kube::Error),
    #[error("Kubernetes did not answer within {0:?}")]
    Timeout(Duration),
    #[error("Kubernetes returned an object that cannot be read: {0}")]
    Unreadable(#[from] serde_json::Error),
}

impl ClusterError {
    /// The API refused the write because the object changed meanwhile (or
    /// exists already): read again and decide again.
    pub fn is_conflict(&self) -> bool {
        matches!(self, ClusterError::Kubernetes(kube::Error::Api(response)) if response.code == 409)
    }

    /// What went wrong, for the database's owner: the kind of failure,
    /// never the API's raw answer (it names the cluster's internals: the
    /// portal's log has it).
    pub fn for_people(&self) -> String {
        match self {
            ClusterError::Kubernetes(kube::Error::Api(status)) => match status.code {
                401 | 403 => "the cluster refused the portal's request (the portal's permissions there need an operator)",
                404 => "an object the portal expected is missing from the cluster",
                409 => "the cluster's objects changed meanwhile",
                400 | 422 => "the cluster refused the database's specification",
                429 => "the cluster is too busy to answer",
                500..=599 => "the cluster's API failed",
                _ => "the cluster refused the request",
            }
            .to_string(),
            ClusterError::Kubernetes(_) => "the cluster cannot be reached".to_string(),
            ClusterError::Timeout(limit) => {
                format!("the cluster did not answer within {} s", limit.as_secs())
            }
            ClusterError::Unreadable(_) => {
                "the cluster answered with an object the portal cannot read".to_string()
            }
        }
    }
}

/// What a create found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    Created,
    /// Someone made it first; it was left as it is.
    AlreadyExists,
}

/// One engine's view of a cluster: its client, its field manager, its
/// deadline per call.
#[derive(Clone)]
pub struct Cluster {
    client: kube::Client,
    field_manager: &'static str,
    timeout: Duration,
    /// Bound to Secrets in each namespace this engine makes, if set.
    secrets_access: Option<ServiceAccount>,
}

impl Cluster {
    pub fn new(client: kube::Client, field_manager: &'static str) -> Self {
        Cluster {
            client,
            field_manager,
            timeout: REQUEST_TIMEOUT,
            secrets_access: None,
        }
    }

    /// Each namespace this engine makes binds Secrets to `account`.
    pub fn with_secrets_access(mut self, account: Option<ServiceAccount>) -> Self {
        self.secrets_access = account;
        self
    }

    /// Applies a namespace, then (once) the RoleBinding that lets the
    /// portal use Secrets in it, so nothing reads or writes a Secret there
    /// before it may.
    pub async fn apply_namespace(&self, namespace: &Value) -> Result<(), ClusterError> {
        self.apply(Kind::NAMESPACE, namespace).await?;
        if let Some(account) = &self.secrets_access {
            let name = namespace["metadata"]["name"].as_str().unwrap_or_default();
            let labels = namespace["metadata"]["labels"].clone();
            self.create(Kind::ROLE_BINDING, &account.role_binding(name, labels))
                .await?;
        }
        Ok(())
    }

    /// Whether the portal may use Secrets in `namespace` (always, without
    /// a ServiceAccount configured). A namespace without its binding is
    /// not ready for the engine: applying it again makes the binding.
    pub async fn secrets_bound(&self, namespace: &str) -> Result<bool, ClusterError> {
        if self.secrets_access.is_none() {
            return Ok(true);
        }
        Ok(self
            .get(Kind::ROLE_BINDING, Some(namespace), SECRETS_ROLE)
            .await?
            .is_some())
    }

    /// How long one call may take (tests shorten it).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    fn api(&self, kind: Kind, namespace: Option<&str>) -> Api<DynamicObject> {
        let resource = kind.resource();
        match namespace {
            Some(namespace) => Api::namespaced_with(self.client.clone(), namespace, &resource),
            None => Api::all_with(self.client.clone(), &resource),
        }
    }

    /// Create and replace carry this engine's field manager, as apply does.
    fn post_params(&self) -> PostParams {
        PostParams {
            field_manager: Some(self.field_manager.to_string()),
            ..PostParams::default()
        }
    }

    /// The call within the deadline, counted by verb, kind and outcome
    /// (`dscloud_kubernetes_requests_total`).
    async fn within<T>(
        &self,
        verb: &str,
        kind: &str,
        call: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, ClusterError> {
        let (result, code) = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => (Ok(value), "200".to_string()),
            Ok(Err(kube::Error::Api(status))) => {
                let code = status.code.to_string();
                (Err(ClusterError::from(kube::Error::Api(status))), code)
            }
            Ok(Err(error)) => (Err(ClusterError::from(error)), "unreachable".to_string()),
            Err(_) => (
                Err(ClusterError::Timeout(self.timeout)),
                "timeout".to_string(),
            ),
        };
        crate::metrics::kubernetes_request(verb, kind, &code);
        result
    }

    /// The object as JSON; `None` when it does not exist.
    pub async fn get(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, ClusterError> {
        let object = self
            .within("get", kind.kind, self.api(kind, namespace).get_opt(name))
            .await?;
        Ok(object.map(serde_json::to_value).transpose()?)
    }

    /// The objects of a kind in a namespace that match a label selector.
    pub async fn list(
        &self,
        kind: Kind,
        namespace: &str,
        selector: &str,
    ) -> Result<Vec<Value>, ClusterError> {
        let params = kube::api::ListParams::default().labels(selector);
        let list = self
            .within(
                "list",
                kind.kind,
                self.api(kind, Some(namespace)).list(&params),
            )
            .await?;
        list.items
            .into_iter()
            .map(|object| serde_json::to_value(object).map_err(ClusterError::from))
            .collect()
    }

    /// The last `lines` lines of a pod's (first container's) log.
    pub async fn log_tail(
        &self,
        namespace: &str,
        pod: &str,
        lines: i64,
    ) -> Result<String, ClusterError> {
        let pods: Api<k8s_openapi::api::core::v1::Pod> =
            Api::namespaced(self.client.clone(), namespace);
        let params = kube::api::LogParams {
            tail_lines: Some(lines),
            ..kube::api::LogParams::default()
        };
        self.within("get", "Pod/log", pods.logs(pod, &params)).await
    }

    /// Server-side apply with this engine's field manager, taking over
    /// fields another manager set.
    pub async fn apply(&self, kind: Kind, object: &Value) -> Result<(), ClusterError> {
        let (namespace, name) = identity(object);
        let params = PatchParams::apply(self.field_manager).force();
        self.within(
            "patch",
            kind.kind,
            self.api(kind, namespace)
                .patch(name, &params, &Patch::Apply(object)),
        )
        .await?;
        Ok(())
    }

    /// Creates the object unless it exists: for what must be written once
    /// and never overwritten (a password the database was bootstrapped with).
    pub async fn create(&self, kind: Kind, object: &Value) -> Result<Created, ClusterError> {
        let (namespace, _) = identity(object);
        let object: DynamicObject = serde_json::from_value(object.clone())?;
        match self
            .within(
                "create",
                kind.kind,
                self.api(kind, namespace)
                    .create(&self.post_params(), &object),
            )
            .await
        {
            Ok(_) => Ok(Created::Created),
            Err(error) if error.is_conflict() => Ok(Created::AlreadyExists),
            Err(error) => Err(error),
        }
    }

    /// Replaces the object if it is still at the `metadata.resourceVersion`
    /// it carries; a conflict (`is_conflict`) means someone changed it.
    pub async fn replace(&self, kind: Kind, object: &Value) -> Result<(), ClusterError> {
        let (namespace, name) = identity(object);
        let typed: DynamicObject = serde_json::from_value(object.clone())?;
        self.within(
            "update",
            kind.kind,
            self.api(kind, namespace)
                .replace(name, &self.post_params(), &typed),
        )
        .await?;
        Ok(())
    }

    /// Deletes the object (its dependents in the background); one already
    /// gone is what was wanted.
    pub async fn delete(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<(), ClusterError> {
        match self
            .within(
                "delete",
                kind.kind,
                self.api(kind, namespace)
                    .delete(name, &DeleteParams::background()),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(ClusterError::Kubernetes(kube::Error::Api(response))) if response.code == 404 => {
                Ok(())
            }
            Err(error) => Err(error),
        }
    }
}

fn identity(object: &Value) -> (Option<&str>, &str) {
    (
        object["metadata"]["namespace"].as_str(),
        object["metadata"]["name"].as_str().unwrap_or_default(),
    )
}

/// Whether a Kubernetes object is being deleted (a deletion timestamp is set).
pub fn is_deleting(object: &Value) -> bool {
    object["metadata"].get("deletionTimestamp").is_some()
}

/// An annotation of an object, if set.
pub fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object["metadata"]["annotations"][key].as_str()
}
