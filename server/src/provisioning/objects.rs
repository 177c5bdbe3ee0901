//! The Kubernetes objects of one database, built from its desired state:
//! its own namespace (labelled with the database and its owner), a
//! ResourceQuota, a NetworkPolicy, the credentials Secret and the
//! operator's resource. Pure functions; each object carries a hash of its
//! spec so the engine applies it again only when it changed, and the
//! provisioning engine's own label (`crate::cluster::ENGINE_LABEL`).

use app::databases::{Engine, Tier};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const SPEC_HASH: &str = "dscloud.io/spec-hash";
/// The credentials version a Secret holds, or a configuration job sets.
pub const CREDENTIALS_VERSION: &str = "dscloud.io/credentials-version";
pub const DATABASE_LABEL: &str = "dscloud.io/database-id";
pub const OWNER_LABEL: &str = "dscloud.io/owner-id";
pub const CREDENTIALS_SECRET: &str = "dscloud-credentials";
/// The operator's resource is always called this inside the database's namespace.
pub const RESOURCE_NAME: &str = "db";
const CASSANDRA_VERSION: &str = "4.1.5";
/// Room in the quota for the configuration job next to the nodes.
const JOB_CPU_MILLIS: u32 = 500;
const JOB_MEMORY_MIB: u32 = 256;

/// Everything the objects are built from.
#[derive(Clone, Debug)]
pub struct DatabaseSpec {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub engine: Engine,
    pub tier: Tier,
    /// The first keyspace (Cassandra) or database (PostgreSQL).
    pub schema_name: String,
    pub parked: bool,
}

impl DatabaseSpec {
    /// `db-<id>`: unique, a valid DNS label (35 characters), never reused.
    pub fn namespace(&self) -> String {
        format!("db-{}", self.id.simple())
    }

    /// The username the application connects with.
    pub fn username(&self) -> String {
        format!("app_{}", self.schema_name)
    }

    /// The in-cluster host clients connect to.
    pub fn service_host(&self) -> String {
        let service = match self.engine {
            Engine::Cassandra => format!("{}-dc1-service", self.cluster_name()),
            Engine::Postgresql => format!("{RESOURCE_NAME}-rw"),
        };
        format!("{service}.{}.svc.cluster.local", self.namespace())
    }

    fn cluster_name(&self) -> String {
        format!("dscloud-{}", self.name)
    }

    fn labels(&self) -> Value {
        let mut labels = super::ENGINE.labels();
        labels.insert(DATABASE_LABEL.to_string(), json!(self.id.to_string()));
        labels.insert(OWNER_LABEL.to_string(), json!(self.owner_id.to_string()));
        Value::Object(labels)
    }

    fn metadata(&self, name: &str) -> Value {
        json!({"name": name, "namespace": self.namespace(), "labels": self.labels()})
    }
}

/// A short hash of an object's content, stored in its annotation.
pub fn spec_hash(content: &Value) -> String {
    Sha256::digest(content.to_string().as_bytes())
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Puts the hash of the object (without the annotation) into its annotation.
fn stamped(mut object: Value) -> Value {
    let hash = spec_hash(&object);
    object["metadata"]["annotations"][SPEC_HASH] = json!(hash);
    object
}

/// The hash the quota and network policy carry: the engine compares it.
pub fn support_hash(spec: &DatabaseSpec) -> String {
    spec_hash(&json!([
        quota_object(spec)["spec"],
        network_policy_object(spec)["spec"]
    ]))
}

/// The hash the operator's resource carries.
pub fn resource_hash(spec: &DatabaseSpec) -> String {
    operator_resource(spec)["metadata"]["annotations"][SPEC_HASH]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub fn namespace(spec: &DatabaseSpec) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": spec.namespace(), "labels": spec.labels()},
    })
}

pub fn quota(spec: &DatabaseSpec) -> Value {
    let mut object = quota_object(spec);
    object["metadata"]["annotations"][SPEC_HASH] = json!(support_hash(spec));
    object
}

fn quota_object(spec: &DatabaseSpec) -> Value {
    let tier = spec.tier;
    let cpu = tier.nodes * tier.cpu_millis + JOB_CPU_MILLIS;
    let memory = tier.nodes * tier.memory_mib + JOB_MEMORY_MIB;
    json!({
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": spec.metadata("dscloud-quota"),
        "spec": {"hard": {
            "requests.cpu": format!("{cpu}m"),
            "limits.cpu": format!("{cpu}m"),
            "requests.memory": format!("{memory}Mi"),
            "limits.memory": format!("{memory}Mi"),
            "requests.storage": format!("{}Gi", tier.nodes * tier.storage_gib),
            "persistentvolumeclaims": tier.nodes.to_string(),
        }},
    })
}

/// Pods of the database talk to each other freely; from outside, only the
/// client port is open (applications in other namespaces connect there).
pub fn network_policy(spec: &DatabaseSpec) -> Value {
    let mut object = network_policy_object(spec);
    object["metadata"]["annotations"][SPEC_HASH] = json!(support_hash(spec));
    object
}

fn network_policy_object(spec: &DatabaseSpec) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": spec.metadata("dscloud-isolation"),
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [{"podSelector": {}}]},
                {"ports": [{"protocol": "TCP", "port": spec.engine.port()}]},
            ],
        },
    })
}

/// The application's credentials, generated by the portal: `version` 1 at
/// creation, the next one at each rotation, which keeps the password it
/// replaces as `previous-password` for the configuration job to log in with.
pub fn credentials(
    spec: &DatabaseSpec,
    version: i64,
    password: &str,
    previous: Option<&str>,
) -> Value {
    let mut secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/basic-auth",
        "metadata": spec.metadata(CREDENTIALS_SECRET),
        "stringData": {"username": spec.username(), "password": password},
    });
    secret["metadata"]["annotations"][CREDENTIALS_VERSION] = json!(version.to_string());
    if let Some(previous) = previous {
        secret["stringData"]["previous-password"] = json!(previous);
    }
    secret
}

/// The credentials version an object carries (1 for objects made before
/// versions existed).
pub fn credentials_version(object: &Value) -> i64 {
    crate::cluster::annotation(object, CREDENTIALS_VERSION)
        .and_then(|version| version.parse().ok())
        .unwrap_or(1)
}

/// The operator's resource: a CassandraDatacenter or a CloudNativePG Cluster.
pub fn operator_resource(spec: &DatabaseSpec) -> Value {
    let tier = spec.tier;
    let resources = json!({
        "requests": {"cpu": format!("{}m", tier.cpu_millis), "memory": format!("{}Mi", tier.memory_mib)},
        "limits": {"cpu": format!("{}m", tier.cpu_millis), "memory": format!("{}Mi", tier.memory_mib)},
    });
    let storage = format!("{}Gi", tier.storage_gib);
    let object = match spec.engine {
        Engine::Cassandra => json!({
            "apiVersion": "cassandra.datastax.com/v1beta1",
            "kind": "CassandraDatacenter",
            "metadata": spec.metadata(RESOURCE_NAME),
            "spec": {
                "clusterName": spec.cluster_name(),
                "datacenterName": "dc1",
                "serverType": "cassandra",
                "serverVersion": CASSANDRA_VERSION,
                "size": tier.nodes,
                "stopped": spec.parked,
                "superuserSecretName": CREDENTIALS_SECRET,
                "resources": resources,
                "storageConfig": {"cassandraDataVolumeClaimSpec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": storage}},
                }},
            },
        }),
        Engine::Postgresql => {
            let mut object = json!({
                "apiVersion": "postgresql.cnpg.io/v1",
                "kind": "Cluster",
                "metadata": spec.metadata(RESOURCE_NAME),
                "spec": {
                    "instances": tier.nodes,
                    "resources": resources,
                    "storage": {"size": storage},
                    "bootstrap": {"initdb": {
                        "database": spec.schema_name,
                        "owner": spec.username(),
                        "secret": {"name": CREDENTIALS_SECRET},
                    }},
                },
            });
            if spec.parked {
                object["metadata"]["annotations"] = json!({"cnpg.io/hibernation": "on"});
            }
            object
        }
    };
    stamped(object)
}

/// The job that runs once the operator reports ready, and after each
/// rotation: it makes sure the database's password is the Secret's (logging
/// in with the previous one to `ALTER` it when the new one is not set yet),
/// then the first keyspace or database and the application role.
/// Idempotent (IF NOT EXISTS), so a retried job does no harm.
pub const CONFIGURE_JOB: &str = "dscloud-configure";

pub fn configure_job(spec: &DatabaseSpec, credentials_version: i64) -> Value {
    let schema = &spec.schema_name;
    let user = spec.username();
    let (image, script) = match spec.engine {
        Engine::Cassandra => (
            format!("cassandra:{CASSANDRA_VERSION}"),
            format!(
                "cql() {{ cqlsh \"$HOST\" -u \"$USERNAME\" -p \"$1\" -e \"$2\"; }}; \
                 cql \"$PASSWORD\" 'SELECT now() FROM system.local' \
                 || cql \"$PREVIOUS_PASSWORD\" \"ALTER ROLE '{user}' WITH PASSWORD = '$PASSWORD'\" || exit 1; \
                 cql \"$PASSWORD\" \"CREATE KEYSPACE IF NOT EXISTS {schema} WITH replication = {{'class': 'NetworkTopologyStrategy', 'dc1': {}}}; GRANT ALL PERMISSIONS ON KEYSPACE {schema} TO '{user}';\"",
                spec.tier.nodes.min(3)
            ),
        ),
        Engine::Postgresql => (
            "postgres:17".to_string(),
            format!(
                "sql() {{ PGPASSWORD=\"$1\" psql -h \"$HOST\" -U \"$USERNAME\" -d {schema} -c \"$2\"; }}; \
                 sql \"$PASSWORD\" 'SELECT 1' \
                 || sql \"$PREVIOUS_PASSWORD\" \"ALTER ROLE {user} WITH PASSWORD '$PASSWORD'\" || exit 1; \
                 sql \"$PASSWORD\" \"GRANT ALL ON SCHEMA public TO {user};\""
            ),
        ),
    };
    let secret_key = |key: &str| json!({"secretKeyRef": {"name": CREDENTIALS_SECRET, "key": key}});
    let optional_secret_key = |key: &str| json!({"secretKeyRef": {"name": CREDENTIALS_SECRET, "key": key, "optional": true}});
    let mut metadata = spec.metadata(CONFIGURE_JOB);
    metadata["annotations"] = json!({CREDENTIALS_VERSION: credentials_version.to_string()});
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": 3,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": spec.labels()},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "configure",
                        "image": image,
                        "command": ["sh", "-c", script],
                        "env": [
                            {"name": "HOST", "value": spec.service_host()},
                            {"name": "USERNAME", "valueFrom": secret_key("username")},
                            {"name": "PASSWORD", "valueFrom": secret_key("password")},
                            {"name": "PREVIOUS_PASSWORD", "valueFrom": optional_secret_key("previous-password")},
                        ],
                        "resources": {
                            "requests": {"cpu": format!("{JOB_CPU_MILLIS}m"), "memory": format!("{JOB_MEMORY_MIB}Mi")},
                            "limits": {"cpu": format!("{JOB_CPU_MILLIS}m"), "memory": format!("{JOB_MEMORY_MIB}Mi")},
                        },
                    }],
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(engine: Engine) -> DatabaseSpec {
        DatabaseSpec {
            id: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            owner_id: Uuid::from_u128(7),
            name: "orders".to_string(),
            engine,
            tier: *app::databases::tier("small").unwrap(),
            schema_name: "shop".to_string(),
            parked: false,
        }
    }

    #[test]
    fn every_object_lives_in_the_databases_own_labelled_namespace() {
        let spec = spec(Engine::Cassandra);
        assert_eq!(spec.namespace(), "db-0123456789abcdef0123456789abcdef");
        for object in [
            quota(&spec),
            network_policy(&spec),
            credentials(&spec, 1, "pw", None),
            operator_resource(&spec),
        ] {
            assert_eq!(object["metadata"]["namespace"], spec.namespace());
            assert_eq!(
                object["metadata"]["labels"][DATABASE_LABEL],
                spec.id.to_string()
            );
            assert_eq!(
                object["metadata"]["labels"][OWNER_LABEL],
                spec.owner_id.to_string()
            );
        }
    }

    #[test]
    fn the_quota_covers_the_tier_and_the_job() {
        let hard = &quota(&spec(Engine::Postgresql))["spec"]["hard"];
        assert_eq!(hard["requests.cpu"], "3500m");
        assert_eq!(hard["requests.memory"], "6400Mi");
        assert_eq!(hard["requests.storage"], "30Gi");
    }

    #[test]
    fn parking_changes_the_resource_hash_but_not_the_support_hash() {
        let running = spec(Engine::Cassandra);
        let parked = DatabaseSpec {
            parked: true,
            ..running.clone()
        };
        assert_ne!(resource_hash(&running), resource_hash(&parked));
        assert_eq!(support_hash(&running), support_hash(&parked));
        assert_eq!(operator_resource(&parked)["spec"]["stopped"], true);
        let pg = DatabaseSpec {
            parked: true,
            ..spec(Engine::Postgresql)
        };
        assert_eq!(
            operator_resource(&pg)["metadata"]["annotations"]["cnpg.io/hibernation"],
            "on"
        );
        let bigger = DatabaseSpec {
            tier: *app::databases::tier("medium").unwrap(),
            ..running.clone()
        };
        assert_ne!(support_hash(&running), support_hash(&bigger));
        // The same inputs always give the same hash (decisions survive restarts).
        assert_eq!(
            resource_hash(&running),
            resource_hash(&spec(Engine::Cassandra))
        );
    }

    #[test]
    fn the_supporting_objects_carry_the_hash_the_engine_compares() {
        let spec = spec(Engine::Postgresql);
        for object in [quota(&spec), network_policy(&spec)] {
            assert_eq!(
                object["metadata"]["annotations"][SPEC_HASH],
                support_hash(&spec)
            );
        }
        assert_eq!(
            operator_resource(&spec)["metadata"]["annotations"][SPEC_HASH],
            resource_hash(&spec)
        );
    }

    #[test]
    fn clients_connect_to_the_operators_service() {
        assert_eq!(
            spec(Engine::Cassandra).service_host(),
            "dscloud-orders-dc1-service.db-0123456789abcdef0123456789abcdef.svc.cluster.local"
        );
        assert!(
            spec(Engine::Postgresql)
                .service_host()
                .starts_with("db-rw.db-")
        );
    }
}
