//! Pages load lazily, by group: each group's code is a WASM chunk set of its
//! own, fetched when one of its pages is first shown (`cargo leptos build
//! --split`). The main module keeps the runtime, the router and the layout.
//!
//! Groups, not single pages: the splitter gives every set of split points
//! that share code a chunk of its own, so twenty split points made ~290
//! chunks and a first visit fetched up to 148 files, whose loading cost more
//! time than their bytes saved. Six groups, by who opens them together,
//! keep that to 17–27 files a page. The databases list has a group of its
//! own: it is what customers open most, and without the detail and
//! new-database pages its first load is 378 KB gzip instead of 650 KB.
//!
//! On the server nothing is split: rendering a lazy route there adds a
//! `<link rel="preload">` for its group's chunks, so the browser fetches them
//! alongside the main module instead of after it.

use leptos::lazy;
use leptos::prelude::*;
use leptos_router::LazyRoute;

use crate::pages::{
    AccountPage, AppPage, AppSecretsPage, AppsPage, AuditPage, DatabasePage, DatabasesPage,
    DeploymentPage, DeploysPage, EnvironmentsPage, Home, NewAppPage, NewDatabasePage, NotFound,
    QuotasPage, ReleasePage, SecretsPage, SignIn, UsersPage, ValidatePage,
};

/// Every page of the portal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Home,
    SignIn,
    Account,
    Databases,
    NewDatabase,
    Database,
    Apps,
    NewApp,
    Validate,
    App,
    Release,
    AppSecrets,
    Deploys,
    Deployment,
    Environments,
    Secrets,
    Users,
    Audit,
    Quotas,
}

/// Signing in: the first page most visits load, so it shares no group.
#[lazy]
fn sign_in_page(page: Page) -> AnyView {
    match page {
        Page::SignIn => view! { <SignIn /> }.into_any(),
        _ => view! { <NotFound /> }.into_any(),
    }
}

/// What every signed-in person sees: the overview and their account.
#[lazy]
fn everyones_pages(page: Page) -> AnyView {
    match page {
        Page::Home => view! { <Home /> }.into_any(),
        Page::Account => view! { <AccountPage /> }.into_any(),
        _ => view! { <NotFound /> }.into_any(),
    }
}

/// A customer's list of databases: the page most of their visits open, so
/// it loads without the code of the others.
#[lazy]
fn database_list_page(page: Page) -> AnyView {
    match page {
        Page::Databases => view! { <DatabasesPage /> }.into_any(),
        _ => view! { <NotFound /> }.into_any(),
    }
}

/// One database, and asking for a new one.
#[lazy]
fn database_pages(page: Page) -> AnyView {
    match page {
        Page::NewDatabase => view! { <NewDatabasePage /> }.into_any(),
        Page::Database => view! { <DatabasePage /> }.into_any(),
        _ => view! { <NotFound /> }.into_any(),
    }
}

/// A developer's apps, deploys and secrets.
#[lazy]
fn developer_pages(page: Page) -> AnyView {
    match page {
        Page::Apps => view! { <AppsPage /> }.into_any(),
        Page::NewApp => view! { <NewAppPage /> }.into_any(),
        Page::Validate => view! { <ValidatePage /> }.into_any(),
        Page::App => view! { <AppPage /> }.into_any(),
        Page::Release => view! { <ReleasePage /> }.into_any(),
        Page::AppSecrets => view! { <AppSecretsPage /> }.into_any(),
        Page::Deploys => view! { <DeploysPage /> }.into_any(),
        Page::Deployment => view! { <DeploymentPage /> }.into_any(),
        Page::Environments => view! { <EnvironmentsPage /> }.into_any(),
        Page::Secrets => view! { <SecretsPage /> }.into_any(),
        _ => view! { <NotFound /> }.into_any(),
    }
}

/// An admin's users, audit log and quotas.
#[lazy]
fn admin_pages(page: Page) -> AnyView {
    match page {
        Page::Users => view! { <UsersPage /> }.into_any(),
        Page::Audit => view! { <AuditPage /> }.into_any(),
        Page::Quotas => view! { <QuotasPage /> }.into_any(),
        _ => view! { <NotFound /> }.into_any(),
    }
}

/// One route type a page, loading its group; the page reads its own
/// parameters and data, so the route carries nothing.
macro_rules! lazy_pages {
    ($($route:ident => $page:ident in $group:ident / $preload:ident),* $(,)?) => {$(
        #[derive(Debug)]
        pub struct $route;

        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            async fn view(_route: Self) -> AnyView {
                $group(Page::$page).await
            }

            async fn preload() {
                // Only the browser's build has chunks to fetch.
                #[cfg(target_arch = "wasm32")]
                $preload().await;
            }
        }
    )*};
}

lazy_pages! {
    HomeRoute => Home in everyones_pages / __preload_everyones_pages,
    SignInRoute => SignIn in sign_in_page / __preload_sign_in_page,
    AccountRoute => Account in everyones_pages / __preload_everyones_pages,
    DatabasesRoute => Databases in database_list_page / __preload_database_list_page,
    NewDatabaseRoute => NewDatabase in database_pages / __preload_database_pages,
    DatabaseRoute => Database in database_pages / __preload_database_pages,
    AppsRoute => Apps in developer_pages / __preload_developer_pages,
    NewAppRoute => NewApp in developer_pages / __preload_developer_pages,
    ValidateRoute => Validate in developer_pages / __preload_developer_pages,
    AppRoute => App in developer_pages / __preload_developer_pages,
    ReleaseRoute => Release in developer_pages / __preload_developer_pages,
    AppSecretsRoute => AppSecrets in developer_pages / __preload_developer_pages,
    DeploysRoute => Deploys in developer_pages / __preload_developer_pages,
    DeploymentRoute => Deployment in developer_pages / __preload_developer_pages,
    EnvironmentsRoute => Environments in developer_pages / __preload_developer_pages,
    SecretsRoute => Secrets in developer_pages / __preload_developer_pages,
    UsersRoute => Users in admin_pages / __preload_admin_pages,
    AuditRoute => Audit in admin_pages / __preload_admin_pages,
    QuotasRoute => Quotas in admin_pages / __preload_admin_pages,
}

/// Pages that are whole as server-rendered HTML and plain form posts: they
/// load no JS or WASM at all. Signing in is the first page most visits load,
/// and its forms (password, single sign-on, the theme switch) post to the
/// server either way, so the front end would only cost it time: it is
/// fetched on the page after. Only the server renders documents.
#[cfg(feature = "ssr")]
pub const SERVED_WITHOUT_WASM: &[&str] = &["/sign-in"];

/// Whether the document being rendered loads the front end.
pub fn document_loads_wasm() -> bool {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>()
            .is_none_or(|parts| !SERVED_WITHOUT_WASM.contains(&parts.uri.path()))
    }
    #[cfg(not(feature = "ssr"))]
    {
        true
    }
}
