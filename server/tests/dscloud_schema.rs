//! The published JSON Schema of `dscloud.yaml` (`/schema/dscloud.json`, for
//! editors) against the corpus the checker is tested on, with a real JSON
//! Schema validator: every valid file passes, and the invalid files whose
//! mistake a schema can express (a type, a range, a pattern, an unknown or
//! missing key) are refused. Mistakes only the checker sees (two names the
//! same, a test where nothing is deployed, …) are listed as such.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeSet;
use std::path::PathBuf;

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

mod support;

/// The invalid files a schema cannot refuse: the rule spans several fields,
/// or the file is not one YAML document.
const ONLY_THE_CHECKER_SEES: &[&str] = &[
    "10-cron-minute-out-of-range.yaml",
    "13-tests-where-not-deployed.yaml",
    "14-duplicate-path-prefix.yaml",
    "18-name-used-twice.yaml",
    "25-secret-and-configuration.yaml",
    "33-reserved-test-directory.yaml",
    "36-secret-listed-twice.yaml",
    "37-service-port-twice.yaml",
    "40-misspelt-environment-in-tests.yaml",
];

fn corpus(kind: &str) -> Vec<PathBuf> {
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../app/tests/dscloud")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&directory)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "yaml")
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", directory.display());
    files
}

fn name(path: &std::path::Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

async fn published_schema() -> serde_json::Value {
    let (store, _dir) = support::sqlite().await;
    let router = support::router_on(store, &server::cli::ServeArgs::default());
    let response = router
        .oneshot(
            Request::get("/schema/dscloud.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn the_schema_accepts_every_valid_file_and_refuses_what_it_can_express() {
    let schema = published_schema().await;
    let validator = jsonschema::validator_for(&schema).unwrap();

    for path in corpus("valid") {
        let document: serde_json::Value =
            serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&document)
            .map(|error| format!("{} at {}", error, error.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", name(&path));
    }

    let mut not_refused = BTreeSet::new();
    for path in corpus("invalid") {
        let text = std::fs::read_to_string(&path).unwrap();
        let Ok(document) = serde_saphyr::from_str::<serde_json::Value>(&text) else {
            // Not one YAML document: refused before any schema is consulted.
            continue;
        };
        if validator.is_valid(&document) {
            not_refused.insert(name(&path));
        }
    }
    let expected: BTreeSet<String> = ONLY_THE_CHECKER_SEES
        .iter()
        .map(|name| name.to_string())
        .collect();
    assert_eq!(
        not_refused, expected,
        "invalid files the schema lets through"
    );
}
