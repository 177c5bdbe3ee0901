//! CustomResourceDefinitions: the kinds they add, and the structural-schema
//! validation and pruning their `openAPIV3Schema` asks of every object.
//!
//! Implemented: types, `nullable`, `required`, `enum`, numeric and length
//! bounds, `pattern`, the formats the operators' CRDs use (`int32`, `int64`,
//! `date-time`, `byte`) and a few common ones (`date`, `uuid`), `items`,
//! `properties`, `additionalProperties`, `allOf`/`anyOf`/`oneOf`/`not`,
//! `x-kubernetes-int-or-string`, `x-kubernetes-preserve-unknown-fields`,
//! `x-kubernetes-embedded-resource`, and pruning of unknown fields.
//! Not implemented: CEL `x-kubernetes-validations`, defaults.

use serde_json::{Map, Value, json};

use crate::resources::ResourceType;

/// One served version of a CRD: its kind and its schema.
pub struct Served {
    pub resource: ResourceType,
    pub schema: Option<Value>,
}

/// What a CRD object defines, or why it cannot be registered.
pub fn served_versions(crd: &Value) -> Result<Vec<Served>, String> {
    let spec = crd.get("spec").ok_or("spec: Required value")?;
    let group = spec["group"]
        .as_str()
        .filter(|group| !group.is_empty())
        .ok_or("spec.group: Required value")?;
    let names = &spec["names"];
    let kind = names["kind"]
        .as_str()
        .ok_or("spec.names.kind: Required value")?;
    let plural = names["plural"]
        .as_str()
        .ok_or("spec.names.plural: Required value")?;
    let expected_name = format!("{plural}.{group}");
    if crd.pointer("/metadata/name").and_then(Value::as_str) != Some(expected_name.as_str()) {
        return Err(format!(
            "metadata.name: Invalid value: must be spec.names.plural+\".\"+spec.group ({expected_name})"
        ));
    }
    let namespaced = match spec["scope"].as_str() {
        Some("Namespaced") => true,
        Some("Cluster") => false,
        _ => {
            return Err(
                "spec.scope: Unsupported value: supported values: \"Cluster\", \"Namespaced\""
                    .to_string(),
            );
        }
    };
    let versions = spec["versions"]
        .as_array()
        .ok_or("spec.versions: Required value")?;
    let mut served = Vec::new();
    for version in versions
        .iter()
        .filter(|version| version["served"].as_bool().unwrap_or(false))
    {
        let name = version["name"]
            .as_str()
            .ok_or("spec.versions[].name: Required value")?;
        served.push(Served {
            resource: ResourceType {
                group: group.to_string(),
                version: name.to_string(),
                kind: kind.to_string(),
                plural: plural.to_string(),
                singular: names["singular"]
                    .as_str()
                    .map_or_else(|| kind.to_lowercase(), str::to_string),
                namespaced,
                status: version.pointer("/subresources/status").is_some(),
                short_names: names["shortNames"]
                    .as_array()
                    .map(|short| {
                        short
                            .iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            schema: version.pointer("/schema/openAPIV3Schema").cloned(),
        });
    }
    if served.is_empty() {
        return Err(
            "spec.versions: Invalid value: must have at least one served version".to_string(),
        );
    }
    Ok(served)
}

/// The status a real API server gives a CRD it accepted.
pub fn established_status(crd: &Value) -> Value {
    json!({
        "acceptedNames": crd["spec"]["names"],
        "storedVersions": crd["spec"]["versions"]
            .as_array()
            .map(|versions| versions.iter().filter(|v| v["storage"].as_bool().unwrap_or(false)).map(|v| v["name"].clone()).collect::<Vec<_>>())
            .unwrap_or_default(),
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
        ],
    })
}

/// Validates `object` against `schema`, pruning unknown fields; the causes
/// name each field as `spec.size` with a message in the API server's words.
pub fn validate(schema: &Value, object: &mut Value) -> Vec<(String, String)> {
    let mut causes = Vec::new();
    // apiVersion, kind and metadata are the server's, whatever the schema says:
    // never validated here, never pruned (`object` keeps them at the root).
    let mut schema = schema.clone();
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for key in IDENTITY {
            properties.remove(key);
        }
    }
    check(&schema, object, "", &mut causes, true);
    causes.sort();
    causes
}

const IDENTITY: [&str; 3] = ["apiVersion", "kind", "metadata"];

fn field(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(number) if number.is_i64() || number.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check(
    schema: &Value,
    value: &mut Value,
    path: &str,
    causes: &mut Vec<(String, String)>,
    prune: bool,
) {
    let shown = if path.is_empty() { "<root>" } else { path };
    if schema["x-kubernetes-int-or-string"].as_bool() == Some(true) {
        if !matches!(type_name(value), "integer" | "string") {
            causes.push((
                shown.to_string(),
                format!(
                    "Invalid value: \"{}\": {shown} in body must be of type integer or string",
                    type_name(value)
                ),
            ));
        }
        return;
    }
    if let Some(expected) = schema["type"].as_str() {
        let actual = type_name(value);
        let fits = actual == expected || (expected == "number" && actual == "integer");
        if !fits {
            causes.push((shown.to_string(), format!("Invalid value: \"{actual}\": {shown} in body must be of type {expected}: \"{actual}\"")));
            return;
        }
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        let supported: Vec<String> = allowed.iter().map(ToString::to_string).collect();
        causes.push((
            shown.to_string(),
            format!(
                "Unsupported value: {value}: supported values: {}",
                supported.join(", ")
            ),
        ));
    }
    bounds(schema, value, shown, causes);
    for (keyword, required) in [("allOf", usize::MAX), ("anyOf", 1), ("oneOf", 0)] {
        let Some(options) = schema[keyword].as_array() else {
            continue;
        };
        let passing = options
            .iter()
            .filter(|option| {
                let mut scratch = value.clone();
                let mut found = Vec::new();
                check(option, &mut scratch, path, &mut found, false);
                found.is_empty()
            })
            .count();
        let fine = match keyword {
            "allOf" => passing == options.len(),
            "anyOf" => passing >= required,
            _ => passing == 1,
        };
        if !fine {
            causes.push((
                shown.to_string(),
                format!("Invalid value: {value}: {shown} in body must validate {keyword}"),
            ));
        }
    }
    if let Some(not) = schema.get("not") {
        let mut scratch = value.clone();
        let mut found = Vec::new();
        check(not, &mut scratch, path, &mut found, false);
        if found.is_empty() {
            causes.push((
                shown.to_string(),
                format!(
                    "Invalid value: {value}: {shown} in body must not validate the schema (not)"
                ),
            ));
        }
    }
    match value {
        Value::Object(map) => object(schema, map, path, causes, prune),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter_mut().enumerate() {
                    check(
                        item_schema,
                        item,
                        &format!("{path}[{index}]"),
                        causes,
                        prune,
                    );
                }
            }
        }
        _ => {}
    }
}

fn object(
    schema: &Value,
    map: &mut Map<String, Value>,
    path: &str,
    causes: &mut Vec<(String, String)>,
    prune: bool,
) {
    let preserve = schema["x-kubernetes-preserve-unknown-fields"].as_bool() == Some(true);
    let embedded = schema["x-kubernetes-embedded-resource"].as_bool() == Some(true);
    let properties = schema["properties"].as_object();
    let additional = schema.get("additionalProperties");
    // Nulls in fields that are not nullable are dropped, as the API server does.
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let property = properties.and_then(|properties| properties.get(&key));
        let Some(child) = map.get_mut(&key) else {
            continue;
        };
        if child.is_null()
            && property.is_some_and(|property| property["nullable"].as_bool() != Some(true))
        {
            map.remove(&key);
            continue;
        }
        match (property, additional) {
            (Some(property), _) => check(property, child, &field(path, &key), causes, prune),
            (None, Some(Value::Object(_))) => {
                if let Some(additional) = additional {
                    check(additional, child, &field(path, &key), causes, prune);
                }
            }
            (None, Some(Value::Bool(true))) => {}
            (None, _)
                if preserve
                    || ((embedded || path.is_empty()) && IDENTITY.contains(&key.as_str())) => {}
            (None, _) => {
                if prune {
                    map.remove(&key);
                }
            }
        }
    }
    if let Some(required) = schema["required"].as_array() {
        for name in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                causes.push((field(path, name), "Required value".to_string()));
            }
        }
    }
}

fn bounds(schema: &Value, value: &Value, shown: &str, causes: &mut Vec<(String, String)>) {
    let mut fail = |message: String| {
        causes.push((
            shown.to_string(),
            format!("Invalid value: {value}: {shown} in body {message}"),
        ))
    };
    if let Some(number) = value.as_f64() {
        if let Some(minimum) = schema["minimum"].as_f64() {
            let exclusive = schema["exclusiveMinimum"].as_bool() == Some(true);
            if number < minimum || (exclusive && number == minimum) {
                fail(format!("should be greater than or equal to {minimum}"));
            }
        }
        if let Some(maximum) = schema["maximum"].as_f64() {
            let exclusive = schema["exclusiveMaximum"].as_bool() == Some(true);
            if number > maximum || (exclusive && number == maximum) {
                fail(format!("should be less than or equal to {maximum}"));
            }
        }
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count() as u64;
        if schema["minLength"]
            .as_u64()
            .is_some_and(|minimum| length < minimum)
        {
            fail(format!(
                "should be at least {} chars long",
                schema["minLength"]
            ));
        }
        if schema["maxLength"]
            .as_u64()
            .is_some_and(|maximum| length > maximum)
        {
            fail(format!("may not be longer than {}", schema["maxLength"]));
        }
    }
    if let (Some(text), Some(pattern)) = (value.as_str(), schema["pattern"].as_str()) {
        // An unparsable pattern is the CRD author's problem, not the object's.
        if let Ok(expression) = regex_lite::Regex::new(pattern)
            && !expression.is_match(text)
        {
            fail(format!("should match '{pattern}'"));
        }
    }
    if let Some(format) = schema["format"].as_str()
        && let Some(problem) = format_problem(format, value)
    {
        fail(format!("must be of type {format}: {problem}"));
    }
    if let Some(items) = value.as_array() {
        let count = items.len() as u64;
        if schema["minItems"]
            .as_u64()
            .is_some_and(|minimum| count < minimum)
        {
            fail(format!("should have at least {} items", schema["minItems"]));
        }
        if schema["maxItems"]
            .as_u64()
            .is_some_and(|maximum| count > maximum)
        {
            fail(format!("should have at most {} items", schema["maxItems"]));
        }
    }
}

/// Why `value` does not have `format`, for the formats checked here.
fn format_problem(format: &str, value: &Value) -> Option<String> {
    match (format, value) {
        ("int32", Value::Number(number)) => number
            .as_i64()
            .filter(|number| i32::try_from(*number).is_err())
            .map(|number| format!("{number} does not fit in 32 bits")),
        ("int64", Value::Number(number)) => (number.as_i64().is_none()
            && number.as_u64().is_some())
        .then(|| format!("{number} does not fit in 64 bits")),
        ("date-time", Value::String(text)) => chrono::DateTime::parse_from_rfc3339(text)
            .is_err()
            .then(|| format!("{text:?} is not an RFC 3339 date-time")),
        ("date", Value::String(text)) => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .is_err()
            .then(|| format!("{text:?} is not a date (YYYY-MM-DD)")),
        ("byte", Value::String(text)) => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .is_err()
                .then(|| format!("{text:?} is not base64"))
        }
        ("uuid", Value::String(text)) => uuid::Uuid::parse_str(text)
            .is_err()
            .then(|| format!("{text:?} is not a UUID")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["size"],
                    "properties": {
                        "size": {"type": "integer", "minimum": 1},
                        "mode": {"type": "string", "enum": ["fast", "safe"]},
                        "port": {"x-kubernetes-int-or-string": true},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    }
                },
                "status": {"type": "object", "properties": {"phase": {"type": "string"}}}
            }
        })
    }

    #[test]
    fn valid_objects_pass_and_unknown_fields_are_pruned() {
        let mut object = json!({
            "apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"},
            "spec": {"size": 3, "mode": "fast", "port": "http", "unknown": 1, "labels": {"a": "b"}, "free": {"any": [1]}},
            "extra": true
        });
        assert!(validate(&schema(), &mut object).is_empty());
        assert_eq!(object["spec"].get("unknown"), None);
        assert_eq!(object.get("extra"), None);
        assert_eq!(object["spec"]["free"]["any"], json!([1]));
        assert_eq!(object["metadata"]["name"], "a");
    }

    #[test]
    fn patterns_and_formats_are_checked() {
        let schema = json!({"type": "object", "properties": {
            "version": {"type": "string", "pattern": "(\\d+\\.\\d+\\.\\d+)"},
            "size": {"type": "integer", "format": "int32"},
            "at": {"type": "string", "format": "date-time"},
        }});
        let mut good = json!({"version": "4.1.5", "size": 3, "at": "2026-11-22T10:00:00Z"});
        assert!(validate(&schema, &mut good).is_empty());
        let mut bad = json!({"version": "latest", "size": 4_000_000_000u64, "at": "yesterday"});
        let fields: Vec<String> = validate(&schema, &mut bad)
            .into_iter()
            .map(|(field, _)| field)
            .collect();
        assert_eq!(fields, ["at", "size", "version"]);
    }

    #[test]
    fn every_problem_names_its_field() {
        let mut object =
            json!({"spec": {"size": "big", "mode": "slow", "port": 1.5, "labels": {"a": 1}}});
        let causes = validate(&schema(), &mut object);
        let fields: Vec<&str> = causes.iter().map(|(field, _)| field.as_str()).collect();
        assert_eq!(
            fields,
            ["spec.labels.a", "spec.mode", "spec.port", "spec.size"]
        );
        assert!(
            causes[3]
                .1
                .contains("spec.size in body must be of type integer: \"string\"")
        );
        let mut missing = json!({"spec": {"size": 0}});
        let causes = validate(&schema(), &mut missing);
        assert!(
            causes[0].1.contains("greater than or equal to 1"),
            "{causes:?}"
        );
        let mut empty = json!({"spec": {}});
        assert_eq!(
            validate(&schema(), &mut empty),
            [("spec.size".to_string(), "Required value".to_string())]
        );
    }
}
