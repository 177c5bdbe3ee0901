//! Whose object is whose. Every object the portal creates carries
//! `app.kubernetes.io/managed-by: dscloud-portal` (for people and tools)
//! and `dscloud.io/engine: <engine>`: each engine watches and cleans up
//! only what carries its own name, so one engine's traffic never wakes
//! another and one engine's cleanup never touches another's objects.

use serde_json::{Map, Value, json};

pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "dscloud-portal";
pub const ENGINE_LABEL: &str = "dscloud.io/engine";

/// An engine as Kubernetes sees it: the name in its label, its field
/// manager, and the Lease of its leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineName {
    /// The value of `dscloud.io/engine`.
    pub label: &'static str,
    /// The field manager of every write it makes.
    pub field_manager: &'static str,
    /// The Lease whose holder runs it.
    pub lease: &'static str,
}

impl EngineName {
    /// The labels every object of this engine carries, before its own.
    pub fn labels(&self) -> Map<String, Value> {
        let mut labels = Map::new();
        labels.insert(MANAGED_BY_LABEL.to_string(), json!(MANAGED_BY));
        labels.insert(ENGINE_LABEL.to_string(), json!(self.label));
        labels
    }

    /// The label selector of this engine's objects.
    pub fn selector(&self) -> String {
        format!("{ENGINE_LABEL}={}", self.label)
    }
}
