//! The provisioning engine: databases on Kubernetes through their operators.
//! `plan` decides (pure, tested without a cluster); `objects` builds what
//! is applied (pure); `observe` reads and writes Kubernetes; `engine` plugs
//! them into the shared runner (`crate::engine`).

pub mod credentials;
pub mod engine;
pub mod objects;
mod observe;
pub mod plan;
pub mod readiness;

use std::sync::Arc;

use uuid::Uuid;

pub use engine::ProvisioningEngine;
pub use observe::{CASSANDRA, POSTGRES};

use crate::cluster::EngineName;
use crate::engine::{Handle, LeaderElector, Leadership, leader};
use crate::store::Store;
use plan::Action;

/// How the provisioning engine is known in the cluster: the label on
/// everything it creates, its field manager, its Lease.
pub const ENGINE: EngineName = EngineName {
    label: "provisioning",
    field_manager: "dscloud-provisioning",
    lease: "dscloud-provisioning-engine",
};

/// The engine's lease in the store's terms: one per region.
pub fn lease_key(region: &str) -> String {
    format!("provisioning/{region}")
}

/// A connected region, as the services need it: its cluster and the
/// engine that provisions there.
#[derive(Clone)]
pub struct RegionConnection {
    pub name: String,
    pub client: kube::Client,
    pub engine: Handle<Uuid>,
    /// How clients outside the cluster reach this region's databases.
    pub outside: crate::cluster::OutsideAddress,
}

/// A region's running engine and its elector (released at shutdown).
pub struct RunningRegion {
    pub connection: RegionConnection,
    pub elector: Arc<LeaderElector>,
}

/// Starts provisioning in one region: its engine, which acts only while
/// this replica holds the region's Lease (the others wait to take over),
/// and the watches that wake it.
pub fn start_region(
    store: Arc<dyn Store>,
    name: String,
    client: kube::Client,
    secrets_access: Option<crate::cluster::ServiceAccount>,
) -> RunningRegion {
    let leadership = Leadership::new(lease_key(&name));
    let elector = Arc::new(LeaderElector::new(
        client.clone(),
        &leader::namespace(),
        ENGINE.lease,
        leader::identity(),
        store.clone(),
        leadership.clone(),
    ));
    let engine = Arc::new(
        ProvisioningEngine::new(store, client.clone())
            .for_region(&name)
            .with_secrets_access(secrets_access)
            .with_leadership(leadership),
    );
    crate::supervise::spawn("provisioning leader election", {
        let elector = elector.clone();
        move || elector.clone().run()
    });
    engine.spawn_watches();
    let handle = engine.handle();
    // Level-triggered and idempotent: stopping it mid-reconcile with the
    // process is safe; the next start carries on.
    crate::supervise::spawn("provisioning engine", move || {
        let engine = engine.clone();
        async move { engine.run(std::future::pending()).await }
    });
    RunningRegion {
        connection: RegionConnection {
            name,
            client,
            engine: handle,
            outside: crate::cluster::OutsideAddress::None,
        },
        elector,
    }
}

/// The step's name on the database's timeline.
pub fn step_name(action: Action) -> &'static str {
    match action {
        Action::ApplyNamespace => "namespace",
        Action::ApplyQuota => "resource quota",
        Action::ApplyNetworkPolicy => "network policy",
        Action::ApplyCredentials => "credentials",
        Action::RotateCredentials => "new credentials",
        Action::ApplyResource => "operator resource",
        Action::StartConfigureJob => "configuration job",
        Action::DeleteConfigureJob => "configuration job cleanup",
        Action::MarkConfigured => "configured",
        Action::DeleteResource => "delete operator resource",
        Action::DeleteNamespace => "delete namespace",
    }
}
