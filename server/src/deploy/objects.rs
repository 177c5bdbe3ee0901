//! What the deploy engine writes for a release in one environment: the
//! renderer's objects (`crate::manifests`), with each image by digest and
//! the engine's own labels, sorted by what the engine does with them.

use std::collections::BTreeMap;

use app::dscloud::DscloudFile;
use serde_json::{Value, json};
use uuid::Uuid;

use super::ENGINE;
use super::build::BuildTarget;
use crate::cluster::Kind;
use crate::manifests::{self, Manifest, RenderError, Target, labels};

/// The label that names the app by id: watch events find their item by it.
pub const APP_ID_LABEL: &str = "dscloud.io/app-id";
/// The release (its id in the portal) an object was applied for.
pub const RELEASE_LABEL: &str = "dscloud.io/release";

/// The kinds a release is made of, which pruning looks through.
pub const PRUNED: [Kind; 6] = [
    Kind::DEPLOYMENT,
    Kind::STATEFUL_SET,
    Kind::SERVICE,
    Kind::INGRESS,
    Kind::CRON_JOB,
    Kind::JOB,
];

/// Whose release, where.
pub struct Subject<'a> {
    pub app_id: Uuid,
    pub app: &'a str,
    pub environment: &'a str,
    pub commit: &'a str,
    pub release_id: i64,
    pub registry: &'a str,
    pub ingress: Option<&'a crate::manifests::IngressSettings>,
}

/// A release's objects in one environment.
#[derive(Debug, Default)]
pub struct Release {
    /// Applied in order: the namespace, workloads, services, ingresses, cronjobs.
    pub applied: Vec<(Kind, Value)>,
    /// Deployments and StatefulSets, whose rollout is waited for.
    pub workloads: Vec<(Kind, String)>,
    /// The release's Jobs (once per commit), by name.
    pub jobs: BTreeMap<String, Value>,
    /// The integration tests, by microservice.
    pub tests: BTreeMap<String, Value>,
}

impl Release {
    pub fn namespace(subject: &Subject<'_>) -> String {
        target(subject).namespace()
    }
}

fn target<'a>(subject: &'a Subject<'a>) -> Target<'a> {
    Target {
        app: subject.app,
        environment: subject.environment,
        commit: subject.commit,
        registry: subject.registry,
        ingress: subject.ingress,
    }
}

/// The labels on everything the engine creates for an app: whose, and
/// which environment (so a watch event wakes that environment).
pub fn engine_labels(app_id: Uuid, environment: &str) -> Value {
    let mut labels = ENGINE.labels();
    labels.insert(APP_ID_LABEL.into(), json!(app_id.to_string()));
    labels.insert(labels::ENVIRONMENT.into(), json!(environment));
    Value::Object(labels)
}

/// The selector of the engine's objects of one app.
pub fn app_selector(app_id: Uuid) -> String {
    format!("{},{APP_ID_LABEL}={app_id}", ENGINE.selector())
}

/// Renders the release for the environment, images by digest where built.
pub fn release(
    file: &DscloudFile,
    subject: &Subject<'_>,
    images: &BTreeMap<String, String>,
) -> Result<Release, RenderError> {
    let target = target(subject);
    let manifests = manifests::render(file, &target)?;
    // The renderer names images by tag; deployments use the digest built.
    let by_digest: BTreeMap<String, String> = images
        .iter()
        .map(|(component, image)| {
            let tag = BuildTarget {
                app: subject.app,
                component,
                commit: subject.commit,
                registry: subject.registry,
                repository_url: "",
            }
            .tag();
            (tag, image.clone())
        })
        .collect();
    let mut release = Release::default();
    for manifest in manifests {
        let mut object = serde_json::to_value(&manifest).unwrap_or(Value::Null);
        object["apiVersion"] = json!(api_version(&manifest));
        object["kind"] = json!(manifest.kind());
        add_labels(&mut object, subject);
        replace_images(&mut object, &by_digest);
        let name = manifest.name().to_string();
        match &manifest {
            Manifest::Namespace(_) => release.applied.push((Kind::NAMESPACE, object)),
            Manifest::Deployment(_) => {
                release.workloads.push((Kind::DEPLOYMENT, name));
                release.applied.push((Kind::DEPLOYMENT, object));
            }
            Manifest::StatefulSet(_) => {
                release.workloads.push((Kind::STATEFUL_SET, name));
                release.applied.push((Kind::STATEFUL_SET, object));
            }
            Manifest::Service(_) => release.applied.push((Kind::SERVICE, object)),
            Manifest::Ingress(_) => release.applied.push((Kind::INGRESS, object)),
            Manifest::CronJob(_) => release.applied.push((Kind::CRON_JOB, object)),
            Manifest::Job(job) => {
                let tests = job
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|labels| labels.get(labels::TESTS))
                    .cloned();
                match tests {
                    Some(microservice) => {
                        release.tests.insert(microservice, object);
                    }
                    None => {
                        release.jobs.insert(name, object);
                    }
                }
            }
        }
    }
    Ok(release)
}

fn api_version(manifest: &Manifest) -> &'static str {
    match manifest {
        Manifest::Namespace(_) | Manifest::Service(_) => "v1",
        Manifest::Deployment(_) | Manifest::StatefulSet(_) => "apps/v1",
        Manifest::Ingress(_) => "networking.k8s.io/v1",
        Manifest::Job(_) | Manifest::CronJob(_) => "batch/v1",
    }
}

fn add_labels(object: &mut Value, subject: &Subject<'_>) {
    let Value::Object(extra) = engine_labels(subject.app_id, subject.environment) else {
        return;
    };
    let labels = &mut object["metadata"]["labels"];
    if !labels.is_object() {
        *labels = json!({});
    }
    if let Some(labels) = labels.as_object_mut() {
        labels.extend(extra);
        labels.insert(RELEASE_LABEL.into(), json!(subject.release_id.to_string()));
    }
}

/// Every `image` field naming a built tag now names its digest.
fn replace_images(value: &mut Value, by_digest: &BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                if key == "image"
                    && let Some(image) = field.as_str().and_then(|tag| by_digest.get(tag))
                {
                    *field = json!(image);
                } else {
                    replace_images(field, by_digest);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                replace_images(item, by_digest);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn subject() -> Subject<'static> {
        Subject {
            app_id: Uuid::nil(),
            app: "shop",
            environment: "dev",
            commit: SHA,
            release_id: 7,
            registry: "registry.example",
            ingress: None,
        }
    }

    #[test]
    fn objects_carry_the_engines_labels_and_images_by_digest() {
        let file = app::dscloud::check(
            "microservices:\n  web:\n    environmentConfiguration: {dev: {}}\n    integrationTests:\n      dev: {}\njobs:\n  migrate:\n    environmentConfiguration: {dev: {}}\n",
        )
        .file
        .expect("a valid file");
        let digest = format!("registry.example/shop/web@sha256:{}", "b".repeat(64));
        let images = BTreeMap::from([("web".to_string(), digest.clone())]);
        let release = release(&file, &subject(), &images).unwrap();
        assert_eq!(release.workloads, [(Kind::DEPLOYMENT, "web".to_string())]);
        assert_eq!(
            release.jobs.keys().collect::<Vec<_>>(),
            ["migrate-01234567"]
        );
        assert_eq!(release.tests.keys().collect::<Vec<_>>(), ["web"]);
        let (_, deployment) = release
            .applied
            .iter()
            .find(|(kind, _)| *kind == Kind::DEPLOYMENT)
            .unwrap();
        assert_eq!(deployment["apiVersion"], "apps/v1");
        assert_eq!(
            deployment["spec"]["template"]["spec"]["containers"][0]["image"],
            json!(digest)
        );
        let labels = &deployment["metadata"]["labels"];
        assert_eq!(labels["dscloud.io/engine"], "deploy");
        assert_eq!(labels[APP_ID_LABEL], Uuid::nil().to_string());
        assert_eq!(labels[RELEASE_LABEL], "7");
        // Not built (no digest recorded): the tag stays.
        let job = &release.jobs["migrate-01234567"];
        assert_eq!(
            job["spec"]["template"]["spec"]["containers"][0]["image"],
            json!(format!("registry.example/shop/migrate:{SHA}"))
        );
    }

    #[test]
    fn each_environment_gives_its_ingress_host_and_class() {
        let file = app::dscloud::check(
            "microservices:\n  web:\n    environmentConfiguration: {dev: {}}\n    ingress:\n      - port: 80\n        containerPort: 8080\n        protocol: HTTP\n        pathPrefix: /shop/\n",
        );
        let file = file.file.unwrap_or_else(|| panic!("{:?}", file.problems));
        let ingress_of = |release: &Release| {
            release
                .applied
                .iter()
                .find(|(kind, _)| *kind == Kind::INGRESS)
                .map(|(_, object)| object.clone())
                .unwrap()
        };
        let settings = crate::manifests::IngressSettings {
            host: Some("{app}.dev.example.com".into()),
            class: Some("nginx-internal".into()),
        };
        let configured = Subject {
            ingress: Some(&settings),
            ..subject()
        };
        let object = ingress_of(&release(&file, &configured, &BTreeMap::new()).unwrap());
        assert_eq!(object["spec"]["ingressClassName"], "nginx-internal");
        assert_eq!(object["spec"]["rules"][0]["host"], "shop.dev.example.com");
        assert_eq!(
            object["spec"]["rules"][0]["http"]["paths"][0]["path"],
            "/shop"
        );
        // An environment that says nothing leaves both to the cluster's defaults.
        let plain = ingress_of(&release(&file, &subject(), &BTreeMap::new()).unwrap());
        assert!(plain["spec"].get("ingressClassName").is_none(), "{plain}");
        assert!(plain["spec"]["rules"][0].get("host").is_none(), "{plain}");
    }
}
