//! Custom resources: objects checked against their CRD's schema on the way
//! in, and a CRD's kind served (or no longer) as soon as it is stored.

use serde_json::Value;

use super::Store;
use crate::crd;
use crate::keys::ObjectKey;
use crate::resources::ResourceType;
use crate::status::{ApiError, ApiResult};

pub(super) const CRDS: &str = "customresourcedefinitions.apiextensions.k8s.io";

/// Schemas are per version: `clusters.postgresql.cnpg.io/v1`.
pub(super) fn schema_key(resource: &ResourceType) -> String {
    format!("{}/{}", resource.id(), resource.version)
}

impl Store {
    /// A custom kind's OpenAPI schema (what `kubectl explain` shows), if its CRD has one.
    pub fn schema(&self, resource: &ResourceType) -> Option<&Value> {
        self.schemas.get(&schema_key(resource))
    }

    pub(super) fn admit(
        &self,
        resource: &ResourceType,
        name: &str,
        object: &mut Value,
    ) -> ApiResult<()> {
        if resource.id() == CRDS {
            return crd::served_versions(object).map(|_| ()).map_err(|why| {
                let (field, message) = why.split_once(": ").unwrap_or(("spec", why.as_str()));
                ApiError::invalid_causes(
                    &resource.id(),
                    name,
                    &[(field.to_string(), message.to_string())],
                )
            });
        }
        if let Some(schema) = self.schemas.get(&schema_key(resource)) {
            let causes = crd::validate(schema, object);
            if !causes.is_empty() {
                let kind = format!("{}.{}", resource.kind, resource.group);
                return Err(ApiError::invalid_causes(&kind, name, &causes));
            }
        }
        Ok(())
    }

    /// Makes the kinds a CRD defines servable (again, after an update).
    pub(super) fn register_crd(&mut self, resource: &ResourceType, crd: &Value) {
        if resource.id() != CRDS {
            return;
        }
        let Ok(served) = crd::served_versions(crd) else {
            return;
        };
        let ids: Vec<String> = served.iter().map(|served| served.resource.id()).collect();
        self.types
            .retain(|existing| existing.group.is_empty() || !ids.contains(&existing.id()));
        for version in served {
            if let Some(schema) = version.schema {
                self.schemas.insert(schema_key(&version.resource), schema);
            }
            self.types.push(version.resource);
        }
    }

    /// Forgets a deleted CRD's kinds and deletes their objects.
    pub(super) fn unregister_crd(&mut self, crd: &Value) {
        let Ok(served) = crd::served_versions(crd) else {
            return;
        };
        for version in &served {
            let id = version.resource.id();
            let keys: Vec<ObjectKey> = self
                .objects
                .keys()
                .filter(|key| key.resource == id)
                .cloned()
                .collect();
            for key in keys {
                self.remove(&key, None);
            }
            self.schemas.remove(&schema_key(&version.resource));
            self.types.retain(|existing| existing.id() != id);
        }
    }
}
