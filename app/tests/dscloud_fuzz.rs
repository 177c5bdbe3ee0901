//! Throws random and mutated documents at the `dscloud.yaml` check: it must
//! never panic, never loop, and a file it accepts must be accepted again.
//!
//! `cargo test -p app --test dscloud_fuzz` runs a few thousand cases; `make
//! fuzz` runs both targets for ten minutes each (`FUZZ_SECONDS=600`, a fresh
//! random seed every round) and prints how many documents were checked.
//! A document whose check takes over [`CASE_BOUND`] ends the run with the
//! document printed: a loop is a failure, not a hung test.

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use app::dscloud::check;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Pieces of YAML and of the format that mutations splice in, so that most
/// mutants get past the parser and reach the validator.
const TOKENS: &[&str] = &[
    ":",
    ": ",
    "- ",
    "\n",
    "\n  ",
    "  ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "\"",
    "'",
    "&a ",
    "*a",
    "!!str ",
    "!!int ",
    "? ",
    "|\n  ",
    ">\n  ",
    "#",
    "---\n",
    "...\n",
    "~",
    "null",
    "true",
    "0x1F",
    "1e3",
    "-1",
    "65536",
    "9999999999999999999999",
    ".inf",
    "\t",
    "\u{feff}",
    "é",
    "microservices",
    "jobs",
    "cronjobs",
    "deployment",
    "memoryMB",
    "cpuPct",
    "instances",
    "probes",
    "readiness",
    "liveness",
    "protocol",
    "TCP",
    "HTTP",
    "port",
    "path",
    "timeoutSeconds",
    "ingress",
    "containerPort",
    "pathPrefix",
    "pathPrefixRewrite",
    "integrationTests",
    "env",
    "secrets",
    "environmentConfiguration",
    "secretValues",
    "schedule",
    "*/5 * * * *",
    "@daily",
    "kind",
    "StatefulSet",
    "successfulJobsHistoryLimit",
    "failedJobsHistoryLimit",
    "description",
    "dev",
    "prod",
    "foo-api",
];

#[derive(Clone, Debug)]
enum Mutation {
    Insert { at: usize, token: usize },
    Delete { at: usize, length: usize },
    Replace { at: usize, byte: u8 },
    DuplicateLine { line: usize },
    SwapLines { a: usize, b: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, token)| Mutation::Insert { at, token }),
        (any::<usize>(), 1usize..16).prop_map(|(at, length)| Mutation::Delete { at, length }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Replace { at, byte }),
        any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
    ]
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let position = |at: usize, length: usize| if length == 0 { 0 } else { at % (length + 1) };
    match mutation {
        Mutation::Insert { at, token } => {
            let at = position(*at, bytes.len());
            bytes.splice(at..at, TOKENS[*token].bytes());
        }
        Mutation::Delete { at, length } => {
            let at = position(*at, bytes.len());
            let end = (at + length).min(bytes.len());
            bytes.drain(at..end);
        }
        Mutation::Replace { at, byte } => {
            if !bytes.is_empty() {
                let at = at % bytes.len();
                bytes[at] = *byte;
            }
        }
        Mutation::DuplicateLine { .. } | Mutation::SwapLines { .. }
            if text.lines().next().is_none() => {}
        Mutation::DuplicateLine { line } => {
            let mut lines: Vec<&str> = text.lines().collect();
            let at = line % lines.len();
            lines.insert(at, lines[at]);
            bytes = lines.join("\n").into_bytes();
        }
        Mutation::SwapLines { a, b } => {
            let mut lines: Vec<&str> = text.lines().collect();
            let (a, b) = (a % lines.len(), b % lines.len());
            lines.swap(a, b);
            bytes = lines.join("\n").into_bytes();
        }
    }
    // The check takes text; invalid UTF-8 never reaches it (the page and the
    // deploy engine decode first), so repair it the way they would.
    String::from_utf8_lossy(&bytes).into_owned()
}

fn seeds() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dscloud");
    let mut seeds = Vec::new();
    for kind in ["valid", "invalid"] {
        for entry in fs::read_dir(root.join(kind))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(text) = fs::read_to_string(entry.path()) {
                seeds.push(text);
            }
        }
    }
    assert!(!seeds.is_empty(), "the corpus is the fuzzer's seed");
    seeds
}

/// A random document in the shape of the format: real keys, random values.
fn document() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        prop::sample::select(TOKENS).prop_map(str::to_string),
        "[a-zA-Z_][a-zA-Z0-9_-]{0,12}",
    ];
    let scalar = prop_oneof![
        prop::sample::select(TOKENS).prop_map(|token| format!("{token:?}")),
        any::<i64>().prop_map(|number| number.to_string()),
        "[ -~]{0,20}".prop_map(|text| format!("{text:?}")),
        Just("~".to_string()),
    ];
    scalar.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5)
                .prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec((key.clone(), inner), 0..5).prop_map(|entries| {
                let body: Vec<String> = entries
                    .iter()
                    .map(|(key, value)| format!("{key:?}: {value}"))
                    .collect();
                format!("{{{}}}", body.join(", "))
            }),
        ]
    })
}

/// Runs `round` once, or again and again until `FUZZ_SECONDS` have passed.
fn fuzz(name: &str, mut round: impl FnMut(&mut TestRunner) -> u64) {
    let budget = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|seconds| seconds.parse().ok())
        .map(Duration::from_secs);
    let started = Instant::now();
    let mut executions = 0;
    loop {
        let mut runner = TestRunner::new(Config {
            cases: 2_000,
            failure_persistence: None,
            ..Config::default()
        });
        executions += round(&mut runner);
        if budget.is_none_or(|budget| started.elapsed() >= budget) {
            break;
        }
    }
    println!(
        "{name}: {executions} documents checked in {:.1} s, no panic",
        started.elapsed().as_secs_f64()
    );
}

/// The longest one document may take to check (a debug build checks the
/// corpus's largest file in milliseconds).
const CASE_BOUND: Duration = Duration::from_secs(2);

/// Watches the cases of one target from another thread: a case that has not
/// finished within [`CASE_BOUND`] is printed and the process ends, since a
/// looping thread cannot be stopped from outside.
struct Watchdog(Sender<Option<String>>);

impl Watchdog {
    fn start(target: &'static str) -> Watchdog {
        let (cases, watched) = mpsc::channel::<Option<String>>();
        std::thread::spawn(move || {
            // The document being checked, if any; a case that panicked
            // never says it finished, and the next one takes its place.
            let mut checking: Option<String> = None;
            loop {
                let next = match &checking {
                    None => watched.recv().map_err(|_| RecvTimeoutError::Disconnected),
                    Some(_) => watched.recv_timeout(CASE_BOUND),
                };
                match next {
                    Ok(case) => checking = case,
                    Err(RecvTimeoutError::Disconnected) => return,
                    Err(RecvTimeoutError::Timeout) => {
                        let text = checking.unwrap_or_default();
                        // Straight to stderr: the harness's captured output
                        // dies with the process.
                        let _ = writeln!(
                            std::io::stderr(),
                            "{target}: checking this document took over {CASE_BOUND:?}:\n{text:?}"
                        );
                        std::process::exit(101);
                    }
                }
            }
        });
        Watchdog(cases)
    }

    /// Checks `text` under the watch.
    fn check(&self, text: &str) {
        // A watchdog that is gone cannot end a loop; the check still runs.
        let _ = self.0.send(Some(text.to_string()));
        check_holds(text);
        let _ = self.0.send(None);
    }
}

/// Checks `text` and what must hold for any input.
fn check_holds(text: &str) {
    let checked = check(text);
    for problem in &checked.problems {
        assert!(
            problem.position.line >= 1 && problem.position.column >= 1,
            "{problem}"
        );
    }
    if checked.file.is_some() {
        assert!(checked.errors().next().is_none());
        // The same text gives the same answer.
        assert_eq!(check(text), checked);
    }
}

#[test]
fn mutated_corpus_files_never_panic() {
    let seeds = seeds();
    let strategy = (0..seeds.len(), prop::collection::vec(mutation(), 1..8));
    let watchdog = Watchdog::start("mutated corpus files");
    fuzz("mutated corpus files", |runner| {
        let executions = AtomicU64::new(0);
        let result = runner.run(&strategy, |(seed, mutations)| {
            let mut text = seeds[seed].clone();
            for mutation in &mutations {
                text = apply(&text, mutation);
                watchdog.check(&text);
                executions.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        });
        if let Err(failure) = result {
            panic!("{failure}");
        }
        executions.load(Ordering::Relaxed)
    });
}

#[test]
fn random_documents_never_panic() {
    let strategy = document();
    let watchdog = Watchdog::start("random documents");
    fuzz("random documents", |runner| {
        let executions = AtomicU64::new(0);
        let result = runner.run(&strategy, |text| {
            watchdog.check(&text);
            executions.fetch_add(1, Ordering::Relaxed);
            Ok(())
        });
        if let Err(failure) = result {
            panic!("{failure}");
        }
        executions.load(Ordering::Relaxed)
    });
}
