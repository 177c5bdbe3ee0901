//! A small, deterministic YAML writer for Kubernetes objects.
//!
//! Objects are serialised by serde to JSON values first (k8s-openapi gives a
//! fixed field order; maps are BTreeMaps), then written as block YAML. Strings
//! that YAML 1.1 or 1.2 could read as something else (kubectl still speaks
//! 1.1: `yes`, `on`, `0755`) are double-quoted.

use serde_json::Value;

/// Writes one YAML document (no leading `---`).
pub fn document(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_list(&mut out, items, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    for (key, value) in map {
        out.push_str(&" ".repeat(indent));
        out.push_str(&string(key));
        out.push(':');
        write_value_after_key(out, value, indent);
    }
}

fn write_list(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                // The first key shares the dash's line; the rest align under it.
                out.push(' ');
                let mut first = true;
                for (key, value) in map {
                    if !first {
                        out.push_str(&" ".repeat(indent + 2));
                    }
                    first = false;
                    out.push_str(&string(key));
                    out.push(':');
                    write_value_after_key(out, value, indent + 2);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_list(out, inner, indent + 2);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn write_value_after_key(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_list(out, items, indent);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(value) => value.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => string(text),
        Value::Array(_) => "[]".to_string(),
        Value::Object(_) => "{}".to_string(),
    }
}

/// A string, plain when that cannot be misread, double-quoted otherwise.
fn string(text: &str) -> String {
    if is_plain_safe(text) {
        text.to_string()
    } else {
        // JSON's string syntax is valid double-quoted YAML.
        serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_string())
    }
}

fn is_plain_safe(text: &str) -> bool {
    const AMBIGUOUS: &[&str] = &[
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~",
    ];
    let Some(first) = text.chars().next() else {
        return false;
    };
    // Starting with a letter, `/` or `_` rules out numbers, indicators and `.inf`.
    (first.is_ascii_alphabetic() || matches!(first, '/' | '_'))
        && !AMBIGUOUS.contains(&text.to_ascii_lowercase().as_str())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':'))
        && !text.contains(": ")
        && !text.ends_with(':')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn writes_block_yaml() {
        let value = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"labels": {"a": "b"}, "name": "foo"},
            "spec": {"ports": [{"name": "http", "port": 80}], "selector": {}},
        });
        assert_eq!(
            document(&value),
            "apiVersion: v1\nkind: Service\nmetadata:\n  labels:\n    a: b\n  name: foo\nspec:\n  ports:\n  - name: http\n    port: 80\n  selector: {}\n"
        );
    }

    #[test]
    fn quotes_what_could_be_misread() {
        for text in [
            "false",
            "yes",
            "On",
            "1.50",
            "007",
            "",
            "*/10 * * * *",
            "a: b",
            "-1",
            "#x",
            "a b",
        ] {
            assert!(string(text).starts_with('"'), "{text}");
        }
        for text in [
            "example.com",
            "foo-api",
            "/health",
            "Mi256",
            "apps/v1",
            "app.kubernetes.io/name",
        ] {
            assert_eq!(string(text), text);
        }
    }
}
