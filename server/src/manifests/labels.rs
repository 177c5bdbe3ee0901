//! The labels on every object: Kubernetes' recommended `app.kubernetes.io/*`
//! set, and the portal's own, which the engines select by.

use std::collections::BTreeMap;

use super::{Target, bounded};

pub const APP: &str = "dscloud.io/app";
pub const COMPONENT: &str = "dscloud.io/component";
pub const ENVIRONMENT: &str = "dscloud.io/environment";
pub const COMMIT: &str = "dscloud.io/commit";
/// On an integration-test Job: the microservice it tests.
pub const TESTS: &str = "dscloud.io/tests";
pub const MANAGED_BY: &str = "dscloud-portal";

pub type Labels = BTreeMap<String, String>;

/// The namespace's labels: whose environment it is.
pub fn namespace(target: &Target<'_>) -> Labels {
    Labels::from([
        (
            "app.kubernetes.io/managed-by".to_string(),
            MANAGED_BY.to_string(),
        ),
        (
            "app.kubernetes.io/part-of".to_string(),
            target.app.to_string(),
        ),
        (APP.to_string(), target.app.to_string()),
        (ENVIRONMENT.to_string(), target.environment.to_string()),
    ])
}

/// Everything that identifies one component of one commit; `role` is what the
/// component is (`microservice`, `job`, `cronjob`, `integration-tests`).
pub fn component(name: &str, role: &str, target: &Target<'_>) -> Labels {
    let mut labels = selector(name, target);
    labels.extend([
        ("app.kubernetes.io/name".to_string(), name.to_string()),
        (
            "app.kubernetes.io/instance".to_string(),
            bounded(&format!("{}-{name}", target.app), target.environment),
        ),
        (
            "app.kubernetes.io/version".to_string(),
            target.commit.to_string(),
        ),
        ("app.kubernetes.io/component".to_string(), role.to_string()),
        (
            "app.kubernetes.io/part-of".to_string(),
            target.app.to_string(),
        ),
        (
            "app.kubernetes.io/managed-by".to_string(),
            MANAGED_BY.to_string(),
        ),
        (ENVIRONMENT.to_string(), target.environment.to_string()),
        (COMMIT.to_string(), target.commit.to_string()),
    ]);
    labels
}

/// The labels a workload selects its pods by: never the commit, because a
/// Deployment's selector cannot change between releases.
pub fn selector(name: &str, target: &Target<'_>) -> Labels {
    Labels::from([
        (APP.to_string(), target.app.to_string()),
        (COMPONENT.to_string(), name.to_string()),
    ])
}
