//! Rendering a checked `dscloud.yaml` into the Kubernetes objects of one
//! environment. Pure: the same file and target give the same objects, and the
//! same bytes once written as YAML.

pub mod labels;
mod names;
mod network;
mod preview;
mod workloads;
pub mod yaml;

use app::dscloud::{DscloudFile, MAX_LABEL};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

pub use names::bounded;
pub use preview::{PREVIEW_COMMIT, PreviewRenderer};

/// Where and what to render: the app (its repository's name), the
/// environment, the commit being deployed and the registry holding its images.
#[derive(Clone, Debug)]
pub struct Target<'a> {
    pub app: &'a str,
    pub environment: &'a str,
    /// The full commit SHA: images are tagged with it and Jobs named by it.
    pub commit: &'a str,
    pub registry: &'a str,
    /// The environment's ingress host and class, if it configures them.
    pub ingress: Option<&'a IngressSettings>,
}

/// How an environment's ingress is reached (`--environment
/// dev,ingress-host={app}.dev.example.com,ingress-class=nginx`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngressSettings {
    /// The host of every app's Ingress rules, `{app}` standing for its name.
    pub host: Option<String>,
    /// `spec.ingressClassName`: which controller serves them.
    pub class: Option<String>,
}

impl IngressSettings {
    /// The template's placeholder for the app's name.
    pub const APP: &'static str = "{app}";

    /// The host of `app`'s Ingress rules, if the environment names one.
    pub fn host_for(&self, app: &str) -> Option<String> {
        self.host
            .as_ref()
            .map(|template| template.replace(Self::APP, app))
    }
}

impl Target<'_> {
    /// The environment's namespace: one per app and environment.
    pub fn namespace(&self) -> String {
        bounded(self.app, self.environment)
    }

    /// The image of a component, built from its sub-directory for this commit.
    pub fn image(&self, component: &str) -> String {
        format!(
            "{}/{}/{}:{}",
            self.registry.trim_end_matches('/'),
            self.app,
            component,
            self.commit
        )
    }

    /// The first eight characters of the commit, for names that run once per commit.
    pub fn short_commit(&self) -> &str {
        self.commit.get(..8).unwrap_or(self.commit)
    }
}

/// The name of the app's Secret holding the `secretValues` of an environment.
pub const APP_SECRET: &str = "app-secrets";

/// The name of the Secret holding an integration-test secret group.
pub fn secret_group(group: &str) -> String {
    bounded("secret-group", group)
}

/// The suffix of the sub-directory (and Job) of a microservice's integration tests.
pub const INTEGRATION_TESTS: &str = "integration-tests";

/// One rendered object, typed. Unboxed: a render holds a few dozen of them,
/// and the variants differ by a few hundred bytes.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Manifest {
    Namespace(Namespace),
    Deployment(Deployment),
    StatefulSet(StatefulSet),
    Service(Service),
    Ingress(Ingress),
    Job(Job),
    CronJob(CronJob),
}

impl Manifest {
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Manifest::Namespace(object) => &object.metadata,
            Manifest::Deployment(object) => &object.metadata,
            Manifest::StatefulSet(object) => &object.metadata,
            Manifest::Service(object) => &object.metadata,
            Manifest::Ingress(object) => &object.metadata,
            Manifest::Job(object) => &object.metadata,
            Manifest::CronJob(object) => &object.metadata,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Manifest::Namespace(_) => "Namespace",
            Manifest::Deployment(_) => "Deployment",
            Manifest::StatefulSet(_) => "StatefulSet",
            Manifest::Service(_) => "Service",
            Manifest::Ingress(_) => "Ingress",
            Manifest::Job(_) => "Job",
            Manifest::CronJob(_) => "CronJob",
        }
    }

    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    #[error("the app name `{0}` is not a DNS-1123 label of at most {MAX_LABEL} characters")]
    AppName(String),
    #[error("the environment `{0}` is not a DNS-1123 label of at most {MAX_LABEL} characters")]
    Environment(String),
    #[error("`{0}` is not a full commit SHA (40 hexadecimal characters)")]
    Commit(String),
}

/// Every object of one environment, in the order they are applied: the
/// namespace, then per component (by kind, then name) its workload and network.
pub fn render(file: &DscloudFile, target: &Target<'_>) -> Result<Vec<Manifest>, RenderError> {
    validate_target(target)?;
    let mut manifests = vec![Manifest::Namespace(Namespace {
        metadata: ObjectMeta {
            name: Some(target.namespace()),
            labels: Some(labels::namespace(target)),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    })];
    for (name, microservice) in &file.microservices {
        if microservice.common.deploys_to(target.environment) {
            manifests.extend(workloads::microservice(name, microservice, target));
            manifests.extend(network::microservice(name, microservice, target));
            if let Some(tests) = microservice.integration_tests.get(target.environment) {
                manifests.push(Manifest::Job(workloads::integration_tests(
                    name, tests, target,
                )));
            }
        }
    }
    for (name, job) in &file.jobs {
        if job.common.deploys_to(target.environment) {
            manifests.push(Manifest::Job(workloads::job(name, job, target)));
        }
    }
    for (name, cronjob) in &file.cronjobs {
        if cronjob.common.deploys_to(target.environment) {
            manifests.push(Manifest::CronJob(workloads::cronjob(name, cronjob, target)));
        }
    }
    Ok(manifests)
}

fn validate_target(target: &Target<'_>) -> Result<(), RenderError> {
    let label = |name: &str| app::names::dns_label(name, MAX_LABEL).is_ok();
    if !label(target.app) {
        return Err(RenderError::AppName(target.app.to_string()));
    }
    if !label(target.environment) {
        return Err(RenderError::Environment(target.environment.to_string()));
    }
    if target.commit.len() != 40 || !target.commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(RenderError::Commit(target.commit.to_string()));
    }
    Ok(())
}

/// The objects as one YAML stream, `---` between documents.
pub fn to_yaml(manifests: &[Manifest]) -> String {
    manifests
        .iter()
        .map(|manifest| {
            let value = serde_json::to_value(manifest).unwrap_or(serde_json::Value::Null);
            yaml::document(&value)
        })
        .collect::<Vec<_>>()
        .join("---\n")
}
