//! The four kinds of PATCH: JSON patch, merge patch, strategic merge patch
//! (lists of named items merge by `name`) and server-side apply with field
//! managers.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// RFC 7386: maps merge, `null` deletes, everything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    merge_with(target, patch, false);
}

/// Kubernetes' strategic merge, to the extent clients rely on it: like a
/// merge patch, but lists whose items all carry a `name` merge item by item.
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    merge_with(target, patch, true);
}

fn merge_with(target: &mut Value, patch: &Value, strategic: bool) {
    match patch {
        Value::Object(patch) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(target) = target {
                for (key, value) in patch {
                    if value.is_null() {
                        target.remove(key);
                    } else {
                        let slot = target.entry(key.clone()).or_insert(Value::Null);
                        merge_with(slot, value, strategic);
                    }
                }
            }
        }
        Value::Array(items)
            if strategic
                && is_named_list(items)
                && target.as_array().is_some_and(|t| is_named_list(t)) =>
        {
            if let Value::Array(existing) = target {
                for item in items {
                    let name = item.get("name");
                    match existing
                        .iter_mut()
                        .find(|candidate| candidate.get("name") == name)
                    {
                        Some(slot) => merge_with(slot, item, strategic),
                        None => existing.push(item.clone()),
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn is_named_list(items: &[Value]) -> bool {
    !items.is_empty()
        && items
            .iter()
            .all(|item| item.get("name").is_some_and(Value::is_string))
}

/// The fields each manager set through server-side apply, as JSON pointers
/// to leaves (lists count as one leaf).
pub type Managers = BTreeMap<String, BTreeSet<String>>;

/// Why an apply was refused: another manager owns a field with another value.
#[derive(Debug, PartialEq)]
pub struct Conflict {
    pub manager: String,
    pub field: String,
}

/// Server-side apply of `applied` by `manager` onto `existing` (absent: create).
pub fn apply(
    existing: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    managers: &mut Managers,
) -> Result<Value, Vec<Conflict>> {
    let mut owned = BTreeSet::new();
    collect_leaves(applied, String::new(), &mut owned);
    owned.retain(|field| !is_identity(field));

    let mut conflicts = Vec::new();
    if let Some(existing) = existing {
        for (other, fields) in managers.iter() {
            if other == manager {
                continue;
            }
            for field in fields.intersection(&owned) {
                if existing.pointer(field) != applied.pointer(field) {
                    conflicts.push(Conflict {
                        manager: other.clone(),
                        field: field.clone(),
                    });
                }
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    for conflict in &conflicts {
        if let Some(fields) = managers.get_mut(&conflict.manager) {
            fields.remove(&conflict.field);
        }
    }

    let mut result = existing
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    let dropped: Vec<String> = managers
        .get(manager)
        .map(|previous| previous.difference(&owned).cloned().collect())
        .unwrap_or_default();
    for field in dropped {
        let shared = managers
            .iter()
            .any(|(other, fields)| other != manager && fields.contains(&field));
        if !shared {
            remove_pointer(&mut result, &field);
        }
    }
    merge_applied(&mut result, applied);
    managers.insert(manager.to_string(), owned);
    managers.retain(|_, fields| !fields.is_empty());
    Ok(result)
}

/// Applied configuration merges into the object: maps key by key, lists whole.
fn merge_applied(target: &mut Value, applied: &Value) {
    match (target, applied) {
        (Value::Object(target), Value::Object(applied)) => {
            for (key, value) in applied {
                match target.get_mut(key) {
                    Some(slot) => merge_applied(slot, value),
                    None => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, applied) => *target = applied.clone(),
    }
}

/// Fields that name the object rather than configure it: never owned.
fn is_identity(field: &str) -> bool {
    matches!(
        field,
        "/apiVersion"
            | "/kind"
            | "/metadata/name"
            | "/metadata/namespace"
            | "/metadata/resourceVersion"
    ) || field.starts_with("/metadata/managedFields")
}

fn collect_leaves(value: &Value, prefix: String, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                collect_leaves(child, format!("{prefix}/{escaped}"), out);
            }
        }
        _ => {
            out.insert(prefix);
        }
    }
}

fn remove_pointer(value: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let key = last.replace("~1", "/").replace("~0", "~");
    let parent = if parent.is_empty() {
        Some(value)
    } else {
        value.pointer_mut(parent)
    };
    if let Some(Value::Object(map)) = parent {
        map.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_deletes_with_null() {
        let mut target = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge(&mut target, &json!({"b": {"c": null, "e": 4}, "f": [1]}));
        assert_eq!(target, json!({"a": 1, "b": {"d": 3, "e": 4}, "f": [1]}));
    }

    #[test]
    fn strategic_merge_merges_named_lists() {
        let mut target =
            json!({"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]});
        strategic_merge(
            &mut target,
            &json!({"containers": [{"name": "b", "image": "z"}, {"name": "c"}]}),
        );
        assert_eq!(
            target,
            json!({"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "z"}, {"name": "c"}]})
        );
    }

    #[test]
    fn apply_removes_what_the_manager_stopped_setting_and_keeps_the_rest() {
        let mut managers = Managers::new();
        let first = json!({"metadata": {"name": "x", "labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 1}});
        let object = apply(None, &first, "engine", false, &mut managers).unwrap_or_default();
        // Another writer adds a field the engine never set.
        let mut object = object;
        object["spec"]["paused"] = json!(true);
        let second =
            json!({"metadata": {"name": "x", "labels": {"a": "1"}}, "spec": {"replicas": 3}});
        let object =
            apply(Some(&object), &second, "engine", false, &mut managers).unwrap_or_default();
        assert_eq!(
            object,
            json!({"metadata": {"name": "x", "labels": {"a": "1"}}, "spec": {"replicas": 3, "paused": true}})
        );
    }

    #[test]
    fn apply_conflicts_with_another_manager_unless_forced() {
        let mut managers = Managers::new();
        let object = apply(
            None,
            &json!({"spec": {"replicas": 1}}),
            "one",
            false,
            &mut managers,
        )
        .unwrap_or_default();
        let conflicts = apply(
            Some(&object),
            &json!({"spec": {"replicas": 2}}),
            "two",
            false,
            &mut managers,
        )
        .err()
        .unwrap_or_default();
        assert_eq!(
            conflicts,
            [Conflict {
                manager: "one".to_string(),
                field: "/spec/replicas".to_string()
            }]
        );
        // The same value is shared ownership, not a conflict.
        assert!(
            apply(
                Some(&object),
                &json!({"spec": {"replicas": 1}}),
                "two",
                false,
                &mut managers
            )
            .is_ok()
        );
        let forced = apply(
            Some(&object),
            &json!({"spec": {"replicas": 2}}),
            "two",
            true,
            &mut managers,
        );
        assert_eq!(forced.ok(), Some(json!({"spec": {"replicas": 2}})));
        assert!(
            !managers
                .get("one")
                .is_some_and(|fields| fields.contains("/spec/replicas"))
        );
    }
}
