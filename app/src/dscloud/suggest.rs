//! "Did you mean …?" for misspelt keys and values.

/// The closest candidate to `typed`, if it is close enough to be a likely typo.
pub fn closest<'a>(typed: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let typed_lower = typed.to_lowercase();
    candidates
        .iter()
        .map(|candidate| {
            (
                edit_distance(&typed_lower, &candidate.to_lowercase()),
                *candidate,
            )
        })
        .filter(|(distance, candidate)| {
            // A third of the word may be wrong, and at least one letter.
            *distance <= (candidate.chars().count() / 3).max(1)
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and
/// swaps of two neighbouring letters each cost one.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut table = vec![0usize; (a.len() + 1) * width];
    for (i, cell) in table.iter_mut().step_by(width).enumerate() {
        *cell = i;
    }
    for (j, cell) in table.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (table[(i - 1) * width + j] + 1)
                .min(table[i * width + j - 1] + 1)
                .min(table[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(table[(i - 2) * width + j - 2] + 1);
            }
            table[i * width + j] = best;
        }
    }
    table[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[&str] = &[
        "description",
        "environmentConfiguration",
        "secretValues",
        "deployment",
    ];

    #[test]
    fn finds_the_key_meant() {
        assert_eq!(closest("secretValue", KEYS), Some("secretValues"));
        assert_eq!(closest("deploymnet", KEYS), Some("deployment"));
        assert_eq!(
            closest("enviromentConfiguration", KEYS),
            Some("environmentConfiguration")
        );
        assert_eq!(closest("Description", KEYS), Some("description"));
    }

    #[test]
    fn suggests_nothing_for_unrelated_words() {
        assert_eq!(closest("replicas", KEYS), None);
        assert_eq!(closest("x", KEYS), None);
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("abc", "acb"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
