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
    pub const ROLE_BINDING: Kind = Kind {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "RoleBinding",
        plural: "rolebindings",
    };
    pub const NETWORK_POLICY: Kind = Kind {
        group: "networking.k8s.io",
        version: "v1",
        kind: "NetworkPolicy",
        plural: "networkpolicies",
    };
    pub const SERVICE: Kind = Kind::core("Service", "services");
    pub const POD: Kind = Kind::core("Pod", "pods");
    pub const DEPLOYMENT: Kind = Kind {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
    };
    pub const STATEFUL_SET: Kind = Kind {
        group: "apps",
        version: "v1",
        kind: "StatefulSet",
        plural: "statefulsets",
    };
    pub const INGRESS: Kind = Kind {
        group: "networking.k8s.io",
        version: "v1",
        kind: "Ingress",
        plural: "ingresses",
    };
    pub const CRON_JOB: Kind = Kind {
        group: "batch",
        version: "v1",
        kind: "CronJob",
        plural: "cronjobs",
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
