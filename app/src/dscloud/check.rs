//! Parsing and validation of a `dscloud.yaml`: every problem at once, each with
//! its line, column and path, and the typed model when there is no error.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::cron::schedule_problem;
use super::fields::{
    Entries, Problems, choice, fixed_mapping, integer, is_null, join, list, scalar_as_written,
    sequence, text, user_mapping,
};
use super::model::{
    Common, Cronjob, Deployment, DscloudFile, IngressRule, IntegrationTests, Job, Microservice,
    Probe, Probes, Protocol, WorkloadKind, defaults,
};
use super::names::{dns_label_problem, variable_problem};
use super::problem::{Position, Problem};
use super::suggest::closest;
use super::yaml::{self, Node};

const TOP_KEYS: &[&str] = &["microservices", "jobs", "cronjobs"];
const MICROSERVICE_KEYS: &[&str] = &[
    "description",
    "environmentConfiguration",
    "secretValues",
    "deployment",
    "ingress",
    "integrationTests",
];
const JOB_KEYS: &[&str] = &[
    "description",
    "environmentConfiguration",
    "secretValues",
    "memoryMB",
    "cpuPct",
];
const CRONJOB_KEYS: &[&str] = &[
    "description",
    "environmentConfiguration",
    "secretValues",
    "schedule",
    "failedJobsHistoryLimit",
    "successfulJobsHistoryLimit",
    "memoryMB",
    "cpuPct",
];
const DEPLOYMENT_KEYS: &[&str] = &["kind", "memoryMB", "cpuPct", "instances", "probes"];
const PROBES_KEYS: &[&str] = &["readiness", "liveness"];
const PROBE_KEYS: &[&str] = &["protocol", "port", "path", "timeoutSeconds"];
const INGRESS_KEYS: &[&str] = &[
    "port",
    "containerPort",
    "protocol",
    "pathPrefix",
    "pathPrefixRewrite",
];
const INTEGRATION_TEST_KEYS: &[&str] = &["env", "secrets"];

const MEMORY: &str = "MiB";
const CPU: &str = "percent of one core: 100 is one core";
const PORT: &str = "a TCP port";

/// The outcome of checking a file: the model, only when there is no error,
/// and every problem found (warnings too), in the order of the file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Checked {
    pub file: Option<DscloudFile>,
    pub problems: Vec<Problem>,
}

impl Checked {
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|problem| problem.is_error())
    }
}

/// Checks a whole `dscloud.yaml`. Never panics, whatever the text.
pub fn check(text: &str) -> Checked {
    let root = match yaml::parse(text) {
        Ok(root) => root,
        Err(problem) => {
            return Checked {
                file: None,
                problems: vec![problem],
            };
        }
    };
    let mut checker = Checker::default();
    let file = match &root {
        Some(node) if !is_null(node) => checker.file(node),
        _ => DscloudFile::default(),
    };
    checker.cross_checks(&file);
    if file.microservices.is_empty() && file.jobs.is_empty() && file.cronjobs.is_empty() {
        checker.problems.warning(
            Position { line: 1, column: 1 },
            "",
            "this file defines no microservices, jobs or cronjobs, so it deploys nothing",
        );
    }
    let mut problems = checker.problems.0;
    problems.sort_by_key(|problem| (problem.position, problem.severity));
    let has_errors = problems.iter().any(Problem::is_error);
    Checked {
        file: (!has_errors).then_some(file),
        problems,
    }
}

/// Where each component was defined, for the checks that span the file.
struct Placed {
    kind: &'static str,
    name: String,
    position: Position,
}

#[derive(Default)]
struct Checker {
    problems: Problems,
    components: Vec<Placed>,
    /// Normalised ingress prefix → (microservice, line), first come first served.
    prefixes: BTreeMap<String, (String, usize)>,
}

impl Checker {
    fn file(&mut self, node: &Node) -> DscloudFile {
        let Some(top) = fixed_mapping(&mut self.problems, node, "", TOP_KEYS, top_level_hint)
        else {
            return DscloudFile::default();
        };
        DscloudFile {
            microservices: self.components(&top, "microservices", Self::microservice),
            jobs: self.components(&top, "jobs", Self::job),
            cronjobs: self.components(&top, "cronjobs", Self::cronjob),
        }
    }

    fn components<T>(
        &mut self,
        top: &Entries<'_>,
        kind: &'static str,
        read: fn(&mut Self, &Node, &str, &str, Position) -> T,
    ) -> BTreeMap<String, T> {
        let mut components = BTreeMap::new();
        let Some(node) = top.get(kind) else {
            return components;
        };
        let Some(entries) = user_mapping(&mut self.problems, node, kind, kind) else {
            return components;
        };
        for entry in entries.entries {
            let path = join(kind, entry.key);
            if let Some(problem) = dns_label_problem(entry.key) {
                self.problems.error(entry.key_node.position, &path, problem);
            }
            self.components.push(Placed {
                kind,
                name: entry.key.to_string(),
                position: entry.key_node.position,
            });
            let component = read(self, entry.value, &path, entry.key, entry.key_node.position);
            components.insert(entry.key.to_string(), component);
        }
        components
    }

    fn microservice(&mut self, node: &Node, path: &str, name: &str, at: Position) -> Microservice {
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            self.problems.error(
                at,
                path,
                format!("`{name}` starts with a digit; a microservice's name is also its Service's name, which must start with a letter"),
            );
        }
        let fields = self.component_fields(node, path, MICROSERVICE_KEYS, microservice_hint);
        let common = self.common(fields.as_ref(), path, name, at);
        let Some(fields) = fields else {
            return Microservice {
                common,
                deployment: Deployment::default(),
                ingress: Vec::new(),
                integration_tests: BTreeMap::new(),
            };
        };
        let deployment = match fields.get("deployment") {
            Some(node) => self.deployment(node, &join(path, "deployment")),
            None => Deployment::default(),
        };
        let ingress = match fields.get("ingress") {
            Some(node) => self.ingress(node, &join(path, "ingress"), name),
            None => Vec::new(),
        };
        let integration_tests = match fields.get("integrationTests") {
            Some(node) => self.integration_tests(node, &join(path, "integrationTests"), &common),
            None => BTreeMap::new(),
        };
        Microservice {
            common,
            deployment,
            ingress,
            integration_tests,
        }
    }

    fn job(&mut self, node: &Node, path: &str, name: &str, at: Position) -> Job {
        let fields = self.component_fields(node, path, JOB_KEYS, |key| job_hint(key, "a job"));
        let common = self.common(fields.as_ref(), path, name, at);
        let (memory_mb, cpu_pct) = self.resources(fields.as_ref(), path);
        Job {
            common,
            memory_mb,
            cpu_pct,
        }
    }

    fn cronjob(&mut self, node: &Node, path: &str, name: &str, at: Position) -> Cronjob {
        let fields =
            self.component_fields(node, path, CRONJOB_KEYS, |key| job_hint(key, "a cronjob"));
        let common = self.common(fields.as_ref(), path, name, at);
        let (memory_mb, cpu_pct) = self.resources(fields.as_ref(), path);
        let schedule = match fields.as_ref().map(|fields| fields.get("schedule")) {
            Some(Some(node)) => {
                let schedule_path = join(path, "schedule");
                match text(
                    &mut self.problems,
                    node,
                    &schedule_path,
                    "a cron schedule such as \"*/10 * * * *\"",
                ) {
                    Some(schedule) => {
                        if let Some(problem) = schedule_problem(schedule) {
                            self.problems.error(node.position, &schedule_path, problem);
                        }
                        schedule.trim().to_string()
                    }
                    None => String::new(),
                }
            }
            Some(None) => {
                self.problems.error(
                    at,
                    path,
                    "a cronjob needs a `schedule`, a cron expression such as \"*/10 * * * *\"",
                );
                String::new()
            }
            // Not a mapping at all: already reported.
            None => String::new(),
        };
        let failed_jobs_history_limit = self.history_limit(
            fields.as_ref(),
            path,
            "failedJobsHistoryLimit",
            defaults::FAILED_JOBS_HISTORY_LIMIT,
        );
        let successful_jobs_history_limit = self.history_limit(
            fields.as_ref(),
            path,
            "successfulJobsHistoryLimit",
            defaults::SUCCESSFUL_JOBS_HISTORY_LIMIT,
        );
        Cronjob {
            common,
            schedule,
            failed_jobs_history_limit,
            successful_jobs_history_limit,
            memory_mb,
            cpu_pct,
        }
    }

    /// A component's own mapping; `name:` with nothing after it is a component with every default.
    fn component_fields<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        allowed: &[&str],
        hint: impl Fn(&str) -> Option<String>,
    ) -> Option<Entries<'n>> {
        if is_null(node) {
            return Some(Entries {
                position: node.position,
                entries: Vec::new(),
            });
        }
        fixed_mapping(&mut self.problems, node, path, allowed, hint)
    }

    fn common(
        &mut self,
        fields: Option<&Entries<'_>>,
        path: &str,
        name: &str,
        at: Position,
    ) -> Common {
        let Some(fields) = fields else {
            return Common::default();
        };
        let description = fields.get("description").and_then(|node| {
            text(
                &mut self.problems,
                node,
                &join(path, "description"),
                "a text",
            )
            .map(str::to_string)
        });
        let environment_configuration = match fields.get("environmentConfiguration") {
            Some(node) => {
                self.environment_configuration(node, &join(path, "environmentConfiguration"))
            }
            None => BTreeMap::new(),
        };
        if environment_configuration.is_empty() {
            self.problems.warning(
                at,
                path,
                format!("`{name}` lists no environments under `environmentConfiguration`, so it is deployed nowhere"),
            );
        }
        let secret_values = match fields.get("secretValues") {
            Some(node) => self.secret_values(
                node,
                &join(path, "secretValues"),
                &environment_configuration,
            ),
            None => Vec::new(),
        };
        Common {
            description,
            environment_configuration,
            secret_values,
        }
    }

    fn environment_configuration(
        &mut self,
        node: &Node,
        path: &str,
    ) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut environments = BTreeMap::new();
        let Some(entries) = user_mapping(
            &mut self.problems,
            node,
            path,
            "environments to their variables",
        ) else {
            return environments;
        };
        for entry in entries.entries {
            let environment_path = join(path, entry.key);
            if let Some(problem) = dns_label_problem(entry.key) {
                self.problems
                    .error(entry.key_node.position, &environment_path, problem);
            }
            let variables = self.variables(entry.value, &environment_path);
            environments.insert(entry.key.to_string(), variables);
        }
        environments
    }

    /// Variable → value; `dev:` alone is an environment with no variables.
    fn variables(&mut self, node: &Node, path: &str) -> BTreeMap<String, String> {
        let mut variables = BTreeMap::new();
        if is_null(node) {
            return variables;
        }
        let Some(entries) = user_mapping(&mut self.problems, node, path, "variables to values")
        else {
            return variables;
        };
        for entry in entries.entries {
            let variable_path = join(path, entry.key);
            if let Some(problem) = variable_problem(entry.key) {
                self.problems
                    .error(entry.key_node.position, &variable_path, problem);
            }
            if let Some(value) = scalar_as_written(&mut self.problems, entry.value, &variable_path)
            {
                variables.insert(entry.key.to_string(), value.to_string());
            }
        }
        variables
    }

    fn secret_values(
        &mut self,
        node: &Node,
        path: &str,
        environments: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> Vec<String> {
        let mut names: Vec<(String, usize)> = Vec::new();
        let Some(items) = sequence(&mut self.problems, node, path, "variable names") else {
            return Vec::new();
        };
        for (index, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{index}]");
            let Some(name) = text(&mut self.problems, item, &item_path, "a variable name") else {
                continue;
            };
            if let Some(problem) = variable_problem(name) {
                self.problems.error(item.position, &item_path, problem);
                continue;
            }
            if let Some((_, line)) = names.iter().find(|(seen, _)| seen == name) {
                self.problems.error(
                    item.position,
                    &item_path,
                    format!("`{name}` is listed twice (first at line {line}); keep one"),
                );
                continue;
            }
            if let Some(environment) = environments
                .iter()
                .find(|(_, variables)| variables.contains_key(name))
            {
                self.problems.error(
                    item.position,
                    &item_path,
                    format!(
                        "`{name}` is also set in `environmentConfiguration.{}`; a variable comes either from the configuration or from a secret, not both",
                        environment.0
                    ),
                );
                continue;
            }
            names.push((name.to_string(), item.position.line));
        }
        names.into_iter().map(|(name, _)| name).collect()
    }

    fn resources(&mut self, fields: Option<&Entries<'_>>, path: &str) -> (u32, u32) {
        let memory = fields
            .and_then(|fields| fields.get("memoryMB"))
            .and_then(|node| {
                integer(
                    &mut self.problems,
                    node,
                    &join(path, "memoryMB"),
                    defaults::MEMORY_MB_RANGE,
                    MEMORY,
                )
            });
        let cpu = fields
            .and_then(|fields| fields.get("cpuPct"))
            .and_then(|node| {
                integer(
                    &mut self.problems,
                    node,
                    &join(path, "cpuPct"),
                    defaults::CPU_PCT_RANGE,
                    CPU,
                )
            });
        (
            memory.map_or(defaults::MEMORY_MB, to_u32),
            cpu.map_or(defaults::CPU_PCT, to_u32),
        )
    }

    fn history_limit(
        &mut self,
        fields: Option<&Entries<'_>>,
        path: &str,
        key: &str,
        default: u32,
    ) -> u32 {
        fields
            .and_then(|fields| fields.get(key))
            .and_then(|node| {
                integer(
                    &mut self.problems,
                    node,
                    &join(path, key),
                    defaults::HISTORY_LIMIT_RANGE,
                    "finished Jobs kept",
                )
            })
            .map_or(default, to_u32)
    }

    fn deployment(&mut self, node: &Node, path: &str) -> Deployment {
        let mut deployment = Deployment::default();
        let Some(fields) = fixed_mapping(
            &mut self.problems,
            node,
            path,
            DEPLOYMENT_KEYS,
            deployment_hint,
        ) else {
            return deployment;
        };
        if let Some(node) = fields.get("kind") {
            match choice(
                &mut self.problems,
                node,
                &join(path, "kind"),
                &["Deployment", "StatefulSet"],
            ) {
                Some("StatefulSet") => deployment.kind = WorkloadKind::StatefulSet,
                _ => deployment.kind = WorkloadKind::Deployment,
            }
        }
        let (memory_mb, cpu_pct) = self.resources(Some(&fields), path);
        deployment.memory_mb = memory_mb;
        deployment.cpu_pct = cpu_pct;
        if let Some(node) = fields.get("instances") {
            let instances = integer(
                &mut self.problems,
                node,
                &join(path, "instances"),
                defaults::INSTANCES_RANGE,
                "replicas",
            );
            deployment.instances = instances.map_or(defaults::INSTANCES, to_u32);
        }
        if let Some(node) = fields.get("probes") {
            deployment.probes = self.probes(node, &join(path, "probes"));
        }
        deployment
    }

    fn probes(&mut self, node: &Node, path: &str) -> Probes {
        let Some(fields) = fixed_mapping(&mut self.problems, node, path, PROBES_KEYS, |_| None)
        else {
            return Probes::default();
        };
        Probes {
            readiness: fields
                .get("readiness")
                .and_then(|node| self.probe(node, &join(path, "readiness"))),
            liveness: fields
                .get("liveness")
                .and_then(|node| self.probe(node, &join(path, "liveness"))),
        }
    }

    fn probe(&mut self, node: &Node, path: &str) -> Option<Probe> {
        let fields = fixed_mapping(&mut self.problems, node, path, PROBE_KEYS, |_| None)?;
        let protocol = self.protocol(&fields, path);
        let port = self.required_port(&fields, path, "port", "the port the probe connects to");
        let probe_path = fields.get("path").and_then(|node| {
            let path_path = join(path, "path");
            let value = text(&mut self.problems, node, &path_path, "an HTTP path such as /health")?;
            if protocol == Protocol::Tcp {
                self.problems.error(
                    node.position,
                    &path_path,
                    "a TCP probe only opens a connection and has no `path`; remove it or use `protocol: HTTP`",
                );
                return None;
            }
            if !value.starts_with('/') {
                self.problems.error(
                    node.position,
                    &path_path,
                    format!("`{value}` must start with `/`, e.g. `/{value}`"),
                );
                return None;
            }
            Some(value.to_string())
        });
        let timeout_seconds = fields
            .get("timeoutSeconds")
            .and_then(|node| {
                integer(
                    &mut self.problems,
                    node,
                    &join(path, "timeoutSeconds"),
                    defaults::TIMEOUT_SECONDS_RANGE,
                    "seconds",
                )
            })
            .map_or(defaults::TIMEOUT_SECONDS, to_u32);
        Some(Probe {
            protocol,
            port: port?,
            path: probe_path,
            timeout_seconds,
        })
    }

    fn protocol(&mut self, fields: &Entries<'_>, path: &str) -> Protocol {
        match fields.get("protocol") {
            Some(node) => match choice(
                &mut self.problems,
                node,
                &join(path, "protocol"),
                &["HTTP", "TCP"],
            ) {
                Some("TCP") => Protocol::Tcp,
                _ => Protocol::Http,
            },
            None => Protocol::Http,
        }
    }

    fn required_port(
        &mut self,
        fields: &Entries<'_>,
        path: &str,
        key: &str,
        what: &str,
    ) -> Option<u16> {
        match fields.get(key) {
            Some(node) => integer(
                &mut self.problems,
                node,
                &join(path, key),
                defaults::PORT_RANGE,
                PORT,
            )
            .and_then(|port| u16::try_from(port).ok()),
            None => {
                self.problems
                    .error(fields.position, path, format!("`{key}` is missing: {what}"));
                None
            }
        }
    }

    fn ingress(&mut self, node: &Node, path: &str, microservice: &str) -> Vec<IngressRule> {
        let Some(items) = sequence(&mut self.problems, node, path, "ingress rules") else {
            return Vec::new();
        };
        let mut rules = Vec::new();
        let mut service_ports: Vec<(u16, usize)> = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let rule_path = format!("{path}[{index}]");
            let Some(fields) =
                fixed_mapping(&mut self.problems, item, &rule_path, INGRESS_KEYS, |_| None)
            else {
                continue;
            };
            let port = self.required_port(&fields, &rule_path, "port", "the Service port");
            let container_port =
                self.required_port(&fields, &rule_path, "containerPort", "the pod's port");
            if let Some(node) = fields.get("protocol") {
                let protocol_path = join(&rule_path, "protocol");
                if choice(&mut self.problems, node, &protocol_path, &["HTTP", "TCP"]) == Some("TCP")
                {
                    self.problems.error(
                        node.position,
                        &protocol_path,
                        "an ingress routes HTTP only; without `ingress`, the microservice gets a private Service that carries TCP",
                    );
                }
            }
            let path_prefix = match fields.get("pathPrefix") {
                Some(node) => self.path_prefix(node, &join(&rule_path, "pathPrefix"), microservice),
                None => {
                    self.problems.error(
                        fields.position,
                        &rule_path,
                        "`pathPrefix` is missing: the path routed to this microservice, such as /foo-api/",
                    );
                    None
                }
            };
            let path_prefix_rewrite = fields.get("pathPrefixRewrite").and_then(|node| {
                let rewrite_path = join(&rule_path, "pathPrefixRewrite");
                let value = text(&mut self.problems, node, &rewrite_path, "a path such as /")?;
                if value.starts_with('/') {
                    Some(value.to_string())
                } else {
                    self.problems.error(
                        node.position,
                        &rewrite_path,
                        format!("`{value}` must start with `/`"),
                    );
                    None
                }
            });
            if let Some(port) = port {
                if let Some((_, line)) = service_ports.iter().find(|(seen, _)| *seen == port) {
                    let at = fields
                        .get("port")
                        .map_or(fields.position, |node| node.position);
                    self.problems.error(
                        at,
                        &join(&rule_path, "port"),
                        format!("Service port {port} is already used by the rule at line {line}; each rule needs its own port"),
                    );
                } else {
                    service_ports.push((port, item.position.line));
                }
            }
            if let (Some(port), Some(container_port), Some(path_prefix)) =
                (port, container_port, path_prefix)
            {
                rules.push(IngressRule {
                    port,
                    container_port,
                    protocol: Protocol::Http,
                    path_prefix,
                    path_prefix_rewrite,
                });
            }
        }
        rules
    }

    /// A prefix starts with `/` and routes to one place in the whole app.
    fn path_prefix(&mut self, node: &Node, path: &str, microservice: &str) -> Option<String> {
        let value = text(&mut self.problems, node, path, "a path such as /foo-api/")?;
        if !value.starts_with('/') {
            self.problems.error(
                node.position,
                path,
                format!("`{value}` must start with `/`, e.g. `/{value}`"),
            );
            return None;
        }
        let normalised = format!("{}/", value.trim_end_matches('/'));
        if let Some((owner, line)) = self.prefixes.get(&normalised) {
            let owner = if owner == microservice {
                "this microservice".to_string()
            } else {
                format!("`{owner}`")
            };
            self.problems.error(
                node.position,
                path,
                format!("pathPrefix `{value}` is already routed to {owner} (line {line}); a prefix routes to one place in the app"),
            );
            return None;
        }
        self.prefixes
            .insert(normalised, (microservice.to_string(), node.position.line));
        Some(value.to_string())
    }

    fn integration_tests(
        &mut self,
        node: &Node,
        path: &str,
        common: &Common,
    ) -> BTreeMap<String, IntegrationTests> {
        let mut tests = BTreeMap::new();
        let Some(entries) = user_mapping(
            &mut self.problems,
            node,
            path,
            "environments to their test settings",
        ) else {
            return tests;
        };
        let deployed: Vec<&str> = common.environments().collect();
        for entry in entries.entries {
            let environment_path = join(path, entry.key);
            if !common.deploys_to(entry.key) {
                let mut message = format!(
                    "integration tests for `{}`, but this microservice is not deployed there (it is deployed to: {}); add `{}` to `environmentConfiguration`",
                    entry.key,
                    if deployed.is_empty() {
                        "nowhere".to_string()
                    } else {
                        list(&deployed)
                    },
                    entry.key
                );
                if let Some(meant) = closest(entry.key, &deployed) {
                    message = format!(
                        "integration tests for `{}`, but this microservice is not deployed there; did you mean `{meant}`? (it is deployed to: {})",
                        entry.key,
                        list(&deployed)
                    );
                }
                self.problems
                    .error(entry.key_node.position, &environment_path, message);
            }
            let settings = self.integration_test_settings(entry.value, &environment_path);
            tests.insert(entry.key.to_string(), settings);
        }
        tests
    }

    fn integration_test_settings(&mut self, node: &Node, path: &str) -> IntegrationTests {
        if is_null(node) {
            return IntegrationTests::default();
        }
        let Some(fields) = fixed_mapping(
            &mut self.problems,
            node,
            path,
            INTEGRATION_TEST_KEYS,
            |_| None,
        ) else {
            return IntegrationTests::default();
        };
        let env = match fields.get("env") {
            Some(node) => self.variables(node, &join(path, "env")),
            None => BTreeMap::new(),
        };
        let mut secrets = BTreeMap::new();
        if let Some(node) = fields.get("secrets") {
            let secrets_path = join(path, "secrets");
            if let Some(entries) = user_mapping(
                &mut self.problems,
                node,
                &secrets_path,
                "variables to secret groups",
            ) {
                for entry in entries.entries {
                    let variable_path = join(&secrets_path, entry.key);
                    if let Some(problem) = variable_problem(entry.key) {
                        self.problems
                            .error(entry.key_node.position, &variable_path, problem);
                    }
                    if env.contains_key(entry.key) {
                        self.problems.error(
                            entry.key_node.position,
                            &variable_path,
                            format!(
                                "`{}` is also set in `env`; a variable comes from one place",
                                entry.key
                            ),
                        );
                    }
                    let Some(group) = text(
                        &mut self.problems,
                        entry.value,
                        &variable_path,
                        "the name of a secret group",
                    ) else {
                        continue;
                    };
                    if let Some(problem) = dns_label_problem(group) {
                        self.problems
                            .error(entry.value.position, &variable_path, problem);
                        continue;
                    }
                    secrets.insert(entry.key.to_string(), group.to_string());
                }
            }
        }
        IntegrationTests { env, secrets }
    }

    /// Rules that need the whole file: one component per name, and the names
    /// the integration-test convention reserves.
    fn cross_checks(&mut self, file: &DscloudFile) {
        for (index, component) in self.components.iter().enumerate() {
            let path = join(component.kind, &component.name);
            if let Some(first) = self.components[..index]
                .iter()
                .find(|earlier| earlier.name == component.name && earlier.kind != component.kind)
            {
                self.problems.error(
                    component.position,
                    &path,
                    format!(
                        "`{}` is already a {} (line {}); a name is one sub-directory, so it names one component",
                        component.name,
                        singular(first.kind),
                        first.position.line
                    ),
                );
                continue;
            }
            if let Some(tested) = component.name.strip_suffix("-integration-tests")
                && file.microservices.contains_key(tested)
            {
                self.problems.error(
                    component.position,
                    &path,
                    format!(
                        "`{}` is the directory of `{tested}`'s integration tests (portal rule); give this component another name",
                        component.name
                    ),
                );
            }
        }
    }
}

fn singular(kind: &str) -> &str {
    kind.strip_suffix('s').unwrap_or(kind)
}

fn to_u32(number: i64) -> u32 {
    // Every range checked above lies within u32.
    u32::try_from(number).unwrap_or(u32::MAX)
}

fn top_level_hint(key: &str) -> Option<String> {
    match key {
        "description"
        | "environmentConfiguration"
        | "secretValues"
        | "deployment"
        | "ingress"
        | "integrationTests"
        | "schedule" => Some(format!(
            "`{key}` belongs to a component; put it under `microservices.<name>`, `jobs.<name>` or `cronjobs.<name>`"
        )),
        _ => None,
    }
}

fn microservice_hint(key: &str) -> Option<String> {
    match key {
        "memoryMB" | "cpuPct" | "instances" | "probes" | "kind" => {
            Some(format!("a microservice sets `{key}` under `deployment`"))
        }
        "schedule" => Some("only cronjobs have a `schedule`".to_string()),
        "replicas" => Some("the number of replicas is `deployment.instances`".to_string()),
        _ => None,
    }
}

fn job_hint(key: &str, kind: &str) -> Option<String> {
    match key {
        "deployment" | "ingress" | "integrationTests" | "instances" | "probes" => Some(format!(
            "only microservices have `{key}`; {kind} takes `memoryMB` and `cpuPct` directly"
        )),
        "schedule" => Some(
            "only cronjobs have a `schedule`; move this component under `cronjobs`".to_string(),
        ),
        _ => None,
    }
}

fn deployment_hint(key: &str) -> Option<String> {
    match key {
        "replicas" => Some("the number of replicas is `instances`".to_string()),
        "ingress" | "integrationTests" | "environmentConfiguration" | "secretValues" => {
            Some(format!(
                "`{key}` belongs to the microservice itself, next to `deployment`, not inside it"
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(text: &str) -> DscloudFile {
        let checked = check(text);
        let errors: Vec<String> = checked.errors().map(ToString::to_string).collect();
        assert!(errors.is_empty(), "{errors:?}");
        checked.file.unwrap_or_default()
    }

    #[test]
    fn a_component_without_options_gets_every_default() {
        let file = model("microservices:\n  hello:\n    environmentConfiguration:\n      dev:\n");
        let hello = &file.microservices["hello"];
        assert_eq!(hello.deployment, Deployment::default());
        assert_eq!(hello.deployment.memory_mb, 256);
        assert_eq!(hello.deployment.cpu_pct, 100);
        assert_eq!(hello.deployment.instances, 1);
        assert!(hello.common.deploys_to("dev"));
        assert!(hello.common.environment_configuration["dev"].is_empty());
    }

    #[test]
    fn variable_values_stay_as_written() {
        let file = model(
            "jobs:\n  j:\n    environmentConfiguration:\n      dev: {A: false, B: 1.50, C: '007', D: 0x1F, E: \"\"}\n",
        );
        let variables = &file.jobs["j"].common.environment_configuration["dev"];
        let values: Vec<&str> = variables.values().map(String::as_str).collect();
        assert_eq!(values, ["false", "1.50", "007", "0x1F", ""]);
    }

    #[test]
    fn probes_default_to_http_and_the_kubernetes_timeout() {
        let file = model(
            "microservices:\n  m:\n    environmentConfiguration: {dev: {}}\n    deployment:\n      probes:\n        readiness: {port: 8080}\n",
        );
        let probe = file.microservices["m"].deployment.probes.readiness.clone();
        assert_eq!(
            probe,
            Some(Probe {
                protocol: Protocol::Http,
                port: 8080,
                path: None,
                timeout_seconds: 1
            })
        );
    }

    #[test]
    fn warnings_do_not_stop_a_file() {
        let checked = check("jobs:\n  idle: {}\n");
        assert!(checked.file.is_some());
        assert_eq!(checked.problems.len(), 1);
        assert!(!checked.problems[0].is_error());
        let empty = check("");
        assert!(empty.file.is_some());
        assert_eq!(empty.problems[0].severity, super::super::Severity::Warning);
    }

    #[test]
    fn errors_come_in_file_order() {
        let checked = check("jobs:\n  b:\n    cpuPct: 0\n  a:\n    memoryMB: 1\n");
        let lines: Vec<usize> = checked
            .errors()
            .map(|problem| problem.position.line)
            .collect();
        assert_eq!(lines, [3, 5]);
        assert!(checked.file.is_none());
    }
}
