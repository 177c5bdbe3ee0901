//! Which Kubernetes the portal talks to, for the UI to say plainly.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KubernetesTarget {
    /// The built-in sandbox: an API served by the portal itself, with
    /// simulated controllers. `kubeconfig` is the file kubectl can use.
    Sandbox { kubeconfig: String },
    /// A real cluster, by its API server's address.
    Cluster { server: String },
}

/// What the server runs against; `None` when it was started without Kubernetes.
#[server]
pub async fn current_kubernetes() -> Result<Option<KubernetesTarget>, ServerFnError> {
    Ok(use_context::<KubernetesTarget>())
}
