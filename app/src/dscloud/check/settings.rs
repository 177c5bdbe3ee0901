//! What a component gets per environment: variables, the secrets it reads,
//! memory and CPU, how many finished runs a job keeps.

use super::*;

impl Checker {
    pub(super) fn environment_configuration(
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
    pub(super) fn variables(&mut self, node: &Node, path: &str) -> BTreeMap<String, String> {
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
            if let Some(value) = scalar_as_written(&mut self.problems, &entry, &variable_path) {
                variables.insert(entry.key.to_string(), value.to_string());
            }
        }
        variables
    }

    pub(super) fn secret_values(
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

    pub(super) fn resources(&mut self, fields: Option<&Entries<'_>>, path: &str) -> (u32, u32) {
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

    pub(super) fn history_limit(
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
}
