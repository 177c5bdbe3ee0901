//! The HTML document, the router and the layout every page lives in.

use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::{
    Lazy,
    components::{Route, Router, Routes},
    path,
};

use crate::components::layout::Layout;
use crate::pages::NotFound;
use crate::routes::{
    AccountRoute, AppRoute, AppSecretsRoute, AppsRoute, AuditRoute, DatabaseRoute, DatabasesRoute,
    DeploymentRoute, DeploysRoute, EnvironmentsRoute, HomeRoute, NewAppRoute, NewDatabaseRoute,
    QuotasRoute, ReleaseRoute, SecretsRoute, SignInRoute, UsersRoute, ValidateRoute,
};
use crate::theme::current_theme;

/// The whole HTML document, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let theme = current_theme();
    let loads_wasm = crate::routes::document_loads_wasm();
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme.as_str()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                {crate::viewer::current()
                    .map(|viewer| {
                        view! {
                            <meta name=crate::viewer::META_USERNAME content=viewer.username />
                            <meta name=crate::viewer::META_DISPLAY_NAME content=viewer.display_name />
                            <meta name=crate::viewer::META_ROLE content=viewer.role.as_str() />
                        }
                    })}
                {crate::kubernetes::current()
                    .map(|target| {
                        let (kind, detail) = target.parts();
                        let detail = detail.to_string();
                        view! {
                            <meta name=crate::kubernetes::META_KIND content=kind />
                            <meta name=crate::kubernetes::META_DETAIL content=detail />
                        }
                    })}
                <meta name=crate::kubernetes::META_REGIONS content=crate::kubernetes::regions().join(",") />
                <link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E%3Crect width='32' height='32' rx='7' fill='%232f5bea'/%3E%3Cpath d='M9 10h8a7 7 0 0 1 0 14H9z' fill='white'/%3E%3C/svg%3E" />
                // The stylesheet's name carries its content's hash in a release build.
                <HashedStylesheet options=options.clone() id="leptos" />
                {loads_wasm
                    .then(|| {
                        view! {
                            <AutoReload options=options.clone() />
                            <HydrationScripts options />
                        }
                    })}
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=|page: String| {
            if page.is_empty() { "DSCloud Portal".to_string() } else { format!("{page} · DSCloud Portal") }
        } />
        <Router>
            <Layout>
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route path=path!("/") view={Lazy::<HomeRoute>::new()} />
                    <Route path=path!("/databases") view={Lazy::<DatabasesRoute>::new()} />
                    <Route path=path!("/databases/new") view={Lazy::<NewDatabaseRoute>::new()} />
                    <Route path=path!("/databases/:id") view={Lazy::<DatabaseRoute>::new()} />
                    <Route path=path!("/apps") view={Lazy::<AppsRoute>::new()} />
                    <Route path=path!("/apps/new") view={Lazy::<NewAppRoute>::new()} />
                    <Route path=path!("/apps/validate") view={Lazy::<ValidateRoute>::new()} />
                    <Route path=path!("/apps/:name") view={Lazy::<AppRoute>::new()} />
                    <Route path=path!("/apps/:name/releases/:sha") view={Lazy::<ReleaseRoute>::new()} />
                    <Route path=path!("/apps/:name/secrets") view={Lazy::<AppSecretsRoute>::new()} />
                    <Route path=path!("/sign-in") view={Lazy::<SignInRoute>::new()} />
                    <Route path=path!("/deploys") view={Lazy::<DeploysRoute>::new()} />
                    <Route path=path!("/deploys/:id") view={Lazy::<DeploymentRoute>::new()} />
                    <Route path=path!("/environments") view={Lazy::<EnvironmentsRoute>::new()} />
                    <Route path=path!("/secrets") view={Lazy::<SecretsRoute>::new()} />
                    <Route path=path!("/account") view={Lazy::<AccountRoute>::new()} />
                    <Route path=path!("/admin/users") view={Lazy::<UsersRoute>::new()} />
                    <Route path=path!("/admin/audit") view={Lazy::<AuditRoute>::new()} />
                    <Route path=path!("/admin/quotas") view={Lazy::<QuotasRoute>::new()} />
                </Routes>
            </Layout>
        </Router>
    }
}
