//! Which Kubernetes the portal talks to, for the UI to say plainly.
//!
//! The server knows it (Leptos context); the shell writes it into a `<meta>`
//! tag, from which the browser reads the same value when it hydrates. No
//! request, no async: the notice is in the first HTML, with or without
//! JavaScript.

use serde::{Deserialize, Serialize};

/// The `<meta name>` the shell writes the target into.
pub const META_NAME: &str = "dscloud-kubernetes";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KubernetesTarget {
    /// The built-in sandbox: an API served by the portal itself, with
    /// simulated controllers. `kubeconfig` is the file kubectl can use.
    Sandbox { kubeconfig: String },
    /// A real cluster, by its API server's address.
    Cluster { server: String },
}

/// What the portal runs against; `None` when it was started without Kubernetes.
pub fn current() -> Option<KubernetesTarget> {
    #[cfg(feature = "ssr")]
    {
        leptos::prelude::use_context::<KubernetesTarget>()
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        let content = web_sys::window()?
            .document()?
            .query_selector(&format!("meta[name=\"{META_NAME}\"]"))
            .ok()??
            .get_attribute("content")?;
        serde_json::from_str(&content).ok()
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        None
    }
}
