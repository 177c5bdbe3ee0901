//! Role-based access control, evaluated as Kubernetes' RBAC authorizer does,
//! for requests that come through [`crate::Sandbox::router_as`]: an identity
//! (a ServiceAccount, say) whose every request is checked against the
//! Roles, ClusterRoles and their bindings stored in the sandbox at that
//! moment. A request they do not allow is answered 403 and noted
//! ([`crate::Sandbox::denied`]), so a test can list what a set of roles
//! lacks. Requests through the plain router act as a cluster admin.
//!
//! Covered: verbs, API groups, resources and `resource/subresource`,
//! `resourceNames`, the `*` wildcards, bindings to users, groups and
//! ServiceAccounts, RoleBindings that refer to a ClusterRole (its rules in
//! that namespace only), and the `bind` check on creating a binding.
//! Not covered: aggregated ClusterRoles, non-resource URLs (discovery is
//! open to everyone, as `system:discovery` makes it), `escalate`.

use axum::http::Method;
use serde_json::Value;

/// Who is asking: a user name and its groups, as an authenticator gives them.
#[derive(Clone, Debug)]
pub struct Identity {
    pub user: String,
    pub groups: Vec<String>,
}

impl Identity {
    /// A ServiceAccount, with the groups Kubernetes gives its tokens.
    pub fn service_account(namespace: &str, name: &str) -> Identity {
        Identity {
            user: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".to_string(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".to_string(),
            ],
        }
    }

    fn is(&self, subject: &Value) -> bool {
        let name = subject["name"].as_str().unwrap_or_default();
        match subject["kind"].as_str() {
            Some("ServiceAccount") => {
                let namespace = subject["namespace"].as_str().unwrap_or_default();
                self.user == format!("system:serviceaccount:{namespace}:{name}")
            }
            Some("User") => self.user == name,
            Some("Group") => self.groups.iter().any(|group| group == name),
            _ => false,
        }
    }
}

/// What a request asks to do, in RBAC's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attributes {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl Attributes {
    /// The verb Kubernetes derives from the method, whether a name is given
    /// and the `watch` parameter.
    pub fn verb_of(method: &Method, named: bool, watch: bool) -> &'static str {
        match *method {
            Method::GET | Method::HEAD if watch => "watch",
            Method::GET | Method::HEAD if named => "get",
            Method::GET | Method::HEAD => "list",
            Method::POST => "create",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE if named => "delete",
            Method::DELETE => "deletecollection",
            _ => "unknown",
        }
    }

    fn resource_path(&self) -> String {
        match &self.subresource {
            Some(subresource) => format!("{}/{subresource}", self.resource),
            None => self.resource.clone(),
        }
    }

    /// Kubernetes' own wording of a refusal.
    pub fn forbidden_message(&self, identity: &Identity) -> String {
        let target = match &self.name {
            Some(name) => format!("{} \"{name}\"", self.resource_path()),
            None => self.resource_path(),
        };
        let scope = match &self.namespace {
            Some(namespace) => format!(" in the namespace \"{namespace}\""),
            None => " at the cluster scope".to_string(),
        };
        format!(
            "{target} is forbidden: User \"{}\" cannot {} resource \"{}\" in API group \"{}\"{scope}",
            identity.user,
            self.verb,
            self.resource_path(),
            self.group,
        )
    }
}

/// The RBAC objects to judge by, as stored.
#[derive(Default)]
pub struct Policy {
    pub cluster_roles: Vec<Value>,
    pub cluster_role_bindings: Vec<Value>,
    pub roles: Vec<Value>,
    pub role_bindings: Vec<Value>,
}

impl Policy {
    /// Whether `identity` may do what `attributes` say.
    pub fn allows(&self, identity: &Identity, attributes: &Attributes) -> bool {
        let cluster_wide = self
            .cluster_role_bindings
            .iter()
            .filter(|binding| binds(binding, identity))
            .filter_map(|binding| self.role_of(binding, None));
        let in_namespace = attributes.namespace.iter().flat_map(|namespace| {
            self.role_bindings
                .iter()
                .filter(move |binding| namespace_of(binding) == namespace.as_str())
                .filter(|binding| binds(binding, identity))
                .filter_map(move |binding| self.role_of(binding, Some(namespace)))
        });
        cluster_wide
            .chain(in_namespace)
            .flat_map(|role| role["rules"].as_array().into_iter().flatten())
            .any(|rule| rule_allows(rule, attributes))
    }

    /// The role a binding refers to, if it exists (a binding to a missing
    /// role grants nothing, as in Kubernetes).
    fn role_of(&self, binding: &Value, namespace: Option<&str>) -> Option<&Value> {
        let reference = &binding["roleRef"];
        let name = reference["name"].as_str()?;
        match (reference["kind"].as_str()?, namespace) {
            ("ClusterRole", _) => self
                .cluster_roles
                .iter()
                .find(|role| role["metadata"]["name"] == name),
            ("Role", Some(namespace)) => self
                .roles
                .iter()
                .find(|role| role["metadata"]["name"] == name && namespace_of(role) == namespace),
            _ => None,
        }
    }
}

fn namespace_of(object: &Value) -> &str {
    object["metadata"]["namespace"].as_str().unwrap_or_default()
}

fn binds(binding: &Value, identity: &Identity) -> bool {
    binding["subjects"]
        .as_array()
        .is_some_and(|subjects| subjects.iter().any(|subject| identity.is(subject)))
}

fn listed(values: &Value, wanted: &str) -> bool {
    values
        .as_array()
        .is_some_and(|values| values.iter().any(|value| value == "*" || value == wanted))
}

fn rule_allows(rule: &Value, attributes: &Attributes) -> bool {
    let resource_matches = rule["resources"].as_array().is_some_and(|resources| {
        resources.iter().filter_map(Value::as_str).any(|resource| {
            resource == "*"
                || resource == attributes.resource_path()
                || match &attributes.subresource {
                    Some(subresource) => {
                        resource == format!("*/{subresource}")
                            || resource == format!("{}/*", attributes.resource)
                    }
                    None => false,
                }
        })
    });
    let names_match = match rule["resourceNames"].as_array() {
        Some(names) if !names.is_empty() => attributes
            .name
            .as_ref()
            .is_some_and(|name| names.iter().any(|listed| listed == name.as_str())),
        _ => true,
    };
    listed(&rule["verbs"], &attributes.verb)
        && listed(&rule["apiGroups"], &attributes.group)
        && resource_matches
        && names_match
}

/// Creating or changing a binding also needs `bind` on the role it refers to
/// (Kubernetes would accept holding all the role's rules instead; the
/// sandbox asks for `bind`, as a least-privilege grant does).
pub fn binding_needs(attributes: &Attributes, body: &Value) -> Option<Attributes> {
    let writes = matches!(attributes.verb.as_str(), "create" | "update" | "patch");
    let binding = matches!(
        attributes.resource.as_str(),
        "rolebindings" | "clusterrolebindings"
    );
    if !(writes && binding && attributes.group == "rbac.authorization.k8s.io") {
        return None;
    }
    let reference = &body["roleRef"];
    let kind = reference["kind"].as_str()?;
    Some(Attributes {
        verb: "bind".to_string(),
        group: "rbac.authorization.k8s.io".to_string(),
        resource: if kind == "ClusterRole" {
            "clusterroles"
        } else {
            "roles"
        }
        .to_string(),
        subresource: None,
        namespace: attributes.namespace.clone(),
        name: reference["name"].as_str().map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn portal() -> Identity {
        Identity::service_account("portal", "portal")
    }

    fn attributes(verb: &str, group: &str, resource: &str, namespace: Option<&str>) -> Attributes {
        Attributes {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: None,
            namespace: namespace.map(str::to_string),
            name: None,
        }
    }

    fn policy() -> Policy {
        let subject = json!([{"kind": "ServiceAccount", "name": "portal", "namespace": "portal"}]);
        Policy {
            cluster_roles: vec![
                json!({"metadata": {"name": "engine"}, "rules": [
                    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch", "patch"]},
                    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
                ]}),
                json!({"metadata": {"name": "secrets"}, "rules": [
                    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "create"]},
                ]}),
            ],
            cluster_role_bindings: vec![json!({
                "metadata": {"name": "engine"},
                "roleRef": {"kind": "ClusterRole", "name": "engine"},
                "subjects": subject,
            })],
            roles: vec![
                json!({"metadata": {"name": "leases", "namespace": "portal"}, "rules": [
                    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "update"], "resourceNames": ["engine-lease"]},
                ]}),
            ],
            role_bindings: vec![
                json!({"metadata": {"name": "secrets", "namespace": "db-1"},
                       "roleRef": {"kind": "ClusterRole", "name": "secrets"}, "subjects": subject}),
                json!({"metadata": {"name": "leases", "namespace": "portal"},
                       "roleRef": {"kind": "Role", "name": "leases"}, "subjects": subject}),
            ],
        }
    }

    #[test]
    fn a_cluster_role_binding_grants_its_rules_everywhere_and_no_more() {
        let policy = policy();
        assert!(policy.allows(
            &portal(),
            &attributes("patch", "apps", "deployments", Some("a"))
        ));
        assert!(policy.allows(&portal(), &attributes("watch", "apps", "deployments", None)));
        assert!(!policy.allows(
            &portal(),
            &attributes("delete", "apps", "deployments", Some("a"))
        ));
        assert!(!policy.allows(&portal(), &attributes("get", "", "deployments", Some("a"))));
        let other = Identity::service_account("portal", "someone-else");
        assert!(!policy.allows(&other, &attributes("get", "apps", "deployments", Some("a"))));
    }

    #[test]
    fn a_role_binding_grants_in_its_namespace_only() {
        let policy = policy();
        assert!(policy.allows(
            &portal(),
            &attributes("create", "", "secrets", Some("db-1"))
        ));
        assert!(!policy.allows(
            &portal(),
            &attributes("create", "", "secrets", Some("db-2"))
        ));
        assert!(!policy.allows(&portal(), &attributes("list", "", "secrets", None)));
    }

    #[test]
    fn subresources_and_resource_names_are_matched_exactly() {
        let policy = policy();
        let mut log = attributes("get", "", "pods", Some("a"));
        log.subresource = Some("log".into());
        assert!(policy.allows(&portal(), &log));
        assert!(!policy.allows(&portal(), &attributes("get", "", "pods", Some("a"))));

        let mut lease = attributes("update", "coordination.k8s.io", "leases", Some("portal"));
        assert!(
            !policy.allows(&portal(), &lease),
            "no name: resourceNames do not match"
        );
        lease.name = Some("engine-lease".into());
        assert!(policy.allows(&portal(), &lease));
        lease.name = Some("another-lease".into());
        assert!(!policy.allows(&portal(), &lease));
    }

    #[test]
    fn a_binding_needs_bind_on_the_role_it_names() {
        let create = attributes(
            "create",
            "rbac.authorization.k8s.io",
            "rolebindings",
            Some("db-1"),
        );
        let needed = binding_needs(
            &create,
            &json!({"roleRef": {"kind": "ClusterRole", "name": "secrets"}}),
        );
        let needed = needed.expect("a binding's write needs bind");
        assert_eq!(needed.verb, "bind");
        assert_eq!(needed.resource, "clusterroles");
        assert_eq!(needed.name.as_deref(), Some("secrets"));
        let read = attributes(
            "get",
            "rbac.authorization.k8s.io",
            "rolebindings",
            Some("db-1"),
        );
        assert!(binding_needs(&read, &json!({})).is_none());
    }

    #[test]
    fn the_refusal_reads_as_kubernetes_writes_it() {
        let mut request = attributes("create", "", "secrets", Some("db-2"));
        request.name = None;
        assert_eq!(
            request.forbidden_message(&portal()),
            "secrets is forbidden: User \"system:serviceaccount:portal:portal\" cannot create resource \"secrets\" in API group \"\" in the namespace \"db-2\""
        );
    }
}
