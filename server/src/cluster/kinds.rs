//! The kinds the engines read and write, by group, version and plural.

use kube::api::{ApiResource, GroupVersionKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
}

impl Kind {
    pub const NAMESPACE: Kind = Kind::core("Namespace", "namespaces");
    pub const RESOURCE_QUOTA: Kind = Kind::core("ResourceQuota", "resourcequotas");
    pub const SECRET: Kind = Kind::core("Secret", "secrets");
    pub const NETWORK_POLICY: Kind = Kind {
        group: "networking.k8s.io",
        version: "v1",
        kind: "NetworkPolicy",
        plural: "networkpolicies",
    };
    pub const JOB: Kind = Kind {
        group: "batch",
        version: "v1",
        kind: "Job",
        plural: "jobs",
    };

    const fn core(kind: &'static str, plural: &'static str) -> Kind {
        Kind {
            group: "",
            version: "v1",
            kind,
            plural,
        }
    }

    pub fn resource(self) -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(self.group, self.version, self.kind),
            self.plural,
        )
    }
}
