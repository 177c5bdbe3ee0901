//! How a microservice is reached: its Service, and an Ingress per rule.

use std::collections::BTreeMap;

use app::dscloud::{IngressRule, Microservice, Protocol, WorkloadKind, defaults};
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressServiceBackend,
    IngressSpec, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::labels;
use super::{Manifest, Target, bounded};

/// The annotations of ingress-nginx, the controller the portal's clusters run.
const USE_REGEX: &str = "nginx.ingress.kubernetes.io/use-regex";
const REWRITE_TARGET: &str = "nginx.ingress.kubernetes.io/rewrite-target";

pub fn microservice(name: &str, microservice: &Microservice, target: &Target<'_>) -> Vec<Manifest> {
    let mut manifests = vec![Manifest::Service(service(name, microservice, target))];
    manifests.extend(
        microservice
            .ingress
            .iter()
            .map(|rule| Manifest::Ingress(ingress(name, rule, target))),
    );
    manifests
}

/// With ingress rules, a port per rule; without, one private port: the first
/// probe's, or 8080. A StatefulSet's Service is headless, so each pod has a
/// stable DNS name.
fn service(name: &str, microservice: &Microservice, target: &Target<'_>) -> Service {
    let ports: Vec<ServicePort> = if microservice.ingress.is_empty() {
        let probes = &microservice.deployment.probes;
        let port = probes
            .readiness
            .iter()
            .chain(probes.liveness.iter())
            .map(|probe| probe.port)
            .next()
            .unwrap_or(defaults::SERVICE_PORT);
        vec![service_port(port, port)]
    } else {
        microservice
            .ingress
            .iter()
            .map(|rule| service_port(rule.port, rule.container_port))
            .collect()
    };
    let headless = microservice.deployment.kind == WorkloadKind::StatefulSet;
    Service {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(target.namespace()),
            labels: Some(labels::component(name, "microservice", target)),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_string()),
            cluster_ip: headless.then(|| "None".to_string()),
            selector: Some(labels::selector(name, target)),
            ports: Some(ports),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

fn service_port(port: u16, container_port: u16) -> ServicePort {
    ServicePort {
        name: Some(format!("port-{port}")),
        port: i32::from(port),
        target_port: Some(IntOrString::Int(i32::from(container_port))),
        protocol: Some("TCP".to_string()),
        ..ServicePort::default()
    }
}

/// One Ingress per rule, because the rewrite annotation applies to a whole
/// Ingress. With a rewrite, the prefix becomes a regular expression whose
/// remainder is appended to the rewritten prefix: `/foo-api/x` → `/x`.
fn ingress(name: &str, rule: &IngressRule, target: &Target<'_>) -> Ingress {
    debug_assert_eq!(rule.protocol, Protocol::Http);
    let base = rule.path_prefix.trim_end_matches('/');
    let (path, path_type, annotations) = match &rule.path_prefix_rewrite {
        Some(rewrite) => {
            let (pattern, group) = if base.is_empty() {
                ("/(.*)".to_string(), 1)
            } else {
                (format!("{base}(/|$)(.*)"), 2)
            };
            let annotations = BTreeMap::from([
                (USE_REGEX.to_string(), "true".to_string()),
                (
                    REWRITE_TARGET.to_string(),
                    format!("{}/${group}", rewrite.trim_end_matches('/')),
                ),
            ]);
            (pattern, "ImplementationSpecific", Some(annotations))
        }
        None => (
            if base.is_empty() {
                "/".to_string()
            } else {
                base.to_string()
            },
            "Prefix",
            None,
        ),
    };
    let settings = target.ingress.cloned().unwrap_or_default();
    Ingress {
        metadata: ObjectMeta {
            name: Some(bounded(name, &format!("port-{}", rule.port))),
            namespace: Some(target.namespace()),
            labels: Some(labels::component(name, "microservice", target)),
            annotations,
            ..ObjectMeta::default()
        },
        spec: Some(IngressSpec {
            ingress_class_name: settings.class.clone(),
            rules: Some(vec![k8s_openapi::api::networking::v1::IngressRule {
                host: settings.host_for(target.app),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some(path),
                        path_type: path_type.to_string(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: name.to_string(),
                                port: Some(ServiceBackendPort {
                                    number: Some(i32::from(rule.port)),
                                    ..ServiceBackendPort::default()
                                }),
                            }),
                            ..IngressBackend::default()
                        },
                    }],
                }),
            }]),
            ..IngressSpec::default()
        }),
        ..Ingress::default()
    }
}
