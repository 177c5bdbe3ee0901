//! The naming rules: component and environment names become Kubernetes object
//! names (DNS-1123 labels); variables become environment variables.

use crate::names::LabelProblem;

/// The longest DNS-1123 label.
pub const MAX_LABEL: usize = 63;

/// Why `name` is not a DNS-1123 label, if it is not one.
pub fn dns_label_problem(name: &str) -> Option<String> {
    let rule = "use lower-case letters, digits and `-`, starting and ending with a letter or digit";
    match crate::names::dns_label(name, MAX_LABEL) {
        Ok(()) => return None,
        Err(LabelProblem::Empty) => return Some("a name cannot be empty".to_string()),
        Err(LabelProblem::TooLong(length)) => {
            return Some(format!(
                "`{name}` is {length} characters long; names have at most {MAX_LABEL} because they become Kubernetes object names"
            ));
        }
        Err(LabelProblem::Characters | LabelProblem::Ends) => {}
    }
    let suggestion = suggest_label(name);
    let mut message =
        format!("`{name}` is not a valid name: {rule} (it becomes a Kubernetes object name)");
    if !suggestion.is_empty() && suggestion != name {
        message.push_str(&format!("; try `{suggestion}`"));
    }
    Some(message)
}

/// The nearest valid label: lower-cased, other characters turned into `-`.
fn suggest_label(name: &str) -> String {
    let mut label = String::with_capacity(name.len());
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            label.push(c);
        } else if !label.ends_with('-') {
            label.push('-');
        }
    }
    let trimmed = label.trim_matches('-');
    trimmed
        .chars()
        .take(MAX_LABEL)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// Why `name` is not a usable environment variable name, if it is not one.
pub fn variable_problem(name: &str) -> Option<String> {
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        None
    } else {
        Some(format!(
            "`{name}` is not a valid environment variable name: use letters, digits and `_`, not starting with a digit"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(dns_label_problem("foo-api"), None);
        assert_eq!(dns_label_problem("a1"), None);
        assert!(dns_label_problem("").is_some());
        assert!(dns_label_problem("-foo").is_some());
        assert!(dns_label_problem("foo-").is_some());
        assert!(dns_label_problem(&"a".repeat(64)).is_some());
        assert_eq!(dns_label_problem(&"a".repeat(63)), None);
        let message = dns_label_problem("Foo_API").unwrap_or_default();
        assert!(message.ends_with("try `foo-api`"), "{message}");
    }

    #[test]
    fn variables() {
        assert_eq!(variable_problem("DATABASE_HOST"), None);
        assert_eq!(variable_problem("_x1"), None);
        assert!(variable_problem("1X").is_some());
        assert!(variable_problem("DATABASE-HOST").is_some());
        assert!(variable_problem("").is_some());
    }
}
