//! The one rule for names that become parts of Kubernetes names (DNS-1123
//! labels): lowercase letters, digits and `-`, starting and ending with a
//! letter or digit, at most a given length. Each caller says in its own
//! words what went wrong (a database name, a region, a provider id…).

/// What is wrong with a would-be label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelProblem {
    Empty,
    /// Longer than allowed: its length.
    TooLong(usize),
    /// A character other than a lowercase letter, a digit or `-`.
    Characters,
    /// Starts or ends with `-`.
    Ends,
}

/// Whether `name` is a DNS-1123 label of at most `max` characters.
pub fn dns_label(name: &str, max: usize) -> Result<(), LabelProblem> {
    if name.is_empty() {
        return Err(LabelProblem::Empty);
    }
    if name.len() > max {
        return Err(LabelProblem::TooLong(name.len()));
    }
    if !name
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
    {
        return Err(LabelProblem::Characters);
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(LabelProblem::Ends);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_dns_1123() {
        assert_eq!(dns_label("orders-2", 40), Ok(()));
        assert_eq!(dns_label("", 40), Err(LabelProblem::Empty));
        assert_eq!(
            dns_label(&"a".repeat(41), 40),
            Err(LabelProblem::TooLong(41))
        );
        assert_eq!(dns_label("Orders", 40), Err(LabelProblem::Characters));
        assert_eq!(dns_label("orders_1", 40), Err(LabelProblem::Characters));
        assert_eq!(dns_label("-orders", 40), Err(LabelProblem::Ends));
        assert_eq!(dns_label("orders-", 40), Err(LabelProblem::Ends));
    }
}
