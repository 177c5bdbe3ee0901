//! Running the portal: open the store, migrate, serve until told to stop.

use std::sync::Arc;

use anyhow::Context;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use app::databases::LOCAL_REGION;
use app::kubernetes::KubernetesTarget;

use crate::cli::{CommonArgs, ServeArgs};
use crate::cluster::check_distinct;
use crate::http::{self, AppState};
use crate::provisioning::start_region;
use crate::store::{self, Store, redact_url};

/// Opens the configured store, creating the data directory the SQLite default needs.
pub async fn open_store(common: &CommonArgs) -> anyhow::Result<Arc<dyn Store>> {
    let url = common.database_url();
    if common.database_url.is_none() {
        private_directory(&common.data_dir)?;
    }
    let store = store::connect(&url)
        .await
        .with_context(|| format!("cannot open the database {}", redact_url(&url)))?;
    store
        .migrate()
        .await
        .context("cannot apply the database migrations")?;
    if common.database_url.is_none() {
        // SQLite made its files with the process's umask; they hold
        // password hashes and sessions.
        for file in ["portal.db", "portal.db-wal", "portal.db-shm"] {
            private_file(&common.data_dir.join(file))?;
        }
    }
    tracing::info!(store = store.kind(), url = %redact_url(&url), "database ready");
    Ok(store)
}

pub async fn serve(common: &CommonArgs, args: &ServeArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_signal();
    let store = open_store(common).await?;
    if let Some(password) = crate::auth::accounts::ensure_first_admin(store.as_ref())
        .await
        .context("cannot create the first admin")?
    {
        // Shown once, as Argo CD and Grafana do; the hash alone is stored.
        tracing::warn!(
            "no user existed, so the first admin was created: username `{}`, password `{password}` (shown once, and to be replaced by your own at the first sign-in; reset it with `portal admin reset-password {}`)",
            crate::auth::accounts::FIRST_ADMIN,
            crate::auth::accounts::FIRST_ADMIN
        );
    }
    let sso = match &args.sso_config {
        Some(path) => Some(crate::auth::sso::config::load(path).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let (kubernetes, clusters) = connect_regions(common, args).await?;
    let outside = outside_addresses(&kubernetes, &clusters, args)?;
    let keyring =
        crate::apps::open_keyring(store.as_ref(), args.keyring.as_deref(), &common.data_dir)
            .await
            .map_err(anyhow::Error::msg)?;
    let git = crate::git::Git::new(common.data_dir.join("git"));
    let deployer = deployer(store.clone(), &clusters, args)?.with_keyring(keyring.clone());
    let environment_names = deployer.environment_names();
    let sites = deployer.sites().to_vec();
    // The engines' Leases live in the first region's cluster.
    let deploy = clusters
        .first()
        .map(|(_, client)| crate::deploy::start(store.clone(), deployer, client.clone()));
    let first_environment = args_first_environment(args);
    let on_release: Option<crate::apps::poller::OnRelease> = deploy.as_ref().map(|(handle, _)| {
        let handle = handle.clone();
        let environment = first_environment.clone();
        Arc::new(move |app: uuid::Uuid| handle.changed((app, environment.clone())))
            as crate::apps::poller::OnRelease
    });
    let poller = clusters.first().map(|(_, client)| {
        crate::apps::poller::start(
            store.clone(),
            keyring.clone(),
            git.clone(),
            client.clone(),
            on_release,
        )
    });
    let running: Vec<_> = clusters
        .into_iter()
        .map(|(name, client)| {
            start_region(store.clone(), name, client, args.service_account.clone())
        })
        .collect();
    let state = AppState {
        leptos_options: http::leptos_options(args),
        store: store.clone(),
        kubernetes: Some(kubernetes),
        regions: running
            .iter()
            .map(|region| {
                let mut connection = region.connection.clone();
                if let Some((_, address)) =
                    outside.iter().find(|(name, _)| *name == connection.name)
                {
                    connection.outside = address.clone();
                }
                connection
            })
            .collect(),
        webhooks: Some(Arc::new(crate::apps::webhooks::Webhooks {
            store: store.clone(),
            keyring: keyring.clone(),
            poller: poller.as_ref().map(|(handle, _)| handle.clone()),
        })),
        apps: Some(Arc::new(
            crate::apps::service::AppService::new(
                store.clone(),
                keyring.clone(),
                git,
                poller.as_ref().map(|(handle, _)| handle.clone()),
            )
            .with_image_registry(&args.image_registry),
        )),
        deploys: Some(Arc::new(
            crate::deploy::service::DeployService::new(
                store.clone(),
                environment_names.clone(),
                deploy.as_ref().map(|(handle, _)| handle.clone()),
            )
            .with_sites(sites),
        )),
        secrets: Some(Arc::new(crate::secrets::service::SecretService::new(
            store.clone(),
            keyring.clone(),
            environment_names,
            deploy.as_ref().map(|(handle, _)| handle.clone()),
        ))),
    };
    let app = http::router(state, args, sso).map_err(anyhow::Error::msg)?;
    let lifetimes = args.session_lifetimes();
    crate::supervise::spawn("session housekeeping", {
        let store = store.clone();
        move || crate::auth::housekeeping::run(store.clone(), lifetimes)
    });
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    // Pages are streamed in chunks: with Nagle's algorithm on, each small
    // write after the first waits for the browser's delayed ACK (~40 ms on
    // a kept-alive connection, which every browser uses).
    let listener = listener.tap_io(|connection| {
        if let Err(error) = connection.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
    });
    tracing::info!("DSCloud Portal is serving on http://{address}");
    // Graceful, within a deadline: open requests may finish, but a live
    // view streams for minutes and must not hold the shutdown that long.
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        crate::stopping::begin();
        let _ = stopping.send(());
    })
    .into_future();
    let grace = std::time::Duration::from_secs(args.shutdown_grace_secs);
    tokio::select! {
        served = server => served.context("the HTTP server failed")?,
        () = async {
            if stopped.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        } => {
            tracing::warn!(
                "requests were still open {}s after the signal to stop: they are closed",
                grace.as_secs()
            );
        }
    }
    // Give the Leases up, so another replica takes over at once.
    let electors = running
        .iter()
        .map(|region| region.elector.clone())
        .chain(poller.map(|(_, elector)| elector))
        .chain(deploy.map(|(_, elector)| elector));
    for elector in electors {
        let release = elector.release();
        match tokio::time::timeout(std::time::Duration::from_secs(5), release).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "cannot release the engine's lease"),
            Err(_) => tracing::warn!("releasing the engine's lease timed out"),
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// The deploy engine over the environments `--environment` names, each on
/// its region's cluster.
fn deployer(
    store: Arc<dyn crate::store::Store>,
    clusters: &[(String, kube::Client)],
    args: &ServeArgs,
) -> anyhow::Result<crate::deploy::Deployer> {
    let environments =
        crate::deploy::promotion_order(&args.environments).map_err(anyhow::Error::msg)?;
    let mut sites = Vec::new();
    for environment in environments {
        let region = environment
            .region
            .clone()
            .or_else(|| clusters.first().map(|(name, _)| name.clone()))
            .unwrap_or_default();
        let Some((_, client)) = clusters.iter().find(|(name, _)| *name == region) else {
            let known: Vec<&str> = clusters.iter().map(|(name, _)| name.as_str()).collect();
            anyhow::bail!(
                "environment {} names the region {region:?}, which is not configured (regions: {})",
                environment.name,
                known.join(", ")
            );
        };
        sites.push(crate::deploy::Site {
            name: environment.name,
            region,
            cluster: crate::cluster::Cluster::new(
                client.clone(),
                crate::deploy::ENGINE.field_manager,
            )
            .with_secrets_access(args.service_account.clone()),
            rollout_deadline: environment.rollout_deadline,
            ingress: environment.ingress,
        });
    }
    let registry = registry(args)?;
    Ok(
        crate::deploy::Deployer::new(store, sites, args.image_registry.clone())
            .with_registry_client(Arc::new(registry))
            .image_deadline(std::time::Duration::from_secs(args.image_deadline)),
    )
}

/// The registry the engine asks for images external CI pushes, with the
/// credentials `--registry-auth` holds for its host. A file that cannot be
/// read stops the start with the reason (never the secret).
fn registry(args: &ServeArgs) -> anyhow::Result<crate::registry::Registry> {
    let registry =
        crate::registry::Registry::new(&args.image_registry, None).map_err(anyhow::Error::msg)?;
    let host = registry.host();
    let credentials = match &args.registry_auth {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|error| anyhow::anyhow!("--registry-auth {}: {error}", path.display()))?;
            let found = crate::registry::credentials::for_host(&text, host)
                .map_err(|error| anyhow::anyhow!("--registry-auth {}: {error}", path.display()))?;
            if found.is_none() {
                tracing::warn!(file = %path.display(), %host, "--registry-auth has no entry for the image registry; asking it anonymously");
            }
            found
        }
    };
    Ok(registry.with_credentials(credentials))
}

/// How each region's databases are reached from outside its cluster: the
/// sandbox has no outside; a cluster region what `--outside-address` says.
fn outside_addresses(
    kubernetes: &KubernetesTarget,
    clusters: &[(String, kube::Client)],
    args: &ServeArgs,
) -> anyhow::Result<Vec<(String, crate::cluster::OutsideAddress)>> {
    let regions: Vec<String> = clusters.iter().map(|(name, _)| name.clone()).collect();
    if matches!(kubernetes, KubernetesTarget::Sandbox { .. }) {
        if !args.outside_addresses.is_empty() {
            anyhow::bail!(
                "--outside-address does not apply to the built-in sandbox: it runs no containers, so nothing outside reaches its databases"
            );
        }
        return Ok(regions
            .into_iter()
            .map(|name| (name, crate::cluster::OutsideAddress::Sandbox))
            .collect());
    }
    crate::cluster::outside_addresses(&args.outside_addresses, &regions).map_err(anyhow::Error::msg)
}

/// The first environment of the promotion order: a new release wakes it.
fn args_first_environment(args: &ServeArgs) -> String {
    crate::deploy::promotion_order(&args.environments)
        .ok()
        .and_then(|order| order.into_iter().next())
        .map_or_else(|| "dev".to_string(), |environment| environment.name)
}

/// The regions and their clusters: those `--region` names, or else the one
/// region `local` on the cluster or sandbox `--kubernetes` chooses.
async fn connect_regions(
    common: &CommonArgs,
    args: &ServeArgs,
) -> anyhow::Result<(KubernetesTarget, Vec<(String, kube::Client)>)> {
    if args.regions.is_empty() {
        let (target, client) = connect_kubernetes(common, args).await?;
        return Ok((target, vec![(LOCAL_REGION.to_string(), client)]));
    }
    if matches!(args.kubernetes, crate::cli::KubernetesChoice::Sandbox) {
        anyhow::bail!(
            "--kubernetes sandbox and --region exclude each other: regions are real clusters"
        );
    }
    check_distinct(&args.regions).map_err(anyhow::Error::msg)?;
    let mut clients = Vec::new();
    let mut servers = Vec::new();
    for region in &args.regions {
        let name = &region.name;
        let path = region.kubeconfig.display();
        let kubeconfig = kube::config::Kubeconfig::read_from(&region.kubeconfig)
            .with_context(|| format!("region {name}: cannot read the kubeconfig {path}"))?;
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .with_context(|| format!("region {name}: the kubeconfig {path} names no usable cluster"))?;
        servers.push(format!("{name} {}", config.cluster_url));
        let client = kube::Client::try_from(config)
            .with_context(|| format!("region {name}: cannot build the Kubernetes client"))?;
        tracing::info!(
            "Kubernetes: region {name} on {}",
            servers[servers.len() - 1]
        );
        clients.push((name.clone(), client));
    }
    Ok((
        KubernetesTarget::Cluster {
            server: servers.join(", "),
        },
        clients,
    ))
}

/// The cluster configured for this process, if any: in-cluster, `KUBECONFIG`
/// or `~/.kube/config`.
fn cluster_configured() -> bool {
    std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
        || std::env::var_os("KUBECONFIG").is_some()
        || std::env::var_os("HOME")
            .map(std::path::PathBuf::from)
            .is_some_and(|home| home.join(".kube/config").is_file())
}

/// The Kubernetes the engines use, and how the UI names it.
async fn connect_kubernetes(
    common: &CommonArgs,
    args: &ServeArgs,
) -> anyhow::Result<(KubernetesTarget, kube::Client)> {
    use crate::cli::KubernetesChoice;
    let cluster = match args.kubernetes {
        KubernetesChoice::Sandbox => false,
        KubernetesChoice::Cluster => true,
        KubernetesChoice::Auto => cluster_configured(),
    };
    if !cluster {
        return start_sandbox(common, args).await;
    }
    let config = kube::Config::infer()
        .await
        .context("cannot read the Kubernetes configuration (in-cluster, KUBECONFIG or ~/.kube/config); use --kubernetes sandbox to run without a cluster")?;
    let server = config.cluster_url.to_string();
    let client = kube::Client::try_from(config).context("cannot build the Kubernetes client")?;
    tracing::info!("Kubernetes: the cluster at {server}");
    Ok((KubernetesTarget::Cluster { server }, client))
}

/// Creates `directory` (and its parents) readable by its owner only, and
/// takes that right back from anyone else on an existing one: it holds the
/// database, the keyring and the sandbox, with every credential.
pub fn private_directory(directory: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let context = || format!("cannot create the data directory {}", directory.display());
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(directory)
        .with_context(context)?;
    let mode = std::fs::metadata(directory)
        .with_context(context)?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            directory = %directory.display(),
            "the data directory was open to other users (mode {:o}); it is now 0700",
            mode & 0o777
        );
        std::fs::set_permissions(directory, std::fs::Permissions::from_mode(0o700))
            .with_context(context)?;
    }
    Ok(())
}

/// Writes `text` to a file only its owner can read, replacing it.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An older file keeps its mode through `open`: set it.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(text.as_bytes())
}

/// Makes an existing file readable and writable by its owner only.
fn private_file(path: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        result => result.with_context(|| format!("cannot make {} private", path.display())),
    }
}

/// Starts the built-in Kubernetes sandbox: its objects live in
/// `<data-dir>/sandbox/` and survive restarts; kubectl reaches it through
/// `<data-dir>/sandbox.kubeconfig`. The engines talk to it in-process.
async fn start_sandbox(
    common: &CommonArgs,
    args: &ServeArgs,
) -> anyhow::Result<(KubernetesTarget, kube::Client)> {
    let directory = common.data_dir.join("sandbox");
    let behaviour = sandbox::Behaviour {
        operator_ready: std::time::Duration::from_millis(args.sandbox_operator_delay_ms),
        ..sandbox::Behaviour::default()
    };
    let sandbox = sandbox::Sandbox::persistent(&directory, behaviour).with_context(|| {
        format!(
            "cannot open the Kubernetes sandbox in {}",
            directory.display()
        )
    })?;
    sandbox.install_operator_crds();
    let listener = TcpListener::bind(args.sandbox_listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} for the Kubernetes sandbox",
                args.sandbox_listen
            )
        })?;
    // A new token at every start: only who can read the kubeconfig (its
    // owner: mode 0600) reaches the sandbox's Secrets.
    let token = crate::random::token();
    let served = sandbox.serve(listener, &token).await?;
    let kubeconfig = common.data_dir.join("sandbox.kubeconfig");
    write_private(&kubeconfig, &served.kubeconfig())
        .with_context(|| format!("cannot write {}", kubeconfig.display()))?;
    let kubeconfig = std::path::absolute(&kubeconfig).unwrap_or(kubeconfig);
    tracing::info!(
        "Kubernetes: the built-in sandbox on {} (no cluster configured); look at it with: kubectl --kubeconfig {} get ns",
        served.url(),
        kubeconfig.display()
    );
    let client = kube::Client::new(sandbox.router(), "default");
    Ok((
        KubernetesTarget::Sandbox {
            kubeconfig: kubeconfig.display().to_string(),
        },
        client,
    ))
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM; requests in flight then finish.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    // The handlers are registered here, at once, not when the future is first
    // polled: a SIGTERM that arrives while the portal is still starting (a
    // rollout, a test) then stops it gracefully instead of killing it.
    #[cfg(unix)]
    let streams = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |stream: std::io::Result<tokio::signal::unix::Signal>,
                        name: &'static str| async move {
                match stream {
                    Ok(mut stream) => {
                        stream.recv().await;
                    }
                    Err(error) => {
                        tracing::error!(%error, "cannot listen for {name}");
                        std::future::pending::<()>().await;
                    }
                }
            };
            let (terminate, interrupt) = streams;
            tokio::select! {
                () = wait(terminate, "SIGTERM") => {},
                () = wait(interrupt, "SIGINT") => {},
            }
        }
        #[cfg(not(unix))]
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}
