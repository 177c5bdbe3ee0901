//! A strict reader of the OpenMetrics text a scrape returns: every family
//! declared by `# TYPE` before its samples, each sample named by its
//! family and a suffix its type allows, labels quoted and escaped, values
//! numbers, and `# EOF` last. Returns the samples, to look values up.

use std::collections::BTreeMap;

/// One sample: its name (with suffix) and labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

pub struct Scrape {
    pub samples: BTreeMap<Sample, f64>,
}

impl Scrape {
    /// The sum of the samples named `name` whose labels include `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(sample, _)| {
                sample.name == name
                    && labels.iter().all(|(key, value)| {
                        sample.labels.get(*key).map(String::as_str) == Some(value)
                    })
            })
            .fold(0.0, |sum, (_, value)| sum + value)
    }
}

fn suffixes(kind: &str) -> &'static [&'static str] {
    match kind {
        "counter" => &["_total", "_created"],
        "histogram" => &["_bucket", "_sum", "_count", "_created"],
        "gauge" | "unknown" => &[""],
        "info" => &["_info"],
        _ => panic!("unknown metric type {kind:?}"),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// `{a="1",b="x\"y"}` → the labels; panics on anything malformed.
fn labels(text: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("a label without =\" in {line:?}"));
        assert!(valid_name(key), "label name {key:?} in {line:?}");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, '\\')) => value.push('\\'),
                    other => panic!("a bad escape {other:?} in {line:?}"),
                },
                Some((index, '"')) => break index,
                Some((_, c)) => value.push(c),
                None => panic!("an unterminated label value in {line:?}"),
            }
        };
        assert!(
            labels.insert(key.to_string(), value).is_none(),
            "a label twice in {line:?}"
        );
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    labels
}

pub fn parse(text: &str) -> Scrape {
    let mut families: BTreeMap<String, &str> = BTreeMap::new();
    let mut samples = BTreeMap::new();
    let mut ended = false;
    for line in text.lines() {
        assert!(!ended, "text after # EOF: {line:?}");
        if line == "# EOF" {
            ended = true;
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let (keyword, name) = (parts.next().unwrap(), parts.next().unwrap_or_default());
            assert!(valid_name(name), "a bad family name in {line:?}");
            match keyword {
                "TYPE" => {
                    let kind = parts.next().unwrap_or_default();
                    suffixes(kind);
                    assert!(
                        families.insert(name.to_string(), kind).is_none(),
                        "{name} declared twice"
                    );
                }
                "HELP" | "UNIT" => {}
                other => panic!("an unknown comment {other:?}"),
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("a sample without a value: {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            value => value
                .parse()
                .unwrap_or_else(|_| panic!("not a number: {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let inner = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels: {line:?}"));
                (name, labels(inner, line))
            }
            None => (series, BTreeMap::new()),
        };
        let family = families
            .iter()
            .filter(|(family, kind)| {
                suffixes(kind)
                    .iter()
                    .any(|suffix| name == format!("{family}{suffix}"))
            })
            .map(|(family, _)| family)
            .next();
        assert!(family.is_some(), "{name} belongs to no declared family");
        let sample = Sample {
            name: name.to_string(),
            labels,
        };
        assert!(
            samples.insert(sample, value).is_none(),
            "a sample twice: {line:?}"
        );
    }
    assert!(ended, "no # EOF at the end");
    Scrape { samples }
}
