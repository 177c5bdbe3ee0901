//! The command line. Every flag is also an environment variable, so the same
//! binary is configured by flags on a laptop and by env in a container.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "portal",
    version,
    about = "DSCloud Portal: self-service databases and deployments on Kubernetes",
    long_about = "DSCloud Portal: self-service databases and deployments on Kubernetes.\n\n\
        With no command, `portal` serves the portal (`portal serve`)."
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the portal over HTTP (the default).
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Manage local accounts from the portal's host.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The keys sealing stored values: how many rows each seals, and
    /// re-wrapping them under the active key after a rotation.
    #[command(subcommand)]
    Keyring(KeyringCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeyringCommand {
    /// Count the sealed values per key id (a key with 0 rows may be removed).
    Status(KeyringArgs),
    /// Seal every value again under the keyring's first (active) key.
    Rewrap(KeyringArgs),
}

#[derive(Debug, Clone, Args)]
pub struct KeyringArgs {
    /// The keyring file (default: `<data-dir>/keyring`, which must exist).
    #[arg(long, env = "PORTAL_KEYRING")]
    pub keyring: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a local user; prints the generated password once.
    CreateUser {
        /// The sign-in name (case-insensitive, unique).
        username: String,
        /// admin, developer or customer.
        #[arg(long)]
        role: app::roles::Role,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a user's role; ends their sessions.
    SetRole {
        username: String,
        /// admin, developer or customer.
        role: app::roles::Role,
    },
    /// Stop a user from signing in; ends their sessions.
    Disable { username: String },
    /// Let a disabled user sign in again.
    Enable { username: String },
    /// Give a local user a new password (printed once) and end their sessions.
    ResetPassword {
        username: String,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// Settings every command shares.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Directory for local state: the embedded SQLite database and, later, the sandbox's files.
    #[arg(long, env = "PORTAL_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,

    /// The portal's database: `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB`.
    /// Defaults to `portal.db` in the data directory.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// How log lines are written.
    #[arg(long, env = "PORTAL_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Which log lines are written, in tracing's filter syntax (e.g. `debug`, `info,server=debug`).
    #[arg(long, env = "PORTAL_LOG", default_value = "info", global = true)]
    pub log: String,
}

impl CommonArgs {
    /// The database URL in force: the one given, or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("portal.db").display()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KubernetesChoice {
    Auto,
    Sandbox,
    Cluster,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line, for log collectors.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The address and port to listen on.
    #[arg(long, env = "PORTAL_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// Where the compiled front end (the `pkg/` directory with WASM, JS and CSS) is served from.
    #[arg(long, env = "PORTAL_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Requests that take longer than this many seconds are answered with 408.
    #[arg(long, env = "PORTAL_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// After SIGTERM, how long requests still open (live views stream for
    /// minutes) may run before they are closed and the portal stops:
    /// within Kubernetes' 30 s grace period by default.
    #[arg(long, env = "PORTAL_SHUTDOWN_GRACE_SECS", default_value_t = 20)]
    pub shutdown_grace_secs: u64,

    /// The largest request body accepted, in bytes.
    #[arg(long, env = "PORTAL_MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// The container registry images are pushed to: `<registry>/<app>/<component>:<commit>`.
    #[arg(
        long,
        env = "PORTAL_IMAGE_REGISTRY",
        default_value = "registry.dscloud.local"
    )]
    pub image_registry: String,

    /// A Docker `config.json` (the `.dockerconfigjson` of a
    /// `kubernetes.io/dockerconfigjson` Secret) holding the registry's
    /// credentials, for waiting on the images external CI pushes. None:
    /// the registry is asked anonymously (its token flow included).
    #[arg(long, env = "PORTAL_REGISTRY_AUTH")]
    pub registry_auth: Option<PathBuf>,

    /// How long, in seconds, the deploy engine waits for an image external
    /// CI pushes before the release fails.
    #[arg(long, env = "PORTAL_IMAGE_DEADLINE", default_value_t = 1800, value_parser = clap::value_parser!(u64).range(10..=86_400))]
    pub image_deadline: u64,

    /// A session unused for this many minutes ends.
    #[arg(long, env = "PORTAL_SESSION_IDLE_MINUTES", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=1440))]
    pub session_idle_minutes: u64,

    /// Every session ends this many hours after sign-in, used or not.
    #[arg(long, env = "PORTAL_SESSION_LIFETIME_HOURS", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=720))]
    pub session_lifetime_hours: u64,

    /// A single-sign-on session ends this many hours after the provider
    /// last confirmed the user's groups (when that is sooner than the
    /// session lifetime): roles follow the provider within this time.
    #[arg(long, env = "PORTAL_SSO_GROUPS_MAX_AGE_HOURS", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=720))]
    pub sso_groups_max_age_hours: u64,

    /// Where the built-in Kubernetes sandbox listens for kubectl (port 0: any free port).
    #[arg(long, env = "PORTAL_SANDBOX_LISTEN", default_value = "127.0.0.1:0")]
    pub sandbox_listen: SocketAddr,

    /// How long the sandbox's simulated operators take to bring a database
    /// up (or park, resume, resize it), in milliseconds: long enough to
    /// watch a database go PENDING → INITIALIZING → ACTIVE.
    #[arg(long, env = "PORTAL_SANDBOX_OPERATOR_DELAY_MS", default_value_t = 3000, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub sandbox_operator_delay_ms: u64,

    /// The address browsers reach the portal at; single sign-on's redirect
    /// URIs are built from it (`<url>/auth/sso/<provider>/callback`).
    /// Defaults to `http://<listen>`.
    #[arg(long, env = "PORTAL_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// A YAML file naming the OpenID Connect providers to sign in with
    /// (see README, "Single sign-on"). None: local accounts only.
    #[arg(long, env = "PORTAL_SSO_CONFIG")]
    pub sso_config: Option<PathBuf>,

    /// Which Kubernetes the engines use: `auto` takes a configured cluster
    /// (in-cluster, `KUBECONFIG`, or `~/.kube/config`) and otherwise the
    /// built-in sandbox; `sandbox` and `cluster` force one.
    #[arg(long, env = "PORTAL_KUBERNETES", value_enum, default_value_t = KubernetesChoice::Auto)]
    pub kubernetes: KubernetesChoice,

    /// A region customers can create databases in: `NAME=KUBECONFIG`, the
    /// cluster of that kubeconfig's current context. Repeat it (or separate
    /// with commas in the variable) for several. None: one region, `local`,
    /// on the cluster or sandbox `--kubernetes` chooses.
    #[arg(long = "region", env = "PORTAL_REGIONS", value_delimiter = ',')]
    pub regions: Vec<crate::cluster::RegionArg>,

    /// Reverse proxies in front of the portal (`10.0.0.0/8`, `192.0.2.7`,
    /// `fd00::/8`): for requests from them the client's address is read
    /// from `X-Forwarded-For` (for throttling and the audit log). Without
    /// it the header is ignored, so clients cannot pick their address.
    #[arg(
        long = "trusted-proxy",
        env = "PORTAL_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<crate::http::client::ProxyRange>,

    /// The address clients outside a region's cluster reach its databases
    /// on (a load balancer or gateway): `REGION=HOST[:PORT]`, where HOST
    /// and PORT may use `{name}` (the database's), `{namespace}` and
    /// `{port}` (the engine's), e.g.
    /// `eu-west={name}.eu-west.db.example.com:{port}`. Without it the
    /// connect panel says none is configured.
    #[arg(
        long = "outside-address",
        env = "PORTAL_OUTSIDE_ADDRESSES",
        value_delimiter = ','
    )]
    pub outside_addresses: Vec<crate::cluster::OutsideAddressArg>,

    /// An environment releases go through, in promotion order:
    /// `NAME[=REGION][,deadline=SECONDS][,ingress-host=HOST][,ingress-class=CLASS]`
    /// (the region's cluster runs it; the deadline bounds a rollout,
    /// default 600; HOST names each app's Ingress host with `{app}`, e.g.
    /// `{app}.dev.example.com`; CLASS its IngressClass). Repeat it in
    /// order (or separate with ';' in the variable). None: dev, test,
    /// prod, all in the first region.
    #[arg(
        long = "environment",
        env = "PORTAL_ENVIRONMENTS",
        value_delimiter = ';'
    )]
    pub environments: Vec<crate::deploy::EnvironmentArg>,

    /// The keyring that seals repository credentials, webhook secrets and
    /// app secrets: `<key-id>=<base64 of 32 bytes>` per line, the
    /// first key active. Default: `<data-dir>/keyring`, created (mode 0600)
    /// on the first start; a path given here must exist (a mounted Secret).
    #[arg(long, env = "PORTAL_KEYRING")]
    pub keyring: Option<PathBuf>,

    /// Whether local accounts may sign in with a password. Turn it off once
    /// single sign-on works (`--local-sign-in false`); `portal admin` still works.
    #[arg(long, env = "PORTAL_LOCAL_SIGN_IN", default_value_t = true, action = clap::ArgAction::Set)]
    pub local_sign_in: bool,

    /// The portal's own ServiceAccount, `NAMESPACE/NAME`: in each namespace
    /// it makes, the portal binds the ClusterRole `dscloud-portal-secrets`
    /// to it (deploy/base/rbac.yaml grants Secrets no other way). Without
    /// it no binding is made: for the sandbox, or credentials that may use
    /// Secrets everywhere.
    #[arg(long = "service-account", env = "PORTAL_SERVICE_ACCOUNT")]
    pub service_account: Option<crate::cluster::ServiceAccount>,
}

impl ServeArgs {
    /// The portal's address as browsers see it, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }

    pub fn session_lifetimes(&self) -> crate::auth::session::Lifetimes {
        crate::auth::session::Lifetimes {
            idle: std::time::Duration::from_secs(self.session_idle_minutes * 60),
            absolute: std::time::Duration::from_secs(self.session_lifetime_hours * 3600),
            sso_groups: std::time::Duration::from_secs(self.sso_groups_max_age_hours * 3600),
        }
    }
}

impl Default for ServeArgs {
    fn default() -> Self {
        ServeArgs {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            site_root: PathBuf::from("target/site"),
            request_timeout_secs: 30,
            shutdown_grace_secs: 20,
            max_body_bytes: 2 * 1024 * 1024,
            image_registry: "registry.dscloud.local".to_string(),
            registry_auth: None,
            image_deadline: 1800,
            sandbox_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            sandbox_operator_delay_ms: 3000,
            session_idle_minutes: 30,
            session_lifetime_hours: 8,
            sso_groups_max_age_hours: 8,
            public_url: None,
            sso_config: None,
            local_sign_in: true,
            kubernetes: KubernetesChoice::Auto,
            regions: Vec::new(),
            outside_addresses: Vec::new(),
            trusted_proxies: Vec::new(),
            environments: Vec::new(),
            keyring: None,
            service_account: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_command_means_serve_with_the_embedded_defaults() {
        let cli = Cli::try_parse_from(["portal"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.common.database_url(), "sqlite://./data/portal.db");
    }

    #[test]
    fn flags_override_defaults() {
        let cli = Cli::try_parse_from([
            "portal",
            "--data-dir",
            "/tmp/x",
            "serve",
            "--listen",
            "0.0.0.0:8080",
        ])
        .unwrap();
        assert_eq!(cli.common.database_url(), "sqlite:///tmp/x/portal.db");
        match cli.command {
            Some(Command::Serve(args)) => assert_eq!(args.listen.port(), 8080),
            other => panic!("expected serve, got {other:?}"),
        }
    }

    #[test]
    fn session_lifetimes_come_from_their_flags_within_bounds() {
        let cli = Cli::try_parse_from([
            "portal",
            "serve",
            "--session-idle-minutes",
            "15",
            "--session-lifetime-hours",
            "4",
        ])
        .unwrap();
        let Some(Command::Serve(args)) = cli.command else {
            panic!("serve")
        };
        let lifetimes = args.session_lifetimes();
        assert_eq!(lifetimes.idle.as_secs(), 15 * 60);
        assert_eq!(lifetimes.absolute.as_secs(), 4 * 3600);
        let error =
            Cli::try_parse_from(["portal", "serve", "--session-idle-minutes", "0"]).unwrap_err();
        assert!(
            error.to_string().contains("--session-idle-minutes"),
            "{error}"
        );
    }

    #[test]
    fn a_bad_listen_address_is_refused_with_the_flag_named() {
        let error = Cli::try_parse_from(["portal", "serve", "--listen", "nowhere"]).unwrap_err();
        assert!(error.to_string().contains("--listen"), "{error}");
    }
}
