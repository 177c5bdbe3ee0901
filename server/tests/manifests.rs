//! Rendering `dscloud.yaml` to Kubernetes objects, against golden files.
//!
//! Each valid file of the corpus (`app/tests/dscloud/valid/`) is rendered for
//! every environment it names and compared with
//! `server/tests/golden/<file>/<environment>.yaml`. After a deliberate change,
//! `UPDATE_GOLDEN=1 cargo test -p server --test manifests` rewrites them; the
//! diff is the review.

use std::fs;
use std::path::{Path, PathBuf};

use app::dscloud::{DscloudFile, check};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::networking::v1::Ingress;
use serde::de::DeserializeOwned;
use server::manifests::{Manifest, RenderError, Target, render, to_yaml};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const ORDER: &[&str] = &["dev", "test", "prod"];

fn target<'a>(environment: &'a str) -> Target<'a> {
    Target {
        app: "shop",
        environment,
        commit: COMMIT,
        registry: "registry.dscloud.local",
        ingress: None,
    }
}

fn valid_files() -> Vec<(String, DscloudFile)> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/tests/dscloud/valid");
    let mut paths: Vec<PathBuf> = fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "yaml")
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).unwrap_or_else(|error| panic!("{error}"));
            let checked = check(&text);
            let file = checked.file.unwrap_or_else(|| {
                panic!("{} does not check: {:?}", path.display(), checked.problems)
            });
            let stem = path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default();
            (stem, file)
        })
        .collect()
}

fn render_ok(file: &DscloudFile, environment: &str) -> Vec<Manifest> {
    render(file, &target(environment)).unwrap_or_else(|error| panic!("{error}"))
}

#[test]
fn rendering_matches_the_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let golden_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut compared = 0;
    for (name, file) in valid_files() {
        for environment in file.environments(ORDER) {
            let rendered = to_yaml(&render_ok(&file, &environment));
            let golden = golden_root.join(&name).join(format!("{environment}.yaml"));
            if update {
                fs::create_dir_all(golden.parent().unwrap_or(&golden_root))
                    .unwrap_or_else(|error| panic!("{error}"));
                fs::write(&golden, &rendered).unwrap_or_else(|error| panic!("{error}"));
                continue;
            }
            let expected = fs::read_to_string(&golden).unwrap_or_else(|error| {
                panic!("{}: {error} (UPDATE_GOLDEN=1 writes it)", golden.display())
            });
            assert_eq!(
                rendered,
                expected,
                "{} differs from its golden file",
                golden.display()
            );
            compared += 1;
        }
    }
    assert!(
        update || compared >= 6,
        "only {compared} golden files compared"
    );
}

#[test]
fn rendering_is_pure() {
    for (_, file) in valid_files() {
        for environment in file.environments(ORDER) {
            let first = to_yaml(&render_ok(&file, &environment));
            let again = to_yaml(&render_ok(&file.clone(), &environment));
            assert_eq!(first, again);
        }
    }
}

/// Parses one YAML document of the output back into the typed object.
fn round_trip<T: DeserializeOwned + PartialEq + std::fmt::Debug>(document: &str, original: &T) {
    let parsed: T =
        serde_saphyr::from_str(document).unwrap_or_else(|error| panic!("{error}\n{document}"));
    assert_eq!(&parsed, original, "{document}");
}

#[test]
fn every_object_round_trips_through_the_kubernetes_types() {
    let mut objects = 0;
    for (_, file) in valid_files() {
        for environment in file.environments(ORDER) {
            for manifest in render_ok(&file, &environment) {
                let document = to_yaml(std::slice::from_ref(&manifest));
                match &manifest {
                    Manifest::Namespace(object) => round_trip::<Namespace>(&document, object),
                    Manifest::Deployment(object) => round_trip::<Deployment>(&document, object),
                    Manifest::StatefulSet(object) => round_trip::<StatefulSet>(&document, object),
                    Manifest::Service(object) => round_trip::<Service>(&document, object),
                    Manifest::Ingress(object) => round_trip::<Ingress>(&document, object),
                    Manifest::Job(object) => round_trip::<Job>(&document, object),
                    Manifest::CronJob(object) => round_trip::<CronJob>(&document, object),
                }
                objects += 1;
            }
        }
    }
    assert!(objects > 20, "only {objects} objects");
}

#[test]
fn the_reference_example_renders_what_the_reference_says() {
    let (_, file) = valid_files()
        .into_iter()
        .find(|(name, _)| name == "reference")
        .unwrap_or_else(|| panic!("reference.yaml is in the corpus"));
    let test = render_ok(&file, "test");
    let names: Vec<(&str, &str)> = test
        .iter()
        .map(|manifest| (manifest.kind(), manifest.name()))
        .collect();
    assert_eq!(
        names,
        [
            ("Namespace", "shop-test"),
            ("Deployment", "foo-api"),
            ("Service", "foo-api"),
            ("Ingress", "foo-api-port-80"),
            ("Job", "foo-api-integration-tests-01234567"),
            ("Job", "foo-migrate-01234567"),
            ("CronJob", "foo-updater"),
        ]
    );
    // dev has no integration tests: a successful rollout promotes at once.
    let dev = render_ok(&file, "dev");
    assert!(
        !dev.iter()
            .any(|manifest| manifest.name().contains("integration-tests"))
    );

    let yaml = to_yaml(&test);
    for expected in [
        "image: registry.dscloud.local/shop/foo-api:0123456789abcdef0123456789abcdef01234567",
        "- name: TRACING\n          value: \"false\"",
        "memory: \"1526Mi\"",
        "cpu: \"2000m\"",
        "replicas: 3",
        "nginx.ingress.kubernetes.io/rewrite-target: \"/$2\"",
        "path: \"/foo-api(/|$)(.*)\"",
        "secretKeyRef:\n              key: DATABASE_PASSWORD\n              name: app-secrets\n              optional: false",
        "name: secret-group-foo-api",
        "schedule: \"*/10 * * * *\"",
        "app.kubernetes.io/managed-by: dscloud-portal",
        "dscloud.io/commit: \"0123456789abcdef0123456789abcdef01234567\"",
        "dscloud.io/environment: test",
    ] {
        assert!(yaml.contains(expected), "missing {expected:?} in\n{yaml}");
    }
}

#[test]
fn a_bad_target_is_refused_not_rendered() {
    let (_, file) = valid_files().remove(0);
    let bad_app = Target {
        app: "Shop",
        ..target("dev")
    };
    assert_eq!(
        render(&file, &bad_app),
        Err(RenderError::AppName("Shop".to_string()))
    );
    let bad_commit = Target {
        commit: "abc",
        ..target("dev")
    };
    assert_eq!(
        render(&file, &bad_commit),
        Err(RenderError::Commit("abc".to_string()))
    );
}

#[test]
fn environments_follow_the_promotion_order() {
    let file = check(
        "jobs:\n  a:\n    environmentConfiguration: {prod: {}, qa: {}, dev: {}, alpha: {}}\n",
    )
    .file
    .unwrap_or_default();
    assert_eq!(file.environments(ORDER), ["dev", "prod", "alpha", "qa"]);
}

/// Every rendered environment, as a file, is accepted by the real kubectl
/// against the Kubernetes sandbox: `kubectl apply --dry-run=server` checks
/// each object on the server without storing it.
#[tokio::test]
async fn kubectl_accepts_every_rendered_environment_on_the_sandbox() {
    let kubectl = std::path::Path::new("/usr/bin/kubectl");
    assert!(kubectl.exists(), "kubectl is part of this machine kind");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let served = sandbox::Sandbox::new()
        .serve(listener, "manifests-test")
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let kubeconfig = directory.path().join("kubeconfig");
    fs::write(&kubeconfig, served.kubeconfig()).unwrap_or_else(|error| panic!("{error}"));
    let run = |arguments: Vec<String>| {
        let kubeconfig = kubeconfig.clone();
        async move {
            let output = tokio::process::Command::new(kubectl)
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(&arguments)
                .output()
                .await
                .unwrap_or_else(|error| panic!("{error}"));
            assert!(
                output.status.success(),
                "kubectl {arguments:?}:\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8_lossy(&output.stdout).into_owned()
        }
    };
    let mut checked = 0;
    for (name, file) in valid_files() {
        for environment in file.environments(ORDER) {
            let manifests = render_ok(&file, &environment);
            // The namespace must exist for a server-side dry run of what goes in it.
            let namespace = directory
                .path()
                .join(format!("{name}-{environment}-namespace.yaml"));
            fs::write(&namespace, to_yaml(&manifests[..1]))
                .unwrap_or_else(|error| panic!("{error}"));
            run(vec![
                "apply".into(),
                "-f".into(),
                namespace.display().to_string(),
            ])
            .await;
            let all = directory.path().join(format!("{name}-{environment}.yaml"));
            fs::write(&all, to_yaml(&manifests)).unwrap_or_else(|error| panic!("{error}"));
            let output = run(vec![
                "apply".into(),
                "--dry-run=server".into(),
                "-f".into(),
                all.display().to_string(),
            ])
            .await;
            assert_eq!(output.lines().count(), manifests.len(), "{output}");
            checked += manifests.len();
        }
    }
    assert_eq!(checked, 38);
}
