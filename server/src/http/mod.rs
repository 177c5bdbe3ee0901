//! The HTTP surface: the Leptos pages and server functions, health endpoints,
//! and the layers every request passes through.

mod api_errors;
pub mod assets;
mod audit_export;
mod checker_form;
pub mod client;
mod csrf;
mod health;
mod schema;
mod security;
mod theme;

use std::{sync::Arc, time::Duration};

use app::{App, shell};
use axum::{Router, http::StatusCode, routing::get};
use leptos::prelude::*;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use tower::ServiceBuilder;
use tower_http::{
    compression::CompressionLayer,
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    sensitive_headers::SetSensitiveHeadersLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::auth::service::AccountService;
use crate::auth::sign_in::{self, Authenticator, SignedIn};
use crate::auth::sso::{self, SingleSignOn, SsoConfig};
use crate::cli::ServeArgs;
use crate::manifests::PreviewRenderer;
use crate::provisioning::RegionConnection;
use crate::store::Store;

/// What every handler can reach.
#[derive(Clone, axum::extract::FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Arc<dyn Store>,
    /// Which Kubernetes the portal runs on, for the UI to say.
    pub kubernetes: Option<app::kubernetes::KubernetesTarget>,
    /// The regions databases are provisioned in (empty without Kubernetes).
    pub regions: Vec<RegionConnection>,
    /// Push webhooks of the apps (none without a keyring).
    pub webhooks: Option<Arc<crate::apps::webhooks::Webhooks>>,
    /// The apps pages' service (none without a keyring).
    pub apps: Option<Arc<crate::apps::service::AppService>>,
    /// The deploy history and its actions; `None` where no engine runs.
    pub deploys: Option<Arc<crate::deploy::service::DeployService>>,
    /// The secrets pages' service; `None` without a keyring.
    pub secrets: Option<Arc<crate::secrets::service::SecretService>>,
}

/// The name cargo-leptos gives the compiled front end (`pkg/<name>.wasm`, `.js`, `.css`).
pub const SITE_OUTPUT_NAME: &str = "dscloud-portal";

pub fn leptos_options(args: &ServeArgs) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(SITE_OUTPUT_NAME)
        .site_root(args.site_root.display().to_string())
        .site_pkg_dir(assets::PKG_DIR)
        .hash_files(assets::hashed_names())
        .site_addr(args.listen)
        .build()
}

/// Routes outside the Leptos pages that the access table decides on like
/// pages (the guard and `tests/access.rs` read this list).
pub const GUARDED_ROUTES: &[&str] = &[audit_export::PATH, crate::databases::events::PATH];

/// The application's pages, generated once per process. While Leptos
/// generates them it raises a process-wide flag that makes any resource
/// first polled meanwhile, in any thread, wait forever
/// (leptos-rs/leptos#4773); seen as a page hanging until the 408 timeout when
/// tests built routers while others rendered. Callers wait for the one
/// generation, and no page renders before a router exists.
pub fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// The whole application as one router, ready to serve, with the single
/// sign-on providers of `sso`. Fails when the configuration leaves no way
/// to sign in.
pub fn router(state: AppState, args: &ServeArgs, sso: Option<SsoConfig>) -> Result<Router, String> {
    let routes = route_list();
    let provider_names: Vec<(String, String)> = sso
        .iter()
        .flat_map(|config| config.providers.iter())
        .map(|provider| (provider.issuer.clone(), provider.name.clone()))
        .collect();
    let form_targets = security::form_targets(
        sso.iter()
            .flat_map(|config| config.providers.iter())
            .map(|provider| provider.issuer.as_str()),
    );
    let single_sign_on = match sso {
        Some(config) if !config.providers.is_empty() => Some(SingleSignOn::new(
            config,
            state.store.clone(),
            args.public_url(),
        )?),
        _ => None,
    };
    if !args.local_sign_in && single_sign_on.is_none() {
        return Err(
            "local sign-in is off (--local-sign-in false) and no single-sign-on provider is configured (--sso-config): nobody could sign in"
                .to_string(),
        );
    }
    let authenticator = Arc::new(
        Authenticator::new(state.store.clone(), args.session_lifetimes())
            .with_sign_in_methods(args.local_sign_in, single_sign_on)
            .with_public_url(&args.public_url()),
    );
    let sign_in_options = authenticator.sign_in_options();
    let accounts: Arc<dyn app::accounts::Accounts> =
        Arc::new(AccountService::new(state.store.clone(), provider_names));
    // Release pages show each environment's objects with its ingress settings.
    let ingress = crate::deploy::promotion_order(&args.environments)
        .unwrap_or_default()
        .into_iter()
        .map(|environment| (environment.name, environment.ingress))
        .collect();
    let renderer: Arc<dyn app::dscloud::ManifestRenderer> = Arc::new(PreviewRenderer {
        registry: args.image_registry.clone(),
        ingress,
    });
    let database_service = Arc::new(crate::databases::DatabaseService::new(
        state.store.clone(),
        state.regions.clone(),
    ));
    let databases: Arc<dyn app::databases::Databases> = database_service.clone();
    let apps: Option<Arc<dyn app::apps::Apps>> = state
        .apps
        .clone()
        .map(|service| service as Arc<dyn app::apps::Apps>);
    let deploys: Option<Arc<dyn app::deploys::Deploys>> = state
        .deploys
        .clone()
        .map(|service| service as Arc<dyn app::deploys::Deploys>);
    let secrets: Option<Arc<dyn app::secrets::Secrets>> = state
        .secrets
        .clone()
        .map(|service| service as Arc<dyn app::secrets::Secrets>);
    let engines: Arc<dyn app::engines::EngineBoard> = Arc::new(engine_board(&state));
    let context = {
        let store = state.store.clone();
        let kubernetes = state.kubernetes.clone();
        let regions = app::kubernetes::Regions(
            state
                .regions
                .iter()
                .map(|region| region.name.clone())
                .collect(),
        );
        move || {
            provide_context(store.clone());
            // Which cluster and its API server's address are for people
            // who signed in, not for anyone who opens the sign-in page.
            if let Some(kubernetes) = kubernetes.clone()
                && signed_in_request()
            {
                provide_context(kubernetes);
            }
            provide_context(regions.clone());
            provide_context(renderer.clone());
            provide_context(accounts.clone());
            provide_context(databases.clone());
            if let Some(apps) = apps.clone() {
                provide_context(apps);
            }
            if let Some(deploys) = deploys.clone() {
                provide_context(deploys);
            }
            if let Some(secrets) = secrets.clone() {
                provide_context(secrets);
            }
            provide_context(sign_in_options.clone());
            provide_context(engines.clone());
            provide_viewer();
            security::provide_request_nonce();
        }
    };
    let options = state.leptos_options.clone();

    // Served over https (the public URL says): browsers are told to come
    // back only that way.
    let https = args.public_url().starts_with("https://");
    let trusted_proxies: Arc<[client::ProxyRange]> = args.trusted_proxies.clone().into();
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    let layers = ServiceBuilder::new()
        .layer(SetSensitiveHeadersLayer::new([
            axum::http::header::AUTHORIZATION,
            axum::http::header::COOKIE,
            axum::http::header::SET_COOKIE,
        ]))
        .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
        .layer(TraceLayer::new_for_http().make_span_with(
            |request: &axum::http::Request<axum::body::Body>| {
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %request.method(), uri = %request.uri(), id)
            },
        ))
        .layer(PropagateRequestIdLayer::new(request_id))
        .layer(CompressionLayer::new())
        .layer(RequestBodyLimitLayer::new(args.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(args.request_timeout_secs),
        ));

    Ok(Router::new()
        .route("/healthz", get(health::alive))
        .route("/readyz", get(health::ready))
        .route("/metrics", {
            let board = engine_board(&state);
            get(move || crate::metrics::serve(board.clone()))
        })
        .route("/schema/dscloud.json", get(schema::dscloud))
        .route("/auth/sign-in", {
            let authenticator = authenticator.clone();
            axum::routing::post(move |request| {
                sign_in::sign_in_route(authenticator.clone(), request)
            })
        })
        .route("/auth/sign-out", {
            let authenticator = authenticator.clone();
            axum::routing::post(move |request| {
                sign_in::sign_out_route(authenticator.clone(), request)
            })
        })
        .route("/auth/sso/{provider}/start", {
            let authenticator = authenticator.clone();
            axum::routing::post(
                move |axum::extract::Path(provider): axum::extract::Path<String>, request| {
                    sso::routes::start(authenticator.clone(), provider, request)
                },
            )
        })
        .route("/auth/sso/{provider}/callback", {
            let authenticator = authenticator.clone();
            get(
                move |axum::extract::Path(provider): axum::extract::Path<String>, request| {
                    sso::routes::callback(authenticator.clone(), provider, request)
                },
            )
        })
        .route(app::theme::THEME_PATH, axum::routing::post(theme::switch))
        .route(audit_export::PATH, get(audit_export::export))
        .route(crate::apps::webhooks::PATH, {
            let webhooks = state.webhooks.clone();
            axum::routing::post(
                move |axum::extract::Path(name): axum::extract::Path<String>,
                      headers: axum::http::HeaderMap,
                      body: axum::body::Bytes| async move {
                    match webhooks {
                        Some(webhooks) => webhooks.receive(&name, &headers, body).await,
                        None => axum::response::IntoResponse::into_response(
                            StatusCode::SERVICE_UNAVAILABLE,
                        ),
                    }
                },
            )
        })
        .route(crate::databases::events::PATH, {
            let feed = crate::databases::feed::ChangeFeed::new(Arc::new(
                crate::databases::feed::StoreMarks(state.store.clone()),
            ));
            let live = crate::databases::events::LiveViews::new(
                database_service.clone(),
                feed,
                authenticator.clone(),
            );
            get(
                move |axum::extract::Path(id): axum::extract::Path<String>, request| {
                    crate::databases::events::stream(live.clone(), id, request)
                },
            )
        })
        .route(checker_form::PATH, {
            let context = context.clone();
            let options = state.leptos_options.clone();
            axum::routing::post(move |parts, form| {
                checker_form::check(context.clone(), options.clone(), parts, form)
            })
        })
        .nest(
            &format!("/{}", assets::PKG_DIR),
            assets::routes(
                std::path::Path::new(state.leptos_options.site_root.as_ref()),
                state.leptos_options.hash_files,
            ),
        )
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            shell(options.clone())
        })
        // Every route above, counted by its template; the fallback (files,
        // unknown paths) is not.
        .route_layer(axum::middleware::from_fn(crate::metrics::track))
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
        .layer(axum::middleware::from_fn(
            api_errors::arguments_are_the_callers,
        ))
        .layer(axum::middleware::from_fn(
            crate::auth::guard::require_sign_in,
        ))
        .layer(axum::middleware::from_fn({
            let authenticator = authenticator.clone();
            move |request, next| sign_in::identify(authenticator.clone(), request, next)
        }))
        .layer(axum::middleware::from_fn(csrf::protect))
        .layer(axum::middleware::from_fn(move |request, next| {
            security::headers(form_targets.clone(), https, request, next)
        }))
        .layer(axum::middleware::from_fn(move |request, next| {
            client::resolve_layer(trusted_proxies.clone(), request, next)
        }))
        .layer(layers)
        .with_state(state))
}

/// Whether the request being rendered carries a session.
fn signed_in_request() -> bool {
    use_context::<axum::http::request::Parts>()
        .is_some_and(|parts| parts.extensions.get::<SignedIn>().is_some())
}

/// Makes the signed-in user (found by `sign_in::identify`) known to the
/// page, and the caller to server functions.
fn provide_viewer() {
    let parts = use_context::<axum::http::request::Parts>();
    let signed_in = parts
        .as_ref()
        .and_then(|parts| parts.extensions.get::<SignedIn>().cloned());
    let address = parts
        .as_ref()
        .and_then(|parts| crate::web::address_of(&parts.extensions));
    let mut caller = app::caller::Caller {
        address,
        ..Default::default()
    };
    if let Some(SignedIn { user, session_hash }) = signed_in {
        caller.username = Some(user.username.clone());
        caller.role = Some(user.role);
        caller.session_hash = Some(session_hash);
        caller.user_id = Some(user.id.to_string());
        provide_context(app::viewer::Viewer {
            username: user.username,
            display_name: user.display_name,
            role: user.role,
        });
    }
    provide_context(caller);
}

/// Every engine this replica runs: each region's provisioning, the deploy
/// engine and the git poller, for the admin's home.
fn engine_board(state: &AppState) -> crate::engine::health::Board {
    let provisioning = state.regions.iter().map(|region| region.engine.probe());
    let deploy = state
        .deploys
        .as_ref()
        .and_then(|deploys| deploys.engine_probe());
    let poller = state.apps.as_ref().and_then(|apps| apps.poller_probe());
    crate::engine::health::Board::new(provisioning.chain(deploy).chain(poller).collect())
}
