//! Secrets developers set for their apps: sealed per value (`crate::crypto`:
//! a per-app subkey, associated data binding app, environment, group, key
//! and version), every version kept, never shown again. The service
//! (`service.rs`) checks who asks and writes versions; the deploy engine
//! (`sync.rs`) writes them into the Secrets the manifests reference and
//! stamps the pod templates with the versions they read, so a change rolls
//! the workloads.

pub mod env_file;
pub mod rewrap;
pub mod service;
pub mod sync;

use std::collections::BTreeMap;

use app::dscloud::DscloudFile;

use crate::crypto::Scope;
use crate::store::SecretSlot;

/// What a value is sealed for: the associated data names the app (in the
/// subkey and the data), the environment and group (the purpose), the key
/// and the version. Moved anywhere else, it does not open.
pub fn purpose(environment: &str, group: &str) -> String {
    format!("secret:{environment}:{group}")
}

pub fn scope<'a>(
    app: uuid::Uuid,
    purpose: &'a str,
    slot: &'a SecretSlot,
    version: i64,
) -> Scope<'a> {
    Scope {
        app,
        purpose,
        name: &slot.name,
        version,
    }
}

/// What a release reads in an environment: every slot with the components
/// (or microservices' tests) that read it. `secretValues` of the components
/// deployed there come from the app's Secret; an integration test's
/// `secrets` map a variable to the group holding a key of that name.
pub fn expected(file: &DscloudFile, environment: &str) -> BTreeMap<SecretSlot, Vec<String>> {
    let mut slots: BTreeMap<SecretSlot, Vec<String>> = BTreeMap::new();
    let components = file
        .microservices
        .iter()
        .map(|(name, service)| (name, &service.common))
        .chain(file.jobs.iter().map(|(name, job)| (name, &job.common)))
        .chain(file.cronjobs.iter().map(|(name, job)| (name, &job.common)));
    for (component, common) in components {
        if !common.deploys_to(environment) {
            continue;
        }
        for key in &common.secret_values {
            slots
                .entry(SecretSlot::app(key))
                .or_default()
                .push(component.clone());
        }
    }
    for (name, service) in &file.microservices {
        if !service.common.deploys_to(environment) {
            continue;
        }
        if let Some(tests) = service.integration_tests.get(environment) {
            for (variable, group) in &tests.secrets {
                slots
                    .entry(SecretSlot::in_group(group, variable))
                    .or_default()
                    .push(format!("{name} tests"));
            }
        }
    }
    slots
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_release_expects_the_keys_of_what_runs_in_the_environment() {
        let text = "microservices:\n  api:\n    environmentConfiguration:\n      dev: {}\n      prod: {}\n    secretValues: [DB_PASSWORD]\n    integrationTests:\n      prod:\n        secrets:\n          TEST_TOKEN: api-tests\njobs:\n  migrate:\n    environmentConfiguration:\n      prod: {}\n    secretValues: [DB_PASSWORD, ADMIN_TOKEN]\n";
        let file = app::dscloud::check(text).file.unwrap();
        let dev = expected(&file, "dev");
        assert_eq!(
            dev.into_iter().collect::<Vec<_>>(),
            vec![(SecretSlot::app("DB_PASSWORD"), vec!["api".to_string()])]
        );
        let prod = expected(&file, "prod");
        assert_eq!(
            prod[&SecretSlot::app("DB_PASSWORD")],
            vec!["api".to_string(), "migrate".to_string()]
        );
        assert_eq!(
            prod[&SecretSlot::app("ADMIN_TOKEN")],
            vec!["migrate".to_string()]
        );
        assert_eq!(
            prod[&SecretSlot::in_group("api-tests", "TEST_TOKEN")],
            vec!["api tests".to_string()]
        );
        assert!(expected(&file, "test").is_empty());
    }
}
