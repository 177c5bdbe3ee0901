//! What Kubernetes reports for one database, read for the planner, and the
//! writes that carry its decisions out. Thin: every rule is in `plan.rs`.

use app::databases::Engine;
use serde_json::{Value, json};

use super::objects::{self, DatabaseSpec, SPEC_HASH};
use super::plan::{Action, ConfigureJob, JobState, Observed, Presence, Resource};
use super::readiness::readiness;
use crate::cluster::{Cluster, ClusterError, Kind, annotation, is_deleting};

/// The operators' kinds.
pub const CASSANDRA: Kind = Kind {
    group: "cassandra.datastax.com",
    version: "v1beta1",
    kind: "CassandraDatacenter",
    plural: "cassandradatacenters",
};
pub const POSTGRES: Kind = Kind {
    group: "postgresql.cnpg.io",
    version: "v1",
    kind: "Cluster",
    plural: "clusters",
};

/// The kinds whose changes wake the engine.
pub const WATCHED: [Kind; 4] = [Kind::NAMESPACE, Kind::JOB, CASSANDRA, POSTGRES];

pub fn operator_kind(engine: Engine) -> Kind {
    match engine {
        Engine::Cassandra => CASSANDRA,
        Engine::Postgresql => POSTGRES,
    }
}

pub async fn observe(cluster: &Cluster, spec: &DatabaseSpec) -> Result<Observed, ClusterError> {
    let namespace = spec.namespace();
    let ns = Some(namespace.as_str());
    let hash = |object: &Option<Value>| {
        object
            .as_ref()
            .and_then(|object| annotation(object, SPEC_HASH).map(str::to_string))
    };
    let presence = match cluster.get(Kind::NAMESPACE, None, &namespace).await? {
        None => return Ok(Observed::default()),
        Some(object) if is_deleting(&object) => Presence::Terminating,
        Some(_) => Presence::Present,
    };
    let quota = cluster
        .get(Kind::RESOURCE_QUOTA, ns, "dscloud-quota")
        .await?;
    let network_policy = cluster
        .get(Kind::NETWORK_POLICY, ns, "dscloud-isolation")
        .await?;
    let secrets_unbound = !cluster.secrets_bound(&namespace).await?;
    let credentials = if secrets_unbound {
        None
    } else {
        cluster
            .get(Kind::SECRET, ns, objects::CREDENTIALS_SECRET)
            .await?
    };
    let resource = cluster
        .get(operator_kind(spec.engine), ns, objects::RESOURCE_NAME)
        .await?
        .map(|object| Resource {
            spec_hash: annotation(&object, SPEC_HASH)
                .unwrap_or_default()
                .to_string(),
            deleting: is_deleting(&object),
            readiness: readiness(spec.engine, &object),
        });
    let configure_job = cluster
        .get(Kind::JOB, ns, objects::CONFIGURE_JOB)
        .await?
        .map(|job| ConfigureJob {
            version: objects::credentials_version(&job),
            state: job_state(&job),
        });
    Ok(Observed {
        namespace: presence,
        secrets_unbound,
        quota: hash(&quota),
        network_policy: hash(&network_policy),
        credentials: credentials.as_ref().map(objects::credentials_version),
        resource,
        configure_job,
    })
}

fn job_state(job: &Value) -> JobState {
    let failed = job["status"]["conditions"]
        .as_array()
        .and_then(|conditions| {
            conditions
                .iter()
                .find(|c| c["type"] == "Failed" && c["status"] == "True")
        });
    if let Some(condition) = failed {
        return JobState::Failed(
            condition["message"]
                .as_str()
                .unwrap_or("the job failed")
                .to_string(),
        );
    }
    if job["status"]["succeeded"].as_i64().unwrap_or(0) >= 1 {
        JobState::Succeeded
    } else {
        JobState::Running
    }
}

/// Carries one action out. `credentials_version` is what the customer
/// wants; `in_secret` the version the Secret holds now.
pub async fn execute(
    cluster: &Cluster,
    action: Action,
    spec: &DatabaseSpec,
    credentials_version: i64,
    in_secret: Option<i64>,
) -> Result<(), ClusterError> {
    let namespace = spec.namespace();
    match action {
        Action::ApplyNamespace => cluster.apply_namespace(&objects::namespace(spec)).await,
        Action::ApplyQuota => {
            cluster
                .apply(Kind::RESOURCE_QUOTA, &objects::quota(spec))
                .await
        }
        Action::ApplyNetworkPolicy => {
            cluster
                .apply(Kind::NETWORK_POLICY, &objects::network_policy(spec))
                .await
        }
        Action::ApplyCredentials => {
            // Generated here, written to Kubernetes only: the portal keeps
            // no copy. Created, never applied: of two engines racing, the
            // second finds it and leaves it, so a database bootstrapped with
            // the first password keeps it.
            let password = crate::random::password();
            let secret = objects::credentials(spec, credentials_version, &password, None);
            cluster.create(Kind::SECRET, &secret).await.map(|_| ())
        }
        Action::RotateCredentials => rotate(cluster, spec, credentials_version).await,
        Action::ApplyResource => {
            cluster
                .apply(
                    operator_kind(spec.engine),
                    &objects::operator_resource(spec),
                )
                .await
        }
        Action::StartConfigureJob => {
            let job = objects::configure_job(spec, in_secret.unwrap_or(1));
            cluster.apply(Kind::JOB, &job).await
        }
        Action::DeleteConfigureJob => {
            cluster
                .delete(Kind::JOB, Some(&namespace), objects::CONFIGURE_JOB)
                .await
        }
        Action::MarkConfigured => Ok(()),
        Action::DeleteResource => {
            cluster
                .delete(
                    operator_kind(spec.engine),
                    Some(&namespace),
                    objects::RESOURCE_NAME,
                )
                .await
        }
        Action::DeleteNamespace => cluster.delete(Kind::NAMESPACE, None, &namespace).await,
    }
}

/// A new password in place of the Secret's, if it is still older than
/// `version`; the replaced one stays as `previous-password`. The write is
/// guarded by the resourceVersion just read: a concurrent rotation makes it
/// fail (and the engine decides again) instead of losing a password.
async fn rotate(cluster: &Cluster, spec: &DatabaseSpec, version: i64) -> Result<(), ClusterError> {
    let namespace = spec.namespace();
    let Some(current) = cluster
        .get(Kind::SECRET, Some(&namespace), objects::CREDENTIALS_SECRET)
        .await?
    else {
        return Ok(());
    };
    if objects::credentials_version(&current) >= version {
        return Ok(());
    }
    let previous = current["data"]["password"]
        .as_str()
        .and_then(decode_base64)
        .unwrap_or_default();
    let password = crate::random::password();
    let mut secret = objects::credentials(spec, version, &password, Some(&previous));
    secret["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
    // `replace` takes the whole object: stringData becomes data on write.
    secret["data"] = json!({});
    cluster.replace(Kind::SECRET, &secret).await
}

fn decode_base64(text: &str) -> Option<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    String::from_utf8(bytes).ok()
}
