//! One module a page.

mod account;
mod audit;
mod coming_soon;
mod home;
mod not_found;
mod sign_in;
mod users;
mod validate;

pub use account::AccountPage;
pub use audit::AuditPage;
pub use coming_soon::ComingSoon;
pub use home::Home;
pub use not_found::NotFound;
pub use sign_in::SignIn;
pub use users::UsersPage;
pub use validate::ValidatePage;
