//! A microservice's integration tests: which environments run them, with
//! which variables and secret groups.

use super::*;

impl Checker {
    pub(super) fn integration_tests(
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

    pub(super) fn integration_test_settings(
        &mut self,
        node: &Node,
        path: &str,
    ) -> IntegrationTests {
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
}
