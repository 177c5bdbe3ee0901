//! `/metrics` after a provision and a deploy: the text is well-formed
//! OpenMetrics, served without a session, and the counters moved. The
//! registry is one per process and the suite's other tests run beside this
//! one, so each check is "at least one more than before".

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt as _;

use super::*;
use support::openmetrics::{self, Scrape};

async fn get(router: &axum::Router, path: &str) -> axum::response::Response {
    router
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap()
}

async fn scrape(router: &axum::Router) -> Scrape {
    let answer = get(router, "/metrics").await;
    assert_eq!(
        answer.status(),
        StatusCode::OK,
        "open to a scraper without a session"
    );
    assert!(
        answer.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let body = to_bytes(answer.into_body(), 16 * 1024 * 1024)
        .await
        .unwrap();
    openmetrics::parse(std::str::from_utf8(&body).unwrap())
}

async fn provision_one(bed: &Bed) {
    let owner = support::user(bed.store.as_ref(), "mia", Role::Customer).await;
    let database =
        support::create_database(bed.store.as_ref(), owner.id, "metered", "postgresql").await;
    support::rbac::provision_until_active(bed.store.clone(), &bed.portal.client, database.id).await;
}

#[tokio::test]
async fn metrics_count_requests_reconciles_kubernetes_calls_and_outcomes() {
    let bed = bed(Scenario::version("1")).await;
    let router = support::router_on(bed.store.clone(), &server::cli::ServeArgs::default());
    let before = scrape(&router).await;
    assert_eq!(get(&router, "/healthz").await.status(), StatusCode::OK);

    provision_one(&bed).await;
    let sha = first_sha(&bed).await;
    let _engine = bed.start(bed.deployer());
    bed.until("promoted to prod", succeeded_everywhere(&sha))
        .await;

    let after = scrape(&router).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        let (was, is) = (before.value(name, labels), after.value(name, labels));
        assert!(is > was, "{name} {labels:?} stayed at {was}");
    };
    moved(
        "dscloud_http_requests_total",
        &[("route", "/healthz"), ("status", "200"), ("method", "GET")],
    );
    moved(
        "dscloud_http_request_duration_seconds_count",
        &[("route", "/healthz")],
    );
    moved(
        "dscloud_release_total",
        &[("env", "prod"), ("result", "succeeded")],
    );
    moved(
        "dscloud_database_status_total",
        &[("engine", "postgresql"), ("status", "ACTIVE")],
    );
    moved(
        "dscloud_engine_reconcile_seconds_count",
        &[("engine", "deploy")],
    );
    moved(
        "dscloud_engine_reconcile_seconds_count",
        &[("engine", "provisioning")],
    );
    moved(
        "dscloud_kubernetes_requests_total",
        &[("verb", "patch"), ("kind", "Deployment"), ("code", "200")],
    );
    moved(
        "dscloud_kubernetes_requests_total",
        &[("verb", "create"), ("kind", "RoleBinding"), ("code", "200")],
    );
    // Cardinality: no app's name on any series.
    for sample in after.samples.keys() {
        assert!(!sample.labels.contains_key("app"), "{sample:?}");
        assert!(
            !sample.labels.values().any(|value| value.contains("shop")),
            "{sample:?}"
        );
    }
}
