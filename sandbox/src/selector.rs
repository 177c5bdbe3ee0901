//! Label and field selectors, as `?labelSelector=` and `?fieldSelector=` give them.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::status::ApiError;

#[derive(Clone, Debug, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let bad = || ApiError::bad_request(format!("unable to parse requirement: {part:?}"));
            let requirement = if let Some(key) = part.strip_prefix('!') {
                Requirement::NotExists(key.trim().to_string())
            } else if let Some((key, values)) = split_set(part, " notin ") {
                Requirement::NotIn(key, values.ok_or_else(bad)?)
            } else if let Some((key, values)) = split_set(part, " in ") {
                Requirement::In(key, values.ok_or_else(bad)?)
            } else if let Some((key, value)) = part.split_once("!=") {
                Requirement::NotEquals(key.trim().to_string(), value.trim().to_string())
            } else if let Some((key, value)) =
                part.split_once("==").or_else(|| part.split_once('='))
            {
                Requirement::Equals(key.trim().to_string(), value.trim().to_string())
            } else if part.contains(|c: char| c.is_whitespace() || c == '(') {
                return Err(bad());
            } else {
                Requirement::Exists(part.to_string())
            };
            requirements.push(requirement);
        }
        Ok(LabelSelector(requirements))
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|requirement| match requirement {
            Requirement::Equals(key, value) => labels.get(key) == Some(value),
            Requirement::NotEquals(key, value) => labels.get(key) != Some(value),
            Requirement::In(key, values) => {
                labels.get(key).is_some_and(|label| values.contains(label))
            }
            Requirement::NotIn(key, values) => {
                labels.get(key).is_none_or(|label| !values.contains(label))
            }
            Requirement::Exists(key) => labels.contains_key(key),
            Requirement::NotExists(key) => !labels.contains_key(key),
        })
    }
}

/// Commas separate requirements, except inside `in (a, b)`.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (index, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn split_set(part: &str, operator: &str) -> Option<(String, Option<Vec<String>>)> {
    let (key, rest) = part.split_once(operator)?;
    let values = rest
        .trim()
        .strip_prefix('(')
        .and_then(|rest| rest.strip_suffix(')'))
        .map(|inner| {
            inner
                .split(',')
                .map(|value| value.trim().to_string())
                .collect()
        });
    Some((key.trim().to_string(), values))
}

/// A field selector: `metadata.name`, `metadata.namespace`, `status.phase`
/// and any other plain path, with `=`, `==` and `!=`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let mut terms = Vec::new();
        for part in text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let (field, equal, value) = if let Some((field, value)) = part.split_once("!=") {
                (field, false, value)
            } else if let Some((field, value)) =
                part.split_once("==").or_else(|| part.split_once('='))
            {
                (field, true, value)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid field selector: {part:?}"
                )));
            };
            terms.push((field.trim().to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldSelector(terms))
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(field, equal, value)| {
            let pointer = format!("/{}", field.replace('.', "/"));
            let actual = object
                .pointer(&pointer)
                .and_then(Value::as_str)
                .unwrap_or_default();
            (actual == value) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn every_operator() {
        let set = labels(&[("app", "shop"), ("tier", "web")]);
        let matches =
            |text: &str| LabelSelector::parse(text).map(|selector| selector.matches(&set));
        assert_eq!(matches("app=shop"), Ok(true));
        assert_eq!(matches("app==shop,tier=web"), Ok(true));
        assert_eq!(matches("app!=shop"), Ok(false));
        assert_eq!(matches("tier in (web, api)"), Ok(true));
        assert_eq!(matches("tier notin (web)"), Ok(false));
        assert_eq!(matches("app"), Ok(true));
        assert_eq!(matches("!app"), Ok(false));
        assert_eq!(matches("missing notin (x)"), Ok(true));
        assert_eq!(matches(""), Ok(true));
        assert!(matches("tier in web").is_err());
    }

    #[test]
    fn fields() {
        let object = serde_json::json!({"metadata": {"name": "a", "namespace": "n"}, "status": {"phase": "Running"}});
        let matches =
            |text: &str| FieldSelector::parse(text).map(|selector| selector.matches(&object));
        assert_eq!(matches("metadata.name=a"), Ok(true));
        assert_eq!(matches("metadata.namespace!=n"), Ok(false));
        assert_eq!(matches("status.phase=Running,metadata.name=a"), Ok(true));
        assert!(matches("nonsense").is_err());
    }
}
