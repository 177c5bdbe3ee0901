//! Pods and what runs them: Deployments, StatefulSets, Jobs, CronJobs and the
//! integration-test Job.

use std::collections::{BTreeMap, BTreeSet};

use app::dscloud::{self, Common, Cronjob, IntegrationTests, Microservice, Protocol, WorkloadKind};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SecretKeySelector, TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::labels::{self, Labels};
use super::{APP_SECRET, INTEGRATION_TESTS, Manifest, Target, bounded, secret_group};

/// A microservice's Deployment or StatefulSet.
pub fn microservice(name: &str, microservice: &Microservice, target: &Target<'_>) -> Vec<Manifest> {
    let deployment = &microservice.deployment;
    let labels = labels::component(name, "microservice", target);
    let mut container = container(
        name,
        target.image(name),
        environment(&microservice.common, target.environment),
        resources(deployment.memory_mb, deployment.cpu_pct),
    );
    container.ports = Some(container_ports(microservice));
    container.readiness_probe = deployment.probes.readiness.as_ref().map(probe);
    container.liveness_probe = deployment.probes.liveness.as_ref().map(probe);
    let template = pod_template(&labels, container, "Always");
    let replicas = i32::try_from(deployment.instances).ok();
    let metadata = metadata(name, target, labels.clone());
    let selector = LabelSelector {
        match_labels: Some(labels::selector(name, target)),
        ..LabelSelector::default()
    };
    let workload = match deployment.kind {
        WorkloadKind::Deployment => Manifest::Deployment(Deployment {
            metadata,
            spec: Some(DeploymentSpec {
                replicas,
                selector,
                template,
                ..DeploymentSpec::default()
            }),
            ..Deployment::default()
        }),
        WorkloadKind::StatefulSet => Manifest::StatefulSet(StatefulSet {
            metadata,
            spec: Some(StatefulSetSpec {
                replicas,
                selector,
                // The headless Service of the same name (network.rs).
                service_name: Some(name.to_string()),
                template,
                ..StatefulSetSpec::default()
            }),
            ..StatefulSet::default()
        }),
    };
    vec![workload]
}

/// A job runs once per commit: its name carries the commit, so applying the
/// same commit again finds the Job already there instead of starting another.
pub fn job(name: &str, job: &dscloud::Job, target: &Target<'_>) -> Job {
    let labels = labels::component(name, "job", target);
    let container = container(
        name,
        target.image(name),
        environment(&job.common, target.environment),
        resources(job.memory_mb, job.cpu_pct),
    );
    run_once(
        bounded(name, target.short_commit()),
        target,
        labels,
        container,
    )
}

pub fn cronjob(name: &str, cronjob: &Cronjob, target: &Target<'_>) -> CronJob {
    let labels = labels::component(name, "cronjob", target);
    let container = container(
        name,
        target.image(name),
        environment(&cronjob.common, target.environment),
        resources(cronjob.memory_mb, cronjob.cpu_pct),
    );
    CronJob {
        metadata: metadata(name, target, labels.clone()),
        spec: Some(CronJobSpec {
            schedule: cronjob.schedule.clone(),
            // A run still going when the next is due is not doubled.
            concurrency_policy: Some("Forbid".to_string()),
            failed_jobs_history_limit: i32::try_from(cronjob.failed_jobs_history_limit).ok(),
            successful_jobs_history_limit: i32::try_from(cronjob.successful_jobs_history_limit)
                .ok(),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.clone()),
                    ..ObjectMeta::default()
                }),
                spec: Some(JobSpec {
                    backoff_limit: Some(0),
                    template: pod_template(&labels, container, "Never"),
                    ..JobSpec::default()
                }),
            },
            ..CronJobSpec::default()
        }),
        ..CronJob::default()
    }
}

/// The Job that runs a microservice's integration tests after its rollout:
/// the image built from `<microservice>-integration-tests/`, once per commit.
pub fn integration_tests(microservice: &str, tests: &IntegrationTests, target: &Target<'_>) -> Job {
    let directory = format!("{microservice}-{INTEGRATION_TESTS}");
    // Named after its own directory, so the microservice's Service never selects its pods.
    let mut labels = labels::component(&directory, INTEGRATION_TESTS, target);
    labels.insert(labels::TESTS.to_string(), microservice.to_string());
    let mut variables: Vec<EnvVar> = tests
        .env
        .iter()
        .map(|(name, value)| plain_variable(name, value))
        .collect();
    variables.extend(
        tests
            .secrets
            .iter()
            .map(|(name, group)| secret_variable(name, &secret_group(group))),
    );
    let container = container(
        &directory,
        target.image(&directory),
        variables,
        resources(dscloud::defaults::MEMORY_MB, dscloud::defaults::CPU_PCT),
    );
    run_once(
        bounded(&directory, target.short_commit()),
        target,
        labels,
        container,
    )
}

fn run_once(name: String, target: &Target<'_>, labels: Labels, container: Container) -> Job {
    Job {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(target.namespace()),
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            // One attempt: a failure is reported, not retried behind the user's back.
            backoff_limit: Some(0),
            template: pod_template(&labels, container, "Never"),
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

fn metadata(name: &str, target: &Target<'_>, labels: Labels) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(target.namespace()),
        labels: Some(labels),
        ..ObjectMeta::default()
    }
}

fn pod_template(labels: &Labels, container: Container, restart_policy: &str) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: vec![container],
            restart_policy: Some(restart_policy.to_string()),
            ..PodSpec::default()
        }),
    }
}

fn container(
    name: &str,
    image: String,
    env: Vec<EnvVar>,
    resources: ResourceRequirements,
) -> Container {
    Container {
        name: name.to_string(),
        image: Some(image),
        env: (!env.is_empty()).then_some(env),
        resources: Some(resources),
        ..Container::default()
    }
}

/// The environment's configuration as plain variables, then the secret
/// values, each read from the app's Secret for the environment.
fn environment(common: &Common, environment: &str) -> Vec<EnvVar> {
    let mut variables: Vec<EnvVar> = common
        .environment_configuration
        .get(environment)
        .into_iter()
        .flatten()
        .map(|(name, value)| plain_variable(name, value))
        .collect();
    variables.extend(
        common
            .secret_values
            .iter()
            .map(|name| secret_variable(name, APP_SECRET)),
    );
    variables
}

fn plain_variable(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.to_string()),
        ..EnvVar::default()
    }
}

fn secret_variable(name: &str, secret: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_string(),
                key: name.to_string(),
                // A missing value must stop the pod, not start it without.
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

/// `memoryMB` is both request and limit; `cpuPct` is the request and the limit
/// in millicores (100 % = one core = 1000m).
fn resources(memory_mb: u32, cpu_pct: u32) -> ResourceRequirements {
    let amounts = BTreeMap::from([
        (
            "cpu".to_string(),
            Quantity(format!("{}m", u64::from(cpu_pct) * 10)),
        ),
        ("memory".to_string(), Quantity(format!("{memory_mb}Mi"))),
    ]);
    ResourceRequirements {
        limits: Some(amounts.clone()),
        requests: Some(amounts),
        ..ResourceRequirements::default()
    }
}

/// Every port the pod listens on: the ingress ports, the probe ports, or the
/// private Service's default port.
fn container_ports(microservice: &Microservice) -> Vec<ContainerPort> {
    let mut ports: BTreeSet<u16> = microservice
        .ingress
        .iter()
        .map(|rule| rule.container_port)
        .collect();
    let probes = &microservice.deployment.probes;
    ports.extend(
        probes
            .readiness
            .iter()
            .chain(probes.liveness.iter())
            .map(|probe| probe.port),
    );
    if ports.is_empty() {
        ports.insert(dscloud::defaults::SERVICE_PORT);
    }
    ports
        .into_iter()
        .map(|port| ContainerPort {
            container_port: i32::from(port),
            name: Some(format!("port-{port}")),
            protocol: Some("TCP".to_string()),
            ..ContainerPort::default()
        })
        .collect()
}

fn probe(probe: &dscloud::Probe) -> Probe {
    let port = IntOrString::Int(i32::from(probe.port));
    let (http_get, tcp_socket) = match probe.protocol {
        Protocol::Http => (
            Some(HTTPGetAction {
                path: Some(probe.path.clone().unwrap_or_else(|| "/".to_string())),
                port,
                ..HTTPGetAction::default()
            }),
            None,
        ),
        Protocol::Tcp => (
            None,
            Some(TCPSocketAction {
                port,
                ..TCPSocketAction::default()
            }),
        ),
    };
    Probe {
        http_get,
        tcp_socket,
        timeout_seconds: i32::try_from(probe.timeout_seconds).ok(),
        ..Probe::default()
    }
}
