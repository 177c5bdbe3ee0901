//! Benchmark: parse + validate + render a `dscloud.yaml` of 50 components
//! (30 microservices, 10 jobs, 10 cronjobs, three environments each).
//!
//! `cargo bench -p server --bench dscloud` prints the median and 95th
//! percentile of each phase over many runs.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use app::dscloud::{DEFAULT_PROMOTION_ORDER, check};
use server::manifests::{Target, render, to_yaml};

const RUNS: usize = 300;

fn fifty_components() -> String {
    let environments = |out: &mut String, index: usize| {
        out.push_str("    environmentConfiguration:\n");
        for environment in ["dev", "test", "prod"] {
            let _ = writeln!(out, "      {environment}:");
            for variable in 0..5 {
                let _ = writeln!(
                    out,
                    "        VARIABLE_{variable}: value-{index}-{environment}-{variable}"
                );
            }
            out.push_str("        TRACING: false\n");
        }
        out.push_str("    secretValues: [DATABASE_USERNAME, DATABASE_PASSWORD]\n");
    };
    let mut out = String::from("microservices:\n");
    for index in 0..30 {
        let _ = writeln!(
            out,
            "  service-{index}:\n    description: Service number {index}"
        );
        environments(&mut out, index);
        let _ = write!(
            out,
            "    deployment:\n      memoryMB: 512\n      cpuPct: 150\n      instances: 3\n      probes:\n        readiness: {{protocol: HTTP, port: 8080, path: /ready, timeoutSeconds: 5}}\n        liveness: {{protocol: HTTP, port: 8080, path: /health}}\n    ingress:\n      - port: 80\n        containerPort: 8080\n        pathPrefix: /service-{index}/\n        pathPrefixRewrite: /\n    integrationTests:\n      test:\n        env: {{TEST_TYPE: full}}\n        secrets: {{TEST_PASSWORD: service-{index}}}\n"
        );
    }
    out.push_str("jobs:\n");
    for index in 0..10 {
        let _ = writeln!(out, "  job-{index}:\n    memoryMB: 128\n    cpuPct: 50");
        environments(&mut out, index);
    }
    out.push_str("cronjobs:\n");
    for index in 0..10 {
        let _ = writeln!(
            out,
            "  cron-{index}:\n    schedule: \"*/{} * * * *\"",
            index + 5
        );
        environments(&mut out, index);
    }
    out
}

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    let median = samples[samples.len() / 2];
    let p95 = samples[samples.len() * 95 / 100];
    println!(
        "{name:<28} median {:>8.3} ms   p95 {:>8.3} ms",
        median.as_secs_f64() * 1e3,
        p95.as_secs_f64() * 1e3
    );
}

fn main() {
    let text = fifty_components();
    let file = match check(&text).file {
        Some(file) => file,
        None => {
            eprintln!(
                "the benchmark file does not check: {:?}",
                check(&text).problems
            );
            std::process::exit(1);
        }
    };
    let environments = file.environments(DEFAULT_PROMOTION_ORDER);
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let render_all = |file: &app::dscloud::DscloudFile| -> (usize, usize) {
        let mut objects = 0;
        let mut bytes = 0;
        for environment in &environments {
            let target = Target {
                app: "bench",
                environment,
                commit,
                registry: "registry.local",
                ingress: None,
            };
            if let Ok(manifests) = render(file, &target) {
                objects += manifests.len();
                bytes += to_yaml(&manifests).len();
            }
        }
        (objects, bytes)
    };
    let (objects, bytes) = render_all(&file);
    println!(
        "dscloud.yaml: {} bytes, {} components, {} environments -> {objects} objects, {bytes} bytes of YAML",
        text.len(),
        file.component_count(),
        environments.len()
    );

    let (mut checking, mut rendering, mut total) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let start = Instant::now();
        let checked = black_box(check(black_box(&text)));
        let checked_at = Instant::now();
        if let Some(file) = &checked.file {
            black_box(render_all(file));
        }
        let end = Instant::now();
        checking.push(checked_at - start);
        rendering.push(end - checked_at);
        total.push(end - start);
    }
    summary("parse + validate", checking);
    summary("render 3 envs to YAML", rendering);
    summary("total", total);
}
