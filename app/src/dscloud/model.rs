//! The typed model of a `dscloud.yaml`, with every default filled in.
//!
//! Values of this model only come out of [`super::check`], which has already
//! enforced every rule of the reference; code that holds one may rely on them.
//! The serde attributes give the file's own spelling, so the JSON Schema
//! generated from these types (server side) matches what people write.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use schemars::JsonSchema;

/// Environment name → variable name → value, as the pod will see it.
pub type EnvironmentConfiguration = BTreeMap<String, BTreeMap<String, String>>;

/// A whole `dscloud.yaml`: the components of one app, each kind by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(
    feature = "ssr",
    schemars(
        title = "dscloud.yaml",
        description = "How an application repository is deployed by DSCloud Portal."
    )
)]
pub struct DscloudFile {
    /// A microservice's name is also its Service's: it starts with a letter.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schemars(extend("propertyNames" = {"pattern": "^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"})))]
    pub microservices: BTreeMap<String, Microservice>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schemars(extend("propertyNames" = {"pattern": "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"})))]
    pub jobs: BTreeMap<String, Job>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schemars(extend("propertyNames" = {"pattern": "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"})))]
    pub cronjobs: BTreeMap<String, Cronjob>,
}

/// The promotion order when the portal's configuration names none.
pub const DEFAULT_PROMOTION_ORDER: &[&str] = &["dev", "test", "prod"];

impl DscloudFile {
    /// The environments the file deploys to, in promotion order: those named
    /// in `order` first, in that order, then the others alphabetically.
    pub fn environments(&self, order: &[&str]) -> Vec<String> {
        let mut all: Vec<&str> = self
            .microservices
            .values()
            .map(|component| &component.common)
            .chain(self.jobs.values().map(|component| &component.common))
            .chain(self.cronjobs.values().map(|component| &component.common))
            .flat_map(Common::environments)
            .collect();
        all.sort_unstable();
        all.dedup();
        let known = order.iter().filter(|environment| all.contains(environment));
        let others = all
            .iter()
            .filter(|environment| !order.contains(environment));
        known
            .chain(others)
            .map(|environment| environment.to_string())
            .collect()
    }

    pub fn component_count(&self) -> usize {
        self.microservices.len() + self.jobs.len() + self.cronjobs.len()
    }
}

/// The options every kind of component has.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Common {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The environments listed here are the environments the component is deployed to.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schemars(with = "schema::Environments"))]
    pub environment_configuration: EnvironmentConfiguration,
    /// Variables whose values come from the app's Secret for the environment.
    #[serde(default)]
    pub secret_values: Vec<String>,
}

impl Common {
    /// The environments this component is deployed to.
    pub fn environments(&self) -> impl Iterator<Item = &str> {
        self.environment_configuration.keys().map(String::as_str)
    }

    pub fn deploys_to(&self, environment: &str) -> bool {
        self.environment_configuration.contains_key(environment)
    }
}

/// A long-running service: a Deployment (or StatefulSet), a Service and optional Ingress rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", schemars(extend("additionalProperties" = false)))]
pub struct Microservice {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default)]
    pub deployment: Deployment,
    /// Each entry adds a Service port and an Ingress path rule.
    #[serde(default)]
    pub ingress: Vec<IngressRule>,
    /// Environment → how the integration tests run there.
    #[serde(default)]
    pub integration_tests: BTreeMap<String, IntegrationTests>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(JsonSchema))]
pub enum WorkloadKind {
    #[default]
    Deployment,
    StatefulSet,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Deployment {
    #[serde(default)]
    pub kind: WorkloadKind,
    /// Memory limit and request, MiB.
    #[cfg_attr(feature = "ssr", schemars(range(min = 16, max = 65536)))]
    #[serde(rename = "memoryMB", default = "defaults::memory_mb")]
    pub memory_mb: u32,
    /// CPU in percent of one core: 200 is two cores, 50 is 500m.
    #[cfg_attr(feature = "ssr", schemars(range(min = 1, max = 6400)))]
    #[serde(default = "defaults::cpu_pct")]
    pub cpu_pct: u32,
    /// Replicas.
    #[cfg_attr(feature = "ssr", schemars(range(min = 1, max = 100)))]
    #[serde(default = "defaults::instances")]
    pub instances: u32,
    #[serde(default)]
    pub probes: Probes,
}

impl Default for Deployment {
    fn default() -> Self {
        Deployment {
            kind: WorkloadKind::Deployment,
            memory_mb: defaults::MEMORY_MB,
            cpu_pct: defaults::CPU_PCT,
            instances: defaults::INSTANCES,
            probes: Probes::default(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Probes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<Probe>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(JsonSchema))]
pub enum Protocol {
    #[default]
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "TCP")]
    Tcp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(
    feature = "ssr",
    schemars(extend(
        "if" = {"properties": {"protocol": {"const": "TCP"}}, "required": ["protocol"]},
        "then" = {"not": {"required": ["path"]}}
    ))
)]
pub struct Probe {
    #[serde(default)]
    pub protocol: Protocol,
    #[cfg_attr(feature = "ssr", schemars(range(min = 1, max = 65535)))]
    pub port: u16,
    /// HTTP only; `/` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[cfg_attr(feature = "ssr", schemars(range(min = 1, max = 300)))]
    #[serde(default = "defaults::timeout_seconds")]
    pub timeout_seconds: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(
    feature = "ssr",
    schemars(extend("allOf" = [{"properties": {"protocol": {"const": "HTTP"}}}]))
)]
pub struct IngressRule {
    /// The Service port.
    #[cfg_attr(feature = "ssr", schemars(range(min = 1, max = 65535)))]
    pub port: u16,
    /// The pod's port.
    #[cfg_attr(feature = "ssr", schemars(range(min = 1, max = 65535)))]
    pub container_port: u16,
    /// Ingress routes HTTP only.
    #[serde(default)]
    pub protocol: Protocol,
    /// The routed path on the shared host; starts with `/`.
    #[cfg_attr(feature = "ssr", schemars(pattern(r"^/")))]
    pub path_prefix: String,
    /// What the prefix is rewritten to before the pod sees it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix_rewrite: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IntegrationTests {
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schemars(with = "schema::Variables"))]
    pub env: BTreeMap<String, String>,
    /// Variable → name of the secret group holding it (the key in the group is
    /// the variable's name).
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
}

/// A Job that runs exactly once per pushed commit in each environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", schemars(extend("additionalProperties" = false)))]
pub struct Job {
    #[serde(flatten)]
    pub common: Common,
    #[cfg_attr(feature = "ssr", schemars(range(min = 16, max = 65536)))]
    #[serde(rename = "memoryMB", default = "defaults::memory_mb")]
    pub memory_mb: u32,
    #[cfg_attr(feature = "ssr", schemars(range(min = 1, max = 6400)))]
    #[serde(default = "defaults::cpu_pct")]
    pub cpu_pct: u32,
}

/// A CronJob, (re)applied with every commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(JsonSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", schemars(extend("additionalProperties" = false)))]
pub struct Cronjob {
    #[serde(flatten)]
    pub common: Common,
    /// A five-field cron expression, or one of @hourly, @daily, @weekly, @monthly, @yearly.
    #[cfg_attr(
        feature = "ssr",
        schemars(pattern(
            r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|\S+(\s+\S+){4})$"
        ))
    )]
    pub schedule: String,
    #[cfg_attr(feature = "ssr", schemars(range(min = 0, max = 100)))]
    #[serde(default = "defaults::failed_jobs_history_limit")]
    pub failed_jobs_history_limit: u32,
    #[cfg_attr(feature = "ssr", schemars(range(min = 0, max = 100)))]
    #[serde(default = "defaults::successful_jobs_history_limit")]
    pub successful_jobs_history_limit: u32,
    #[cfg_attr(feature = "ssr", schemars(range(min = 16, max = 65536)))]
    #[serde(rename = "memoryMB", default = "defaults::memory_mb")]
    pub memory_mb: u32,
    #[cfg_attr(feature = "ssr", schemars(range(min = 1, max = 6400)))]
    #[serde(default = "defaults::cpu_pct")]
    pub cpu_pct: u32,
}

/// Types that only describe the file's spelling in the JSON Schema.
#[cfg(feature = "ssr")]
mod schema {
    use std::collections::BTreeMap;

    use schemars::JsonSchema;

    /// Environment → its variables; environment names become Kubernetes names.
    #[derive(JsonSchema)]
    #[serde(transparent)]
    #[schemars(extend("propertyNames" = {"pattern": "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"}))]
    #[allow(dead_code)]
    pub struct Environments(BTreeMap<String, Option<Variables>>);

    /// Environment variables by name: letters, digits and `_`, not starting with a digit.
    #[derive(JsonSchema)]
    #[serde(transparent)]
    #[schemars(extend("propertyNames" = {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}))]
    #[allow(dead_code)]
    pub struct Variables(BTreeMap<String, VariableValue>);

    /// A variable's value: written as text, number or boolean, set as text.
    #[derive(JsonSchema)]
    #[serde(untagged)]
    #[allow(dead_code)]
    pub enum VariableValue {
        Text(String),
        Number(f64),
        Boolean(bool),
    }
}

/// The reference's defaults and the portal's limits, in one place.
pub mod defaults {
    use std::ops::RangeInclusive;

    pub const MEMORY_MB: u32 = 256;
    pub const CPU_PCT: u32 = 100;
    pub const INSTANCES: u32 = 1;
    /// Kubernetes' own default probe timeout.
    pub const TIMEOUT_SECONDS: u32 = 1;
    /// Kubernetes' own CronJob defaults.
    pub const FAILED_JOBS_HISTORY_LIMIT: u32 = 1;
    pub const SUCCESSFUL_JOBS_HISTORY_LIMIT: u32 = 3;
    /// The port of the private Service when nothing else names one.
    pub const SERVICE_PORT: u16 = 8080;

    pub const MEMORY_MB_RANGE: RangeInclusive<i64> = 16..=65_536;
    pub const CPU_PCT_RANGE: RangeInclusive<i64> = 1..=6_400;
    pub const INSTANCES_RANGE: RangeInclusive<i64> = 1..=100;
    pub const PORT_RANGE: RangeInclusive<i64> = 1..=65_535;
    pub const TIMEOUT_SECONDS_RANGE: RangeInclusive<i64> = 1..=300;
    pub const HISTORY_LIMIT_RANGE: RangeInclusive<i64> = 0..=100;

    pub(super) fn memory_mb() -> u32 {
        MEMORY_MB
    }
    pub(super) fn cpu_pct() -> u32 {
        CPU_PCT
    }
    pub(super) fn instances() -> u32 {
        INSTANCES
    }
    pub(super) fn timeout_seconds() -> u32 {
        TIMEOUT_SECONDS
    }
    pub(super) fn failed_jobs_history_limit() -> u32 {
        FAILED_JOBS_HISTORY_LIMIT
    }
    pub(super) fn successful_jobs_history_limit() -> u32 {
        SUCCESSFUL_JOBS_HISTORY_LIMIT
    }
}
