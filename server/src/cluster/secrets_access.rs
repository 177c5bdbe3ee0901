//! Secrets are granted per managed namespace (deploy/base/rbac.yaml): the
//! ClusterRole `dscloud-portal-secrets` is bound to the portal's own
//! ServiceAccount by a RoleBinding in each namespace it creates, never
//! cluster-wide. Without a ServiceAccount configured (`--service-account`:
//! the sandbox, or a kubeconfig that may do more) no binding is made.

use std::str::FromStr;

use serde_json::{Value, json};

/// The ClusterRole bound in each managed namespace.
pub const SECRETS_ROLE: &str = "dscloud-portal-secrets";

/// The portal's own ServiceAccount, which each binding names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAccount {
    pub namespace: String,
    pub name: String,
}

impl FromStr for ServiceAccount {
    type Err = String;

    /// `NAMESPACE/NAME`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let valid = |part: &str| {
            !part.is_empty()
                && part.len() <= 253
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        };
        match text.split_once('/') {
            Some((namespace, name)) if valid(namespace) && valid(name) => Ok(ServiceAccount {
                namespace: namespace.to_string(),
                name: name.to_string(),
            }),
            _ => Err(format!(
                "{text:?} is not NAMESPACE/NAME of a ServiceAccount (lowercase letters, digits, '-' and '.')"
            )),
        }
    }
}

impl ServiceAccount {
    /// The RoleBinding that lets this account use Secrets in `namespace`.
    pub fn role_binding(&self, namespace: &str, labels: Value) -> Value {
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": SECRETS_ROLE, "namespace": namespace, "labels": labels},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": SECRETS_ROLE,
            },
            "subjects": [{
                "kind": "ServiceAccount",
                "name": self.name,
                "namespace": self.namespace,
            }],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_namespace_slash_name() {
        let account: ServiceAccount = "dscloud-portal/dscloud-portal".parse().unwrap();
        assert_eq!(account.namespace, "dscloud-portal");
        let binding = account.role_binding("db-1", json!({}));
        assert_eq!(binding["metadata"]["namespace"], "db-1");
        assert_eq!(binding["roleRef"]["name"], SECRETS_ROLE);
        assert_eq!(binding["subjects"][0]["namespace"], "dscloud-portal");
        for wrong in ["portal", "/portal", "ns/", "Ns/portal", "a/b/c"] {
            assert!(wrong.parse::<ServiceAccount>().is_err(), "{wrong}");
        }
    }
}
