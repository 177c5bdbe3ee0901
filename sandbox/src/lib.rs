//! A Kubernetes API server in-process, for a first run without a cluster, for
//! tests and for benchmarks. It speaks the HTTP API that kube-rs and kubectl
//! use (discovery, the verbs, watch, the four patch types, finalizers) over an
//! in-memory store. It knows nothing about the portal.
//!
//! Three ways in: `kube::Client::new(sandbox.router(), "default")` with no
//! socket; [`Sandbox::serve`] on a loopback port, over TLS with a bearer
//! token; and kubectl against that port with the kubeconfig from
//! [`Served::kubeconfig`].
//!
//! What its simulated kubelet does is chosen by the objects themselves, so a
//! test decides outcomes from what it writes (or what a repository it pushes
//! configures), with nothing in the sandbox knowing who wrote them:
//!
//! - a Job's container with `SANDBOX_EXIT_CODE=<n>` ends with exit code `n`
//!   (default 0) and `SANDBOX_LOG=<text>` is its log (the pod's `log`
//!   subresource); the annotations `sandbox.dscloud.io/exit-code` and `…/log`
//!   on the pod template do the same;
//! - a Deployment's or StatefulSet's container with `SANDBOX_ROLLOUT=fail`
//!   (or an image containing `sandbox-fail`) never becomes ready:
//!   `Progressing=False`, reason `ProgressDeadlineExceeded`;
//! - a Job run as an image builder (BuildKit's
//!   `--metadata-file=/dev/termination-log` among its args) that succeeds
//!   leaves `{"containerimage.digest": "sha256:…"}` as its container's
//!   termination message, the digest made up from its `--output` name;
//! - [`Behaviour`] sets the delays, and its `job_outcome` closure can decide
//!   any Job's end instead.

mod controllers;
mod crd;
mod faults;
mod http;
mod journal;
mod keys;
mod openapi;
mod operator_crds;
mod patch;
mod protobuf;
pub mod rbac;
mod resources;
mod selector;
mod status;
mod store;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use tokio::net::TcpListener;

pub use controllers::{
    Behaviour, CASSANDRA_FINALIZER, EXIT_CODE_VARIABLE, JobOutcome, LOG_VARIABLE, OperatorFailure,
    ROLLOUT_VARIABLE,
};
pub use faults::{Failure, Fault, Faults, Verb};
pub use http::Judged;
pub use resources::ResourceType;

/// One sandbox: its objects live as long as it does.
#[derive(Clone, Default)]
pub struct Sandbox {
    shared: http::Shared,
}

impl Default for http::Shared {
    fn default() -> Self {
        http::Shared {
            store: Arc::new(Mutex::new(store::Store::new())),
            faults: Faults::default(),
            judged: Arc::default(),
        }
    }
}

impl Sandbox {
    /// The API alone: objects are stored and served, nothing acts on them.
    pub fn new() -> Self {
        Sandbox::default()
    }

    /// The API with simulated controllers (workloads, Jobs, the database
    /// operators) behaving as `behaviour` says. Needs a Tokio runtime.
    pub fn with_controllers(behaviour: Behaviour) -> Self {
        let sandbox = Sandbox::default();
        let store = Arc::downgrade(&sandbox.shared.store);
        tokio::spawn(controllers::run(store, behaviour));
        sandbox
    }

    /// A sandbox whose objects live in `directory` and survive restarts,
    /// with simulated controllers. Needs a Tokio runtime.
    pub fn persistent(directory: &std::path::Path, behaviour: Behaviour) -> std::io::Result<Self> {
        let sandbox = Sandbox {
            shared: http::Shared {
                store: Arc::new(Mutex::new(store::Store::open(directory)?)),
                faults: Faults::default(),
                judged: Arc::default(),
            },
        };
        tokio::spawn(controllers::run(
            Arc::downgrade(&sandbox.shared.store),
            behaviour,
        ));
        Ok(sandbox)
    }

    /// Registers the sandbox's own CRDs for cass-operator and CloudNativePG
    /// (written from their documented behaviour), unless already there.
    pub fn install_operator_crds(&self) {
        let mut store = self
            .shared
            .store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(crds) = store
            .types()
            .iter()
            .find(|resource| resource.plural == "customresourcedefinitions")
            .cloned()
        else {
            return;
        };
        for crd in [
            operator_crds::cassandra_datacenter(),
            operator_crds::cloudnative_pg_cluster(),
        ] {
            let name = crd["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if store.get(&crds, "", &name).is_err()
                && let Err(error) = store.create(&crds, "", crd, store::WriteOptions::default())
            {
                tracing::error!(?error, %name, "cannot register an operator CRD in the sandbox");
            }
        }
    }

    /// The faults this sandbox injects; none until told.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// The API as an axum router: a `tower::Service` kube-rs can use directly.
    pub fn router(&self) -> Router {
        http::router(self.shared.clone())
    }

    /// The API as `identity` sees it: each request is allowed only as far
    /// as the RBAC objects stored at that moment allow it, else answered
    /// 403 (`rbac`). Every judgement is kept ([`Sandbox::judged`]).
    pub fn router_as(&self, identity: rbac::Identity) -> Router {
        http::router(self.shared.clone()).layer(axum::Extension(identity))
    }

    /// Every request made through [`Sandbox::router_as`] so far, judged.
    pub fn judged(&self) -> Vec<http::Judged> {
        self.shared
            .judged
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Serves the API over TLS on `listener` until the task is dropped.
    /// Every request must carry `Authorization: Bearer <token>` (the
    /// kubeconfig of the returned [`Served`] has it and the authority to
    /// verify the server): the sandbox holds whatever credentials its
    /// Secrets do, and a loopback port is open to every user of the
    /// machine. Without it: 401, as Kubernetes answers.
    pub async fn serve(&self, listener: TcpListener, token: &str) -> std::io::Result<Served> {
        let address = listener.local_addr()?;
        let identity = http::tls::identity(address)?;
        let required: Arc<str> = token.into();
        let router = self
            .router()
            .layer(axum::middleware::from_fn(move |request, next| {
                http::bearer::require(required.clone(), request, next)
            }));
        tokio::spawn(http::tls::serve(listener, router, identity.config));
        Ok(Served {
            address,
            token: token.to_string(),
            authority_pem: identity.authority_pem,
        })
    }
}

/// A sandbox served on a port: where, and how a client gets in.
/// No `Debug`: it holds the token.
#[derive(Clone)]
pub struct Served {
    pub address: SocketAddr,
    token: String,
    /// The certificate authority that signed the server's certificate.
    pub authority_pem: String,
}

impl Served {
    /// `https://<address>`.
    pub fn url(&self) -> String {
        format!("https://{}", self.address)
    }

    /// A kubeconfig that points kubectl (or any client) at the sandbox with
    /// its authority and token. Keep the file private (mode 0600).
    pub fn kubeconfig(&self) -> String {
        use base64::Engine as _;
        let authority = base64::engine::general_purpose::STANDARD.encode(&self.authority_pem);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sandbox\n  cluster:\n    server: {url}\n    certificate-authority-data: {authority}\ncontexts:\n- name: sandbox\n  context:\n    cluster: sandbox\n    user: sandbox\n    namespace: default\ncurrent-context: sandbox\nusers:\n- name: sandbox\n  user:\n    token: {token}\n",
            url = self.url(),
            token = self.token,
        )
    }
}
