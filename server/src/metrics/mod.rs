//! `/metrics`, in the Prometheus text format (OpenMetrics), with the
//! official `prometheus-client`: HTTP requests by route template, each
//! engine's reconciles, queue and leadership, Kubernetes requests, git
//! fetches, webhook deliveries, and the deploy and database outcomes
//! (../shared/docs/deploy-engine.md, "Metrics people build alerts on").
//!
//! One registry per process, recorded into from wherever the event
//! happens (the runner, the cluster client, the engines): passing a handle
//! through every constructor would touch each engine for no gain, since
//! a process has exactly one `/metrics`. No app name is ever a label of a
//! histogram (cardinality); route templates, engines, environments and
//! statuses are bounded sets.

mod http;

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub use http::{serve, track};

use crate::engine::health::Board;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EngineLabels {
    engine: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KubernetesLabels {
    verb: String,
    kind: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReleaseLabels {
    env: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DatabaseLabels {
    engine: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    provider: String,
    result: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Seconds, from 5 ms to ~20 s.
fn seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 13))
}

struct Metrics {
    registry: Registry,
    http_requests: Family<RequestLabels, Counter>,
    http_seconds: Histograms<RouteLabels>,
    reconcile_seconds: Histograms<EngineLabels>,
    reconcile_errors: Family<EngineLabels, Counter>,
    engine_leader: Family<EngineLabels, Gauge>,
    engine_queue: Family<EngineLabels, Gauge>,
    engine_failing: Family<EngineLabels, Gauge>,
    kubernetes_requests: Family<KubernetesLabels, Counter>,
    releases: Family<ReleaseLabels, Counter>,
    databases: Family<DatabaseLabels, Counter>,
    git_fetch_failures: Counter,
    webhook_deliveries: Family<WebhookLabels, Counter>,
}

impl Metrics {
    fn new() -> Metrics {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("dscloud"),
            http_requests: Family::default(),
            http_seconds: Family::new_with_constructor(seconds),
            reconcile_seconds: Family::new_with_constructor(seconds),
            reconcile_errors: Family::default(),
            engine_leader: Family::default(),
            engine_queue: Family::default(),
            engine_failing: Family::default(),
            kubernetes_requests: Family::default(),
            releases: Family::default(),
            databases: Family::default(),
            git_fetch_failures: Counter::default(),
            webhook_deliveries: Family::default(),
        };
        metrics.registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            metrics.http_requests.clone(),
        );
        metrics.registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            metrics.http_seconds.clone(),
        );
        metrics.registry.register(
            "engine_reconcile_seconds",
            "Time one reconcile of one item took, by engine",
            metrics.reconcile_seconds.clone(),
        );
        metrics.registry.register(
            "engine_reconcile_errors",
            "Reconciles that failed and will be retried, by engine",
            metrics.reconcile_errors.clone(),
        );
        metrics.registry.register(
            "engine_leader",
            "1 where this replica runs the engine (holds its Lease), else 0",
            metrics.engine_leader.clone(),
        );
        metrics.registry.register(
            "engine_queue_depth",
            "Items due and waiting for a reconcile, by engine",
            metrics.engine_queue.clone(),
        );
        metrics.registry.register(
            "engine_items_failing",
            "Items backing off after a failure, by engine",
            metrics.engine_failing.clone(),
        );
        metrics.registry.register(
            "kubernetes_requests",
            "Requests to Kubernetes, by verb, kind and HTTP code (or timeout, unreachable)",
            metrics.kubernetes_requests.clone(),
        );
        metrics.registry.register(
            "release",
            "Deployments that ended, by environment and result",
            metrics.releases.clone(),
        );
        metrics.registry.register(
            "database_status",
            "Database statuses reported by the provisioning engine, by engine and status",
            metrics.databases.clone(),
        );
        metrics.registry.register(
            "git_fetch_fail",
            "Fetches of app repositories that failed",
            metrics.git_fetch_failures.clone(),
        );
        metrics.registry.register(
            "webhook_deliveries",
            "Push webhooks received, by forge and result",
            metrics.webhook_deliveries.clone(),
        );
        metrics
    }
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// The text a scrape gets: every metric, with the engines' gauges read
/// from `board` at this moment.
pub fn render(board: &Board) -> String {
    let metrics = metrics();
    for engine in app::engines::EngineBoard::engines(board) {
        let labels = EngineLabels {
            engine: engine.name.clone(),
        };
        metrics
            .engine_leader
            .get_or_create(&labels)
            .set(i64::from(engine.leading));
        metrics
            .engine_queue
            .get_or_create(&labels)
            .set(i64::try_from(engine.queued).unwrap_or(i64::MAX));
        metrics
            .engine_failing
            .get_or_create(&labels)
            .set(i64::try_from(engine.failing).unwrap_or(i64::MAX));
    }
    let mut text = String::new();
    if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &metrics.registry) {
        tracing::error!(%error, "cannot encode the metrics");
    }
    text
}

/// One HTTP request answered.
pub fn http_request(method: &str, route: &str, status: u16, took: Duration) {
    let metrics = metrics();
    metrics
        .http_requests
        .get_or_create(&RequestLabels {
            method: method.to_string(),
            route: route.to_string(),
            status,
        })
        .inc();
    metrics
        .http_seconds
        .get_or_create(&RouteLabels {
            route: route.to_string(),
        })
        .observe(took.as_secs_f64());
}

/// One reconcile of `engine` ended after `took`; `failed` if it will be retried.
pub fn reconciled(engine: &str, took: Duration, failed: bool) {
    let metrics = metrics();
    let labels = EngineLabels {
        engine: engine.to_string(),
    };
    metrics
        .reconcile_seconds
        .get_or_create(&labels)
        .observe(took.as_secs_f64());
    if failed {
        metrics.reconcile_errors.get_or_create(&labels).inc();
    }
}

/// One request to Kubernetes: `code` is the HTTP status, `timeout` or `unreachable`.
pub fn kubernetes_request(verb: &str, kind: &str, code: &str) {
    metrics()
        .kubernetes_requests
        .get_or_create(&KubernetesLabels {
            verb: verb.to_string(),
            kind: kind.to_string(),
            code: code.to_string(),
        })
        .inc();
}

/// A deployment ended in `env` with `result` (succeeded, failed, …).
pub fn release_ended(env: &str, result: &str) {
    metrics()
        .releases
        .get_or_create(&ReleaseLabels {
            env: env.to_string(),
            result: result.to_string(),
        })
        .inc();
}

/// The provisioning engine reported a database of `engine` as `status`.
pub fn database_status(engine: &str, status: &str) {
    metrics()
        .databases
        .get_or_create(&DatabaseLabels {
            engine: engine.to_string(),
            status: status.to_string(),
        })
        .inc();
}

pub fn git_fetch_failed() {
    metrics().git_fetch_failures.inc();
}

/// A push webhook from `provider` (github, gitlab, …) ended with `result`.
pub fn webhook_delivery(provider: &str, result: &str) {
    metrics()
        .webhook_deliveries
        .get_or_create(&WebhookLabels {
            provider: provider.to_string(),
            result: result.to_string(),
        })
        .inc();
}
