//! Object names that stay valid Kubernetes names whatever they are built from.

use app::dscloud::MAX_LABEL;

/// `base-suffix`, shortened to a DNS-1123 label when too long: the base is cut
/// and a hash of the whole name keeps distinct inputs distinct.
pub fn bounded(base: &str, suffix: &str) -> String {
    let full = if suffix.is_empty() {
        base.to_string()
    } else {
        format!("{base}-{suffix}")
    };
    if full.len() <= MAX_LABEL {
        return full;
    }
    let hash = format!("{:08x}", fnv1a(full.as_bytes()) as u32);
    // base[..keep] + "-" + hash + ("-" + suffix)
    let tail = if suffix.is_empty() {
        hash
    } else {
        format!("{hash}-{suffix}")
    };
    let keep = MAX_LABEL.saturating_sub(tail.len() + 1);
    let cut: String = base.chars().take(keep).collect();
    let cut = cut.trim_end_matches('-');
    if cut.is_empty() {
        tail.chars().take(MAX_LABEL).collect()
    } else {
        format!("{cut}-{tail}")
    }
}

/// FNV-1a, 64 bits: a stable hash for names (not for security).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_kept() {
        assert_eq!(bounded("shop", "dev"), "shop-dev");
        assert_eq!(bounded("migrate", ""), "migrate");
    }

    #[test]
    fn long_names_are_cut_and_stay_distinct() {
        let a = bounded(&"a".repeat(60), "0123abcd");
        let b = bounded(&format!("{}b", "a".repeat(59)), "0123abcd");
        assert!(a.len() <= 63 && b.len() <= 63, "{a} {b}");
        assert!(a.ends_with("-0123abcd"));
        assert_ne!(a, b);
        assert_eq!(a, bounded(&"a".repeat(60), "0123abcd"));
    }
}
