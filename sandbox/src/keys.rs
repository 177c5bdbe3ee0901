//! Where an object lives in the store: its resource, namespace and name.

use crate::resources::ResourceType;

#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct ObjectKey {
    pub resource: String,
    pub namespace: String,
    pub name: String,
}

pub fn namespace_key(name: &str) -> ObjectKey {
    ObjectKey {
        resource: "namespaces".to_string(),
        namespace: String::new(),
        name: name.to_string(),
    }
}

pub fn pod_key(namespace: &str, pod: &str) -> ObjectKey {
    ObjectKey {
        resource: "pods".to_string(),
        namespace: namespace.to_string(),
        name: pod.to_string(),
    }
}

pub fn key(resource: &ResourceType, namespace: &str, name: &str) -> ObjectKey {
    ObjectKey {
        resource: resource.id(),
        namespace: if resource.namespaced {
            namespace.to_string()
        } else {
            String::new()
        },
        name: name.to_string(),
    }
}
