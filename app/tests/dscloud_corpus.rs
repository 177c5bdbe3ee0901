//! The corpus of `dscloud.yaml` files under `tests/dscloud/`.
//!
//! Each invalid file opens with `# expect: ` lines: exactly the problems the
//! check must report, in order, as `line:column: path: message`. Each valid
//! file must check without an error. `BLESS=1 cargo test -p app --test
//! dscloud_corpus` rewrites the expectations from the current output, for a
//! person to review in the diff.

use std::fs;
use std::path::{Path, PathBuf};

use app::dscloud::check;

const EXPECT: &str = "# expect: ";

fn corpus(kind: &str) -> Vec<PathBuf> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/dscloud")
        .join(kind);
    let mut files: Vec<PathBuf> = fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "yaml")
        })
        .collect();
    files.sort();
    files
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn every_invalid_file_reports_exactly_the_expected_problems() {
    let files = corpus("invalid");
    assert!(
        files.len() >= 30,
        "the corpus holds at least 30 invalid files, found {}",
        files.len()
    );
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    for path in &files {
        let text = read(path);
        let expected: Vec<&str> = text
            .lines()
            .filter_map(|line| line.strip_prefix(EXPECT))
            .collect();
        // The expectations are comments: they shift lines but never change the meaning.
        let checked = check(&text);
        let actual: Vec<String> = checked.problems.iter().map(ToString::to_string).collect();
        assert!(
            checked.file.is_none(),
            "{}: an invalid file produced a model",
            path.display()
        );
        if bless {
            let body: String = text
                .lines()
                .filter(|line| !line.starts_with(EXPECT))
                .map(|line| format!("{line}\n"))
                .collect();
            let header: String = actual
                .iter()
                .map(|line| format!("{EXPECT}{line}\n"))
                .collect();
            // Re-check with the new header so that the line numbers in it are right.
            let provisional = format!("{header}{body}");
            let recounted: String = check(&provisional)
                .problems
                .iter()
                .map(|problem| format!("{EXPECT}{problem}\n"))
                .collect();
            fs::write(path, format!("{recounted}{body}")).unwrap_or_else(|error| panic!("{error}"));
            continue;
        }
        if expected.is_empty() {
            failures.push(format!("{}: no `# expect:` lines", path.display()));
        } else if actual != expected {
            failures.push(format!(
                "{}\n  expected:\n    {}\n  actual:\n    {}",
                path.display(),
                expected.join("\n    "),
                actual.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files differ:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn every_valid_file_checks_without_an_error() {
    let files = corpus("valid");
    assert!(!files.is_empty());
    for path in &files {
        let checked = check(&read(path));
        let errors: Vec<String> = checked.errors().map(ToString::to_string).collect();
        assert!(
            errors.is_empty(),
            "{}:\n{}",
            path.display(),
            errors.join("\n")
        );
        assert!(checked.file.is_some(), "{}", path.display());
    }
}
