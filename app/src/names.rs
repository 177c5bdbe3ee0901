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

/// The longest DNS-1123 subdomain (a host name, an IngressClass's name).
pub const MAX_SUBDOMAIN: usize = 253;

/// Whether `name` is a DNS-1123 subdomain: labels of at most 63
/// characters joined by `.`, at most 253 in all.
pub fn dns_subdomain(name: &str) -> Result<(), LabelProblem> {
    if name.len() > MAX_SUBDOMAIN {
        return Err(LabelProblem::TooLong(name.len()));
    }
    name.split('.').try_for_each(|label| dns_label(label, 63))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains_are_dot_separated_labels() {
        assert_eq!(dns_subdomain("shop.dev.example.com"), Ok(()));
        assert_eq!(dns_subdomain("nginx"), Ok(()));
        assert_eq!(dns_subdomain("shop..example"), Err(LabelProblem::Empty));
        assert_eq!(dns_subdomain("Shop.example"), Err(LabelProblem::Characters));
        assert_eq!(
            dns_subdomain(&format!("{}.example", "a".repeat(64))),
            Err(LabelProblem::TooLong(64))
        );
        assert_eq!(
            dns_subdomain(&["abc"; 64].join(".")),
            Err(LabelProblem::TooLong(255))
        );
    }

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
