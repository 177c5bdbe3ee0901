//! Every page is a lazy route: its code is a WASM chunk of its own, fetched
//! when the page is first shown (`cargo leptos build --split`). The main
//! module keeps the runtime, the router and the layout, so a first visit
//! downloads the shell and the one page it lands on, not all twenty.
//!
//! On the server nothing is split: rendering a lazy route there adds a
//! `<link rel="preload">` for its chunk, so the browser fetches the page's
//! code alongside the main module instead of after it.

use leptos::prelude::*;
use leptos_router::{LazyRoute, lazy_route};

use crate::pages::{
    AccountPage, AppPage, AppSecretsPage, AppsPage, AuditPage, DatabasePage, DatabasesPage,
    DeploymentPage, DeploysPage, EnvironmentsPage, Home, NewAppPage, NewDatabasePage, QuotasPage,
    ReleasePage, SecretsPage, SignIn, UsersPage, ValidatePage,
};

/// One route type a page; the page reads its own parameters and data, so the
/// route carries nothing to the chunk.
macro_rules! lazy_pages {
    ($($route:ident => $page:ident),* $(,)?) => {$(
        #[derive(Debug)]
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_route: Self) -> AnyView {
                view! { <$page /> }.into_any()
            }
        }
    )*};
}

lazy_pages! {
    HomeRoute => Home,
    DatabasesRoute => DatabasesPage,
    NewDatabaseRoute => NewDatabasePage,
    DatabaseRoute => DatabasePage,
    AppsRoute => AppsPage,
    NewAppRoute => NewAppPage,
    ValidateRoute => ValidatePage,
    AppRoute => AppPage,
    ReleaseRoute => ReleasePage,
    AppSecretsRoute => AppSecretsPage,
    SignInRoute => SignIn,
    DeploysRoute => DeploysPage,
    DeploymentRoute => DeploymentPage,
    EnvironmentsRoute => EnvironmentsPage,
    SecretsRoute => SecretsPage,
    AccountRoute => AccountPage,
    UsersRoute => UsersPage,
    AuditRoute => AuditPage,
    QuotasRoute => QuotasPage,
}
