//! What changed between two `dscloud.yaml` files, in lines people read:
//! components added or removed, variables, secret keys, resources,
//! instances, routes and schedules.

use std::collections::{BTreeMap, BTreeSet};

use crate::dscloud::{Common, DscloudFile};

/// The changes from `before` to `after`, in the files' order.
pub fn changes(before: &DscloudFile, after: &DscloudFile) -> Vec<String> {
    let mut lines = Vec::new();
    components(
        &mut lines,
        "microservice",
        &before.microservices,
        &after.microservices,
        |lines, name, old, new| {
            common(lines, name, &old.common, &new.common);
            let (a, b) = (&old.deployment, &new.deployment);
            number(lines, name, "instances", a.instances, b.instances);
            number(lines, name, "memory (MB)", a.memory_mb, b.memory_mb);
            number(lines, name, "CPU (%)", a.cpu_pct, b.cpu_pct);
            let routes = |rules: &[crate::dscloud::IngressRule]| -> BTreeSet<String> {
                rules
                    .iter()
                    .map(|rule| match &rule.path_prefix_rewrite {
                        Some(rewrite) => format!("{} → {rewrite}", rule.path_prefix),
                        None => rule.path_prefix.clone(),
                    })
                    .collect()
            };
            set(
                lines,
                name,
                "route",
                &routes(&old.ingress),
                &routes(&new.ingress),
            );
        },
    );
    components(
        &mut lines,
        "job",
        &before.jobs,
        &after.jobs,
        |lines, name, old, new| {
            common(lines, name, &old.common, &new.common);
            number(lines, name, "memory (MB)", old.memory_mb, new.memory_mb);
            number(lines, name, "CPU (%)", old.cpu_pct, new.cpu_pct);
        },
    );
    components(
        &mut lines,
        "cronjob",
        &before.cronjobs,
        &after.cronjobs,
        |lines, name, old, new| {
            common(lines, name, &old.common, &new.common);
            if old.schedule != new.schedule {
                lines.push(format!(
                    "{name}: schedule {} → {}",
                    old.schedule, new.schedule
                ));
            }
            number(lines, name, "memory (MB)", old.memory_mb, new.memory_mb);
            number(lines, name, "CPU (%)", old.cpu_pct, new.cpu_pct);
        },
    );
    lines
}

fn components<T>(
    lines: &mut Vec<String>,
    kind: &str,
    before: &BTreeMap<String, T>,
    after: &BTreeMap<String, T>,
    compare: impl Fn(&mut Vec<String>, &str, &T, &T),
) {
    for name in before.keys().filter(|name| !after.contains_key(*name)) {
        lines.push(format!("{kind} {name} removed"));
    }
    for (name, new) in after {
        match before.get(name) {
            None => lines.push(format!("{kind} {name} added")),
            Some(old) => compare(lines, name, old, new),
        }
    }
}

fn common(lines: &mut Vec<String>, name: &str, old: &Common, new: &Common) {
    let environments: BTreeSet<&String> = old
        .environment_configuration
        .keys()
        .chain(new.environment_configuration.keys())
        .collect();
    for environment in environments {
        let empty = BTreeMap::new();
        let a = old
            .environment_configuration
            .get(environment)
            .unwrap_or(&empty);
        let b = new
            .environment_configuration
            .get(environment)
            .unwrap_or(&empty);
        match (old.deploys_to(environment), new.deploys_to(environment)) {
            (false, true) => lines.push(format!("{name}: now deployed to {environment}")),
            (true, false) => lines.push(format!("{name}: no longer deployed to {environment}")),
            _ => {}
        }
        for (key, value) in b {
            match a.get(key) {
                None => lines.push(format!("{name} in {environment}: {key}={value} added")),
                Some(previous) if previous != value => {
                    lines.push(format!(
                        "{name} in {environment}: {key} {previous} → {value}"
                    ));
                }
                Some(_) => {}
            }
        }
        for key in a.keys().filter(|key| !b.contains_key(*key)) {
            lines.push(format!("{name} in {environment}: {key} removed"));
        }
    }
    let secrets =
        |common: &Common| -> BTreeSet<String> { common.secret_values.iter().cloned().collect() };
    set(lines, name, "secret key", &secrets(old), &secrets(new));
}

fn number(lines: &mut Vec<String>, name: &str, what: &str, old: u32, new: u32) {
    if old != new {
        lines.push(format!("{name}: {what} {old} → {new}"));
    }
}

fn set(
    lines: &mut Vec<String>,
    name: &str,
    what: &str,
    old: &BTreeSet<String>,
    new: &BTreeSet<String>,
) {
    for added in new.difference(old) {
        lines.push(format!("{name}: {what} {added} added"));
    }
    for removed in old.difference(new) {
        lines.push(format!("{name}: {what} {removed} removed"));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::dscloud::check;

    fn file(text: &str) -> DscloudFile {
        check(text).file.unwrap()
    }

    #[test]
    fn what_changed_is_said_component_by_component() {
        let before = file(
            "microservices:\n  api:\n    environmentConfiguration:\n      dev:\n        LOG: debug\n        OLD: x\n    secretValues:\n      - TOKEN\njobs:\n  migrate: {}\n",
        );
        let after = file(
            "microservices:\n  api:\n    environmentConfiguration:\n      dev:\n        LOG: info\n      prod:\n        LOG: warn\n    secretValues:\n      - PASSWORD\n    deployment:\n      instances: 3\ncronjobs:\n  nightly:\n    schedule: \"0 3 * * *\"\n",
        );
        let lines = changes(&before, &after);
        for expected in [
            "api: now deployed to prod",
            "api in dev: LOG debug → info",
            "api in dev: OLD removed",
            "api in prod: LOG=warn added",
            "api: secret key PASSWORD added",
            "api: secret key TOKEN removed",
            "api: instances 1 → 3",
            "job migrate removed",
            "cronjob nightly added",
        ] {
            assert!(
                lines.iter().any(|line| line == expected),
                "{expected:?} not in {lines:#?}"
            );
        }
        assert!(changes(&after, &after).is_empty());
    }
}
