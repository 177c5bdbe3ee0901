//! Reading typed values out of the YAML tree while collecting problems.
//!
//! Every reader reports what is wrong and returns `None` instead of stopping,
//! so one pass finds every problem in the file.

use super::problem::{Position, Problem};
use super::suggest::closest;
use super::yaml::{Node, Resolved, Value};

/// Joins a dotted path: `microservices` + `foo-api` → `microservices.foo-api`.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The problems found so far.
#[derive(Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn error(&mut self, position: Position, path: &str, message: impl Into<String>) {
        self.0.push(Problem::new(position, path, message));
    }

    pub fn warning(&mut self, position: Position, path: &str, message: impl Into<String>) {
        self.0.push(Problem::warning(position, path, message));
    }
}

/// One entry of a mapping whose keys are text.
pub struct Entry<'n> {
    pub key: &'n str,
    pub key_node: &'n Node,
    pub value: &'n Node,
}

/// A mapping's entries, each key once (later duplicates are reported and dropped).
pub struct Entries<'n> {
    pub position: Position,
    pub entries: Vec<Entry<'n>>,
}

impl<'n> Entries<'n> {
    /// The value of `key`, unless it is absent or explicitly empty (`key:` or `key: null`).
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|entry| entry.key == key)
            .map(|entry| entry.value)
            .filter(|value| !is_null(value))
    }
}

pub fn is_null(node: &Node) -> bool {
    matches!(&node.value, Value::Scalar(scalar) if scalar.resolve() == Resolved::Null)
}

/// Reads a mapping whose keys are chosen by the user (component names,
/// environments, variables). `what` names the values for messages ("microservices").
pub fn user_mapping<'n>(
    problems: &mut Problems,
    node: &'n Node,
    path: &str,
    what: &str,
) -> Option<Entries<'n>> {
    let Value::Mapping(pairs) = &node.value else {
        problems.error(
            node.position,
            path,
            format!("expected a mapping of {what}, found {}", node.describe()),
        );
        return None;
    };
    let mut entries: Vec<Entry<'n>> = Vec::with_capacity(pairs.len());
    for (key_node, value) in pairs {
        let Some(key) = key_text(problems, key_node, path) else {
            continue;
        };
        if let Some(first) = entries.iter().find(|entry| entry.key == key) {
            problems.error(
                key_node.position,
                &join(path, key),
                format!(
                    "`{key}` appears twice in this mapping (first at line {}); keep one",
                    first.key_node.position.line
                ),
            );
            continue;
        }
        entries.push(Entry {
            key,
            key_node,
            value,
        });
    }
    Some(Entries {
        position: node.position,
        entries,
    })
}

/// Reads a mapping with a fixed set of keys: unknown keys are reported with the
/// closest allowed key and the whole list. `hint` may explain a key that is
/// allowed elsewhere but not here.
pub fn fixed_mapping<'n>(
    problems: &mut Problems,
    node: &'n Node,
    path: &str,
    allowed: &[&str],
    hint: impl Fn(&str) -> Option<String>,
) -> Option<Entries<'n>> {
    let Value::Mapping(_) = &node.value else {
        problems.error(
            node.position,
            path,
            format!(
                "expected a mapping with the keys {}; found {}",
                list(allowed),
                node.describe()
            ),
        );
        return None;
    };
    let mut entries = user_mapping(problems, node, path, "keys")?;
    entries.entries.retain(|entry| {
        if allowed.contains(&entry.key) {
            return true;
        }
        let mut message = format!("unknown key `{}`", entry.key);
        if let Some(explained) = hint(entry.key) {
            message.push_str(&format!(": {explained}."));
        } else if let Some(meant) = closest(entry.key, allowed) {
            message.push_str(&format!("; did you mean `{meant}`?"));
        } else {
            message.push('.');
        }
        message.push_str(&format!(" Allowed here: {}.", list(allowed)));
        problems.error(entry.key_node.position, &join(path, entry.key), message);
        false
    });
    Some(entries)
}

/// `a, b, c` with each name in backquotes.
pub fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn key_text<'n>(problems: &mut Problems, key: &'n Node, path: &str) -> Option<&'n str> {
    match &key.value {
        Value::Scalar(scalar) if scalar.resolve() != Resolved::Null => Some(scalar.text.as_str()),
        _ => {
            problems.error(
                key.position,
                path,
                format!("a key must be a name, found {}", key.describe()),
            );
            None
        }
    }
}

/// A whole number within `range`; `meaning` explains the unit in range errors.
pub fn integer(
    problems: &mut Problems,
    node: &Node,
    path: &str,
    range: std::ops::RangeInclusive<i64>,
    meaning: &str,
) -> Option<i64> {
    let number = match &node.value {
        Value::Scalar(scalar) => match scalar.resolve() {
            Resolved::Integer(number) => Some(number),
            _ => None,
        },
        _ => None,
    };
    let Some(number) = number else {
        problems.error(
            node.position,
            path,
            format!(
                "expected a whole number ({meaning}), found {}",
                node.describe()
            ),
        );
        return None;
    };
    if !range.contains(&number) {
        problems.error(
            node.position,
            path,
            format!(
                "{number} is out of range: allowed {} to {} ({meaning})",
                range.start(),
                range.end()
            ),
        );
        return None;
    }
    Some(number)
}

/// Text; numbers and booleans are refused so that `path: 404` is not silently a path.
pub fn text<'n>(
    problems: &mut Problems,
    node: &'n Node,
    path: &str,
    what: &str,
) -> Option<&'n str> {
    match &node.value {
        Value::Scalar(scalar) => match scalar.resolve() {
            Resolved::String(text) => Some(text),
            _ => {
                problems.error(
                    node.position,
                    path,
                    format!(
                        "expected {what}, found {}; put it in quotes if it is meant as text",
                        node.describe()
                    ),
                );
                None
            }
        },
        _ => {
            problems.error(
                node.position,
                path,
                format!("expected {what}, found {}", node.describe()),
            );
            None
        }
    }
}

/// Any scalar but null, as the text it was written with: environment variable
/// values reach the pod as strings, so `false` stays `false` and `1.50` stays `1.50`.
pub fn scalar_as_written<'n>(
    problems: &mut Problems,
    entry: &Entry<'n>,
    path: &str,
) -> Option<&'n str> {
    let node = entry.value;
    match &node.value {
        Value::Scalar(scalar) if scalar.resolve() == Resolved::Null => {
            problems.error(
                node.position,
                path,
                "has no value; write \"\" for an empty string",
            );
            None
        }
        Value::Scalar(scalar) => Some(scalar.text.as_str()),
        // At the variable's key: a block mapping or list starts on the next
        // line, which names no variable.
        _ => {
            problems.error(
                entry.key_node.position,
                path,
                format!(
                    "expected a text, number or boolean, found {}; a variable's value cannot be nested",
                    node.describe()
                ),
            );
            None
        }
    }
}

/// A list's items, or a problem when it is something else.
pub fn sequence<'n>(
    problems: &mut Problems,
    node: &'n Node,
    path: &str,
    what: &str,
) -> Option<&'n [Node]> {
    match &node.value {
        Value::Sequence(items) => Some(items),
        _ => {
            problems.error(
                node.position,
                path,
                format!("expected a list of {what}, found {}", node.describe()),
            );
            None
        }
    }
}

/// One of a few words, matched exactly; a wrong case gets the right spelling.
pub fn choice<'w>(
    problems: &mut Problems,
    node: &Node,
    path: &str,
    words: &[&'w str],
) -> Option<&'w str> {
    let written = text(problems, node, path, &format!("one of {}", list(words)))?;
    if let Some(word) = words.iter().find(|word| **word == written) {
        return Some(word);
    }
    let mut message = format!("`{written}` is not one of {}", list(words));
    if let Some(meant) = words.iter().find(|word| word.eq_ignore_ascii_case(written)) {
        message.push_str(&format!("; write `{meant}`"));
    } else if let Some(meant) = closest(written, words) {
        message.push_str(&format!("; did you mean `{meant}`?"));
    }
    problems.error(node.position, path, message);
    None
}
