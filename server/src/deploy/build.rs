//! Building a release's images: one Kubernetes Job per component in the
//! build namespace, BuildKit rootless (../shared/docs/deploy-engine.md,
//! "Builds"). The Job is a pure function of the app, component, commit and
//! registry; the image's digest comes back in the container's termination
//! message (`--metadata-file=/dev/termination-log`).

use app::dscloud::DscloudFile;
use serde_json::{Value, json};

use crate::manifests::{INTEGRATION_TESTS, bounded};

/// Builds run here: BuildKit needs seccomp and AppArmor `Unconfined`, which
/// Pod Security `baseline` forbids, so not in the apps' namespaces.
pub const BUILD_NAMESPACE: &str = "dscloud-builds";
pub const BUILDER_IMAGE: &str = "moby/buildkit:v0.32.2-rootless";
/// The `kubernetes.io/dockerconfigjson` Secret the builder pushes with.
pub const REGISTRY_SECRET: &str = "registry-credentials";
/// A build that takes longer is stopped by Kubernetes.
pub const BUILD_DEADLINE_SECONDS: i64 = 1800;
/// Finished build Jobs are cleaned up by Kubernetes after a day (their
/// result is in the store by then).
const BUILD_TTL_SECONDS: i64 = 86_400;

/// Every directory of the repository that makes an image, in a stable order:
/// microservices, their integration tests, jobs, cronjobs.
pub fn components(file: &DscloudFile) -> Vec<String> {
    let mut components = Vec::new();
    for (name, microservice) in &file.microservices {
        components.push(name.clone());
        if !microservice.integration_tests.is_empty() {
            components.push(format!("{name}-{INTEGRATION_TESTS}"));
        }
    }
    components.extend(file.jobs.keys().cloned());
    components.extend(file.cronjobs.keys().cloned());
    components
}

/// What one build makes.
pub struct BuildTarget<'a> {
    pub app: &'a str,
    pub component: &'a str,
    pub commit: &'a str,
    pub registry: &'a str,
    pub repository_url: &'a str,
}

impl BuildTarget<'_> {
    pub fn job_name(&self) -> String {
        let short = self.commit.get(..8).unwrap_or(self.commit);
        bounded(&format!("build-{}-{}", self.app, self.component), short)
    }

    /// The tag it pushes: `<registry>/<app>/<component>:<sha>`.
    pub fn tag(&self) -> String {
        format!(
            "{}/{}/{}:{}",
            self.registry.trim_end_matches('/'),
            self.app,
            self.component,
            self.commit
        )
    }

    /// The image by digest, as deployments use it.
    pub fn by_digest(&self, digest: &str) -> String {
        format!(
            "{}/{}/{}@{digest}",
            self.registry.trim_end_matches('/'),
            self.app,
            self.component
        )
    }
}

/// The build Job, with `labels` (the engine's, and what wakes it).
pub fn job(target: &BuildTarget<'_>, labels: Value) -> Value {
    let context = format!(
        "context={}#{}:{}",
        target.repository_url, target.commit, target.component
    );
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": target.job_name(), "namespace": BUILD_NAMESPACE, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": BUILD_DEADLINE_SECONDS,
            "ttlSecondsAfterFinished": BUILD_TTL_SECONDS,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "buildkit",
                        "image": BUILDER_IMAGE,
                        "command": ["buildctl-daemonless.sh"],
                        "args": [
                            "build",
                            "--frontend=dockerfile.v0",
                            format!("--opt={context}"),
                            "--opt=filename=Dockerfile",
                            format!("--output=type=image,name={},push=true", target.tag()),
                            "--metadata-file=/dev/termination-log",
                        ],
                        "env": [
                            {"name": "BUILDKITD_FLAGS", "value": "--oci-worker-no-process-sandbox"},
                            {"name": "DOCKER_CONFIG", "value": "/home/user/.docker"},
                        ],
                        "securityContext": {
                            "runAsUser": 1000,
                            "runAsGroup": 1000,
                            "seccompProfile": {"type": "Unconfined"},
                            "appArmorProfile": {"type": "Unconfined"},
                        },
                        "volumeMounts": [
                            {"name": "buildkitd", "mountPath": "/home/user/.local/share/buildkit"},
                            {"name": "registry", "mountPath": "/home/user/.docker", "readOnly": true},
                        ],
                    }],
                    "volumes": [
                        {"name": "buildkitd", "emptyDir": {}},
                        {"name": "registry", "secret": {"secretName": REGISTRY_SECRET, "optional": true,
                            "items": [{"key": ".dockerconfigjson", "path": "config.json"}]}},
                    ],
                },
            },
        },
    })
}

/// The build namespace, allowed to run the builder.
pub fn namespace(labels: Value) -> Value {
    let mut labels = labels;
    labels["pod-security.kubernetes.io/enforce"] = json!("privileged");
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": BUILD_NAMESPACE, "labels": labels}})
}

/// The digest in BuildKit's metadata file (the termination message).
pub fn digest_of(message: &str) -> Option<String> {
    let metadata: Value = serde_json::from_str(message).ok()?;
    let digest = metadata["containerimage.digest"].as_str()?;
    let valid = digest
        .strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    valid.then(|| digest.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn target() -> BuildTarget<'static> {
        BuildTarget {
            app: "shop",
            component: "web",
            commit: SHA,
            registry: "registry.example/",
            repository_url: "https://git.example/shop.git",
        }
    }

    #[test]
    fn the_build_job_is_buildkit_rootless_for_one_component_and_commit() {
        let job = job(&target(), json!({"dscloud.io/engine": "deploy"}));
        assert_eq!(job["metadata"]["name"], "build-shop-web-01234567");
        assert_eq!(job["metadata"]["namespace"], BUILD_NAMESPACE);
        assert_eq!(job["spec"]["backoffLimit"], 0);
        let container = &job["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], BUILDER_IMAGE);
        assert_eq!(container["command"][0], "buildctl-daemonless.sh");
        let args: Vec<&str> = container["args"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(args.contains(&"--opt=context=https://git.example/shop.git#0123456789abcdef0123456789abcdef01234567:web"));
        assert!(args.contains(&"--output=type=image,name=registry.example/shop/web:0123456789abcdef0123456789abcdef01234567,push=true"));
        assert!(args.contains(&"--metadata-file=/dev/termination-log"));
        assert_eq!(container["securityContext"]["runAsUser"], 1000);
        assert_eq!(
            container["securityContext"]["seccompProfile"]["type"],
            "Unconfined"
        );
        // The same inputs make the same Job.
        assert_eq!(
            job,
            super::job(&target(), json!({"dscloud.io/engine": "deploy"}))
        );
    }

    #[test]
    fn the_digest_is_read_from_buildkits_metadata() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let message = format!("{{\"containerimage.digest\": \"{digest}\"}}");
        assert_eq!(digest_of(&message), Some(digest.clone()));
        assert_eq!(
            digest_of("{\"containerimage.digest\": \"sha256:xyz\"}"),
            None
        );
        assert_eq!(digest_of("not json"), None);
        assert_eq!(
            target().by_digest(&digest),
            format!("registry.example/shop/web@{digest}")
        );
    }

    #[test]
    fn every_directory_with_a_dockerfile_is_a_component() {
        let checked = app::dscloud::check(
            "microservices:\n  web:\n    environmentConfiguration: {dev: {}}\n    integrationTests:\n      dev: {}\njobs:\n  migrate:\n    environmentConfiguration: {dev: {}}\n",
        );
        let file = checked.file.expect("a valid file");
        assert_eq!(
            components(&file),
            ["web", "web-integration-tests", "migrate"]
        );
    }
}
