//! Which Kubernetes the portal talks to, for the UI to say plainly.
//!
//! The server knows it (Leptos context); the shell writes it into a `<meta>`
//! tag, from which the browser reads the same value when it hydrates. No
//! request, no async: the notice is in the first HTML, with or without
//! JavaScript.

use serde::{Deserialize, Serialize};

/// The `<meta name>`s the shell writes the target into: its kind
/// (`sandbox` or `cluster`) and its detail (kubeconfig path or server).
pub const META_KIND: &str = "dscloud-kubernetes";
pub const META_DETAIL: &str = "dscloud-kubernetes-detail";
/// The `<meta name>` listing the regions, separated by commas.
pub const META_REGIONS: &str = "dscloud-regions";

/// The regions databases can be created in, each a Kubernetes cluster the
/// portal is configured with (server context).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Regions(pub Vec<String>);

/// The regions to offer; the built-in `local` when none is configured.
pub fn regions() -> Vec<String> {
    #[cfg(feature = "ssr")]
    let configured = leptos::prelude::use_context::<Regions>().map(|regions| regions.0);
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    let configured = crate::meta::content(META_REGIONS).map(|listed| parse_regions(&listed));
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    let configured: Option<Vec<String>> = None;
    match configured {
        Some(names) if !names.is_empty() => names,
        _ => vec![crate::databases::LOCAL_REGION.to_string()],
    }
}

/// The names in a `<meta>`'s comma-separated list.
pub fn parse_regions(listed: &str) -> Vec<String> {
    listed
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

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
        use crate::meta::content;
        KubernetesTarget::from_parts(&content(META_KIND)?, content(META_DETAIL)?)
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        None
    }
}

impl KubernetesTarget {
    /// The two `<meta>` values that carry it to the browser.
    pub fn parts(&self) -> (&'static str, &str) {
        match self {
            KubernetesTarget::Sandbox { kubeconfig } => ("sandbox", kubeconfig),
            KubernetesTarget::Cluster { server } => ("cluster", server),
        }
    }

    pub fn from_parts(kind: &str, detail: String) -> Option<Self> {
        match kind {
            "sandbox" => Some(KubernetesTarget::Sandbox { kubeconfig: detail }),
            "cluster" => Some(KubernetesTarget::Cluster { server: detail }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meta_parts_carry_the_target_both_ways() {
        for target in [
            KubernetesTarget::Sandbox {
                kubeconfig: "/data/sandbox.kubeconfig".to_string(),
            },
            KubernetesTarget::Cluster {
                server: "https://k8s.example:6443".to_string(),
            },
        ] {
            let (kind, detail) = target.parts();
            assert_eq!(
                KubernetesTarget::from_parts(kind, detail.to_string()),
                Some(target.clone())
            );
        }
        assert_eq!(KubernetesTarget::from_parts("other", String::new()), None);
    }

    #[test]
    fn the_region_list_survives_the_meta_tag() {
        let names = vec!["eu-west".to_string(), "us-east".to_string()];
        assert_eq!(parse_regions(&names.join(",")), names);
        assert_eq!(parse_regions(""), Vec::<String>::new());
        // Outside a server or browser, the built-in region is offered.
        assert_eq!(regions(), vec!["local".to_string()]);
    }
}
