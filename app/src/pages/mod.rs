//! One module a page.

mod account;
mod app;
mod apps;
mod audit;
mod coming_soon;
mod database;
mod databases;
mod deployment;
mod deploys;
mod home;
mod new_app;
mod new_database;
mod not_found;
mod release;
mod sign_in;
mod users;
mod validate;

pub use account::AccountPage;
pub use app::AppPage;
pub use apps::AppsPage;
pub use audit::AuditPage;
pub use coming_soon::ComingSoon;
pub use database::DatabasePage;
pub use databases::DatabasesPage;
pub use deployment::DeploymentPage;
pub use deploys::DeploysPage;
pub use home::Home;
pub use new_app::NewAppPage;
pub use new_database::NewDatabasePage;
pub use not_found::NotFound;
pub use release::ReleasePage;
pub use sign_in::SignIn;
pub use users::UsersPage;
pub use validate::ValidatePage;
