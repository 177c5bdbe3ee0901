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

mod integration_tests;
mod settings;
mod workloads;

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
    fn a_nested_variable_value_is_reported_at_the_variable() {
        let checked = check(
            "jobs:\n  j:\n    environmentConfiguration:\n      dev:\n        GREETING:\n          text: hello\n        LIST:\n          - a\n",
        );
        let lines: Vec<(usize, String)> = checked
            .errors()
            .map(|problem| (problem.position.line, problem.path.clone()))
            .collect();
        assert_eq!(
            lines,
            [
                (
                    5,
                    "jobs.j.environmentConfiguration.dev.GREETING".to_string()
                ),
                (7, "jobs.j.environmentConfiguration.dev.LIST".to_string())
            ]
        );
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
