//! How a microservice runs and is reached: its deployment (kind, size,
//! instances), its probes, and its ingress routes.

use super::*;

impl Checker {
    pub(super) fn deployment(&mut self, node: &Node, path: &str) -> Deployment {
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

    pub(super) fn probes(&mut self, node: &Node, path: &str) -> Probes {
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

    pub(super) fn probe(&mut self, node: &Node, path: &str) -> Option<Probe> {
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

    pub(super) fn protocol(&mut self, fields: &Entries<'_>, path: &str) -> Protocol {
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

    pub(super) fn required_port(
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

    pub(super) fn ingress(
        &mut self,
        node: &Node,
        path: &str,
        microservice: &str,
    ) -> Vec<IngressRule> {
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
    pub(super) fn path_prefix(
        &mut self,
        node: &Node,
        path: &str,
        microservice: &str,
    ) -> Option<String> {
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
}
